"""Writing a report into its directory: summary.txt, summary.json, the figures (verdict first) and report.html.
The sweep's own report goes into the experiment directory; a re-analysis's into analyses/<what differs>, so that
it never replaces the sweep's."""

from __future__ import annotations

import json
from pathlib import Path

from metta_ab.analysis.results import ExperimentResults
from metta_ab.atomic_files import write_text_atomic
from metta_ab.report.figure_files import FigureSettings, png_data_uri, pyplot, save_figure
from metta_ab.report.html import REPORT_HTML, report_html
from metta_ab.report.scores_csv import SCORES_CSV, scores_csv
from metta_ab.report.summary import ANALYSES_DIR, SUMMARY_JSON, SUMMARY_TXT, summary_dict, summary_text

#: The resolution of the figures inside report.html (the files' own is FigureSettings.dpi): sharp on a
#: high-density screen at the page's width, small enough that the page stays a few MB.
PAGE_DPI = 110


def report_directory(results: ExperimentResults) -> Path:
    """Where the report goes by default: the experiment directory for the sweep's own, and for a re-analysis
    EXPERIMENT_DIR/analyses/<what differs>, so that it never replaces the sweep's."""
    if results.reanalysis is None:
        return results.experiment_dir
    return results.experiment_dir / ANALYSES_DIR / results.reanalysis.directory_name()


def write_report(
    results: ExperimentResults,
    plots: bool = True,
    directory: Path | None = None,
    figures: FigureSettings | None = None,
) -> str:
    """Write summary.txt, summary.json, scores.csv, the figures (in `figures`' format and dpi; none when not
    `plots`) and report.html into `directory` (default `report_directory`); return the text."""
    out = report_directory(results) if directory is None else directory
    out.mkdir(parents=True, exist_ok=True)
    text = summary_text(results)
    write_text_atomic(out / SUMMARY_TXT, text)
    write_text_atomic(out / SUMMARY_JSON, json.dumps(summary_dict(results), indent=1, allow_nan=False))
    write_text_atomic(out / SCORES_CSV, scores_csv(results))
    images: dict[str, str] = {}
    if plots and results.analysis is not None:
        from metta_ab.report.plots import draw_figures

        plt, settings = pyplot(), figures or FigureSettings()
        for stem, figure in draw_figures(results).items():
            save_figure(figure, out, stem, settings)
            images[stem] = png_data_uri(figure, PAGE_DPI)
            plt.close(figure)
    write_text_atomic(out / REPORT_HTML, report_html(results, out, images))
    return text
