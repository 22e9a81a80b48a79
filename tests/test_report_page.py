"""verdict.png and report.html through the real command line: the sweep writes them (in the format and dpi the
settings ask for), a re-analysis writes its own beside the sweep's and never touches them, a suite and a
sequential design get their panels, bad settings stop the sweep before any launch; and the page, opened in a
real headless chromium at 1280x800, shows the verdict without scrolling, with every image inline and every
link to a run's files resolving."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image
from sweeper_cli import (
    APPS,
    EXAMPLE_APP,
    METTA_LIKE,
    PYTHON,
    job_dirs,
    run_command,
    run_sweep,
    unavailable,
    write_experiment,
)

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

DESCRIPTION = 'Does <b>lr</b> & "warm-up" help? <script>alert(1)</script>'
EXPERIMENT = f"""
experiment = (
    create_experiment("page", {DESCRIPTION!r})
    .add_variant(name="slow", trainer__learning_rate=0.01)
    .add_variant(name="fast", trainer__learning_rate=0.1)
    .set_runs_per_variant(3)
    .set_base_config(trainer__total_timesteps=40000, trainer__evaluate_interval=5000)
    .set_metric("reward", direction="max", last_k=3, min_effect=0.05)
    .build()
)
"""
FIGURES = ("verdict", "learning_curves", "scores", "differences")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app's sweep of a small experiment, figures on (the default png at the default dpi)."""
    cwd = tmp_path_factory.mktemp("page")
    write_experiment(cwd / "page.py", EXPERIMENT)
    args = ("ab.experiment=page.py", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "wandb=off")
    result = run_sweep(EXAMPLE_APP, *args, cwd=cwd, plots=True)
    assert result.returncode == 0, result.output
    return result.experiment_dir("page")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def verdict_sentences(directory: Path) -> list[str]:
    """summary.txt's verdict, one sentence per line under "Verdict:"."""
    text = (directory / "summary.txt").read_text()
    block = text.split("\nVerdict:\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_the_sweep_writes_the_verdict_figure_and_a_self_contained_page(sweep: Path):
    for stem in FIGURES:
        width, height = png_size(sweep / f"{stem}.png")
        assert width >= 600 and height >= 300, stem
    width, _ = png_size(sweep / "verdict.png")
    assert width == 15 * 150  # three panels of 5 inches, at ab.plot_dpi's default 150
    page = (sweep / "report.html").read_text()
    # the verdict first (before any figure), in summary.txt's words, escaped as HTML
    verdict = page.index('id="verdict"')
    assert verdict < page.index("<img")
    for sentence in verdict_sentences(sweep):
        assert html.escape(sentence) in page[verdict : page.index("<h2>Figures")]
    # the user's text is escaped: their markup is shown, never run
    assert html.escape(DESCRIPTION) in page and "<script>" not in page and "<b>lr" not in page
    # every figure inline, none fetched from anywhere
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == len(FIGURES) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page
    # every run with its status, seed and score as summary.json has them, and relative links to its files
    summary = json.loads((sweep / "summary.json").read_text())
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    for run in summary["runs"]:
        value = summary["variants"][run["variant"]]["values"][run["run_index"] - 1]
        row = next(r for r in rows if f'href="{run["job_dir"]}"' in r)
        assert f"<td>{run['seed']}</td><td>{run['status']}</td>" in row
        assert f"{value:.4g}" in row
    links = re.findall(r'<a href="([^"]+)"', page)
    assert len(links) == 2 * len(summary["runs"])  # the job directory and its log
    assert all(not Path(link).is_absolute() and (sweep / link).exists() for link in links)
    assert sum(link.endswith(".log") for link in links) == len(summary["runs"])


def test_a_reanalysis_writes_its_own_figure_and_page_and_leaves_the_sweeps(sweep: Path, tmp_path: Path):
    before = {path.name: path.read_bytes() for path in sweep.iterdir() if path.is_file()}
    args = ["analyze", str(sweep), "--metric", "success_rate", "--direction", "max", "--plot-format", "pdf"]
    result = run_command([PYTHON, "-m", "metta_ab"], *args, "--plot-dpi", "80", cwd=tmp_path)
    assert result.returncode == 0, result.output
    out = sweep / "analyses" / "metric=success_rate"
    assert (out / "verdict.pdf").read_bytes()[:5] == b"%PDF-" and not (out / "verdict.png").exists()
    page = (out / "report.html").read_text()
    assert "exploratory: the experiment declared reward (max); this analysis uses success_rate (max)" in page
    for sentence in verdict_sentences(out):
        assert html.escape(sentence) in page
    assert all((out / link).exists() for link in re.findall(r'<a href="([^"]+)"', page))  # ../../<job dir>
    assert {path.name: path.read_bytes() for path in sweep.iterdir() if path.is_file()} == before


def test_the_page_in_a_real_browser(sweep: Path, tmp_path: Path):
    """chromium, headless, 1280x800: the verdict is on screen without scrolling, every image loaded from the page
    itself, and every link opens a file that exists."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        unavailable("no headless browser", "METTA_AB_REQUIRE_BROWSER", "install it with `bash scripts/browser.sh`")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get((sweep / "report.html").as_uri())
        height = browser.execute_script("return window.innerHeight")
        assert browser.execute_script("return window.innerWidth") == 1280 and height <= 800
        box = browser.execute_script("return document.getElementById('verdict').getBoundingClientRect().toJSON()")
        assert box["top"] >= 0 and box["bottom"] <= height, box  # the verdict, whole, before any scrolling
        images = browser.execute_script(
            "return Array.from(document.images, i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])"
        )
        assert len(images) == len(FIGURES)
        assert all(done and width > 0 and src == "data:image/png;base64," for done, width, src in images)
        fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert [name for name in fetched if not name.startswith("data:")] == []
        targets = browser.execute_script("return Array.from(document.links, a => a.href)")
        assert targets and all(Path(unquote(urlparse(t).path)).exists() for t in targets)
        screenshot = tmp_path / "report.png"
        assert browser.save_screenshot(str(screenshot))
        with Image.open(screenshot) as shot:
            assert shot.size == (1280, height)
            darkest, lightest = shot.convert("L").getextrema()
        assert darkest < 80 and lightest > 200  # text on a light page, not a blank screen
    finally:
        browser.quit()


def test_a_sequential_design_adds_its_looks_to_the_verdict_figure(tmp_path: Path):
    """As svg (ab.plot_format=svg keeps text as text): the looks panel, its boundary and the deciding look."""
    rng = np.random.default_rng(3)
    a, b = (np.round(rng.normal(mean, 1, 15), 4).tolist() for mean in (1.0, 2.2))
    write_experiment(
        tmp_path / "seq.py",
        f"""
experiment = (
    create_experiment("seq", "sequential")
    .add_variant(name="A", known_scores={a})
    .add_variant(name="B", known_scores={b})
    .set_sequential(max_runs_per_variant=15, runs_per_look=5)
    .set_metric("score", direction="max")
    .build()
)
""",
    )
    result = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "ab.plot_format=svg", cwd=tmp_path, plots=True)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq")
    assert not list(exp_dir.glob("*.png"))
    svg = (exp_dir / "verdict.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    decision = json.loads((exp_dir / "summary.json").read_text())["sequential"]["looks"][-1]
    for text in ("Sequential looks", "boundary (reject if p below)", "look (runs per variant)", "Every run"):
        assert html.escape(text) in svg, text
    assert decision["comparisons"][0]["decision"] in svg  # the deciding look's decision, marked
    assert html.escape(verdict_sentences(exp_dir)[0][:40]) in svg  # the caption
    page = (exp_dir / "report.html").read_text()
    assert "<h2>Sequential looks</h2>" in page and 'src="data:image/png;base64,' in page


def test_a_suite_shows_aggregates_and_profiles_side_by_side(tmp_path: Path):
    write_experiment(
        tmp_path / "suite.py",
        """
experiment = (
    create_experiment("suite_one", "every run evaluates every task")
    .add_variant(name="base", policy__skill=0.0)
    .add_variant(name="better", policy__skill=0.5)
    .set_runs_per_variant(4)
    .set_metric("eval/{task}/reward", direction="max")
    .build()
)
""",
    )
    app = APPS / "suite" / "app.py"
    result = run_sweep(app, "ab.experiment=suite.py", "noise=0.05", "ab.plot_format=svg", cwd=tmp_path, plots=True)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("suite_one")
    svg = (exp_dir / "verdict.svg").read_text()
    for text in ("Aggregates over tasks x runs", "IQM", "Median", "Performance profiles", "Difference from"):
        assert text in svg, text
    assert "Learning curves" not in svg  # the tasks' scales would mix
    for stem in ("aggregates", "performance_profiles", "task_scores"):
        assert (exp_dir / f"{stem}.svg").is_file()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("ab.plot_format=jpg", "ab.plot_format=jpg: must be one of png, svg, pdf"),
        ("ab.plot_dpi=10", "ab.plot_dpi=10: must be a whole number from 50 to 1200"),
    ],
)
def test_a_bad_figure_setting_stops_the_sweep_before_any_launch(tmp_path: Path, setting: str, message: str):
    write_experiment(tmp_path / "page.py", EXPERIMENT)
    result = run_sweep(EXAMPLE_APP, "ab.experiment=page.py", setting, cwd=tmp_path)
    assert result.returncode != 0 and message in result.errors
    assert job_dirs(result.experiment_dir("page")) == []


def test_analyze_refuses_a_bad_figure_setting(sweep: Path, tmp_path: Path):
    result = run_command([PYTHON, "-m", "metta_ab"], "analyze", str(sweep), "--plot-dpi", "5", cwd=tmp_path)
    assert result.returncode != 0 and "--plot-dpi=5: must be a whole number from 50 to 1200" in result.stderr
    assert not (sweep / "analyses" / "declared").exists()
