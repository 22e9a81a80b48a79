"""How figures are written: the file format and resolution (`ab.plot_format`, `ab.plot_dpi`, and `metta-ab
analyze --plot-format/--plot-dpi`), and the same figure as an inline image for report.html.

matplotlib is imported on first use only, with the non-interactive Agg backend, so that reading the settings
(the sweeper does at every start) costs nothing.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metta_ab.definition.errors import ExperimentError

PLOT_FORMATS = ("png", "svg", "pdf")
DEFAULT_PLOT_FORMAT = "png"
DEFAULT_PLOT_DPI = 150
MIN_PLOT_DPI, MAX_PLOT_DPI = 50, 1200  # below 50 text is unreadable; above 1200 a figure is hundreds of MB


@dataclass(frozen=True)
class FigureSettings:
    """The format and resolution of every figure a report writes."""

    format: str = DEFAULT_PLOT_FORMAT
    dpi: int = DEFAULT_PLOT_DPI

    def check(self, format_name: str, dpi_name: str) -> None:
        """ExperimentError naming the setting (`format_name`, `dpi_name`: how the user spelt it) and the fix."""
        if self.format not in PLOT_FORMATS:
            raise ExperimentError(f"{format_name}={self.format}: must be one of {', '.join(PLOT_FORMATS)}")
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, int) or not MIN_PLOT_DPI <= self.dpi <= MAX_PLOT_DPI:
            raise ExperimentError(
                f"{dpi_name}={self.dpi}: must be a whole number from {MIN_PLOT_DPI} to {MAX_PLOT_DPI} (dots per inch; "
                f"default {DEFAULT_PLOT_DPI})"
            )


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, directory: Path, stem: str, settings: FigureSettings) -> Path:
    """`directory/stem.<format>` at the settings' dpi (a vector format keeps its text as text)."""
    import matplotlib

    path = directory / f"{stem}.{settings.format}"
    with matplotlib.rc_context(VECTOR_TEXT):
        figure.savefig(path, format=settings.format, dpi=settings.dpi, metadata=_no_date(settings.format))
    return path


def png_data_uri(figure: Any, dpi: int) -> str:
    """The figure as a `data:image/png;base64,...` URI: an image the page carries in itself."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


#: svg and pdf keep their text as text (searchable, editable on a slide), in fonts the file embeds.
VECTOR_TEXT = {"svg.fonttype": "none", "pdf.fonttype": 42}


def _no_date(file_format: str) -> dict[str, Any]:
    """No creation date in svg/pdf files: the same analysis writes the same bytes."""
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(file_format, {})
