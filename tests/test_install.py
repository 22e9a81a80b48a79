"""Installing metta-ab into a researcher's existing environment changes nothing that was there.

A fresh venv gets the older pins such an environment has (protobuf 3 held down by tensorboardX 2.5,
hydra-core 1.3.2 with omegaconf 2.3.0 and numpy 1.x; or hydra-core 1.3.0 with omegaconf 2.4.0); then the
project is installed from this checkout, as a wheel (`pip install DIR[joblib]`) and editable
(`pip install -e DIR`), and `pip list` before and after must agree on every package that was there (new
ones may be added). If pip had to upgrade or downgrade anything, a requirement in pyproject.toml is tighter
than the code needs. The same environment then shows that Hydra finds the sweeper (the plugin scan that
every Hydra app does), from outside the project, that a real sweep runs there without wandb, and that the
W&B features say which extra to install.

Needs PyPI (pip's cache keeps reruns fast); no other network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # its venvs pin their own Hydra

# What researchers' Python 3.11 environments plausibly hold. tensorboardX 2.5.1 is why protobuf stays at 3.20.1
# there (recent wandb needs protobuf>=5: installing it would break tensorboardX).
RESEARCHER_PINS = {
    # a 2024 environment: numpy 1.x and the scientific stack of its time
    "numpy1": [
        "protobuf==3.20.1",
        "tensorboardX==2.5.1",
        "hydra-core==1.3.2",
        "omegaconf==2.3.0",
        "numpy==1.26.4",
        "scipy==1.13.1",
        "matplotlib==3.8.4",
        "PyYAML==6.0.1",
    ],
    # what `pip install jumanji[train]` leaves: its pin hydra-core==1.3 (1.3.0) lets omegaconf 2.4 in
    "hydra1.3.0": ["hydra-core==1.3.0", "omegaconf==2.4.0", "tensorboardX==2.5.1", "protobuf==3.20.1"],
}

APP = """
import hydra


@hydra.main(version_base=None, config_path=".", config_name="config")
def main(cfg):
    return {"score": float(cfg.lr) * 100 + cfg.seed * 0.01}


if __name__ == "__main__":
    main()
"""

EXPERIMENT = """
from metta_ab import create_experiment

experiment = (
    create_experiment(name="install_check")
    .add_variant(name="low", lr=0.1)
    .add_variant(name="high", lr=0.2)
    .set_runs_per_variant(2)
    .set_metric("score", direction="max")
    .build()
)
"""

DISCOVER = (
    "from hydra.core.plugins import Plugins; from hydra.plugins.sweeper import Sweeper; "
    "print([p.__module__ + '.' + p.__name__ for p in Plugins.instance().discover(Sweeper)])"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", WANDB_MODE="offline", WANDB_SILENT="true", HYDRA_FULL_ERROR="1")
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc


def _ok(args: list[str | Path], cwd: Path, timeout: float = 600) -> str:
    proc = _run(args, cwd, timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _installed(python: Path, cwd: Path) -> dict[str, str]:
    """{normalized name: version} of every distribution in the venv (`pip list`, editable installs included)."""
    listing = json.loads(_ok([python, "-m", "pip", "list", "--format=json"], cwd))
    return {d["name"].lower().replace("_", "-"): d["version"] for d in listing}


def _changed(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    return {
        name: f"{version} -> {after.get(name, 'removed')}"
        for name, version in before.items()
        if after.get(name) != version
    }


@pytest.fixture(scope="module", params=sorted(RESEARCHER_PINS))
def researcher_venv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict[str, str]]:
    """(python, work dir, packages) of a venv holding one set of RESEARCHER_PINS."""
    work = tmp_path_factory.mktemp(f"install_{request.param}")
    venv = work / "venv"
    _ok([sys.executable, "-m", "venv", venv], work)
    python = venv / "bin" / "python"
    _ok([python, "-m", "pip", "install", "--quiet", *RESEARCHER_PINS[request.param]], work)
    return python, work, _installed(python, work)


def test_pip_install_changes_no_installed_package(researcher_venv: tuple[Path, Path, dict[str, str]]) -> None:
    python, work, before = researcher_venv
    _ok([python, "-m", "pip", "install", "--quiet", f"{REPO}[joblib]"], work)  # the README's install
    after = _installed(python, work)
    assert "metta-ab" in after and "hydra-joblib-launcher" in after
    assert _changed(before, after) == {}, "pip install changed packages that were already there"
    assert "wandb" not in after, "wandb is the `wandb` extra, not a requirement"

    _ok([python, "-m", "pip", "install", "--quiet", "-e", REPO], work)
    after_editable = _installed(python, work)
    assert _changed(before, after_editable) == {}, "pip install -e changed packages that were already there"
    # The editable install is seen by Hydra's plugin scan from any directory (a .pth path entry, not an import hook).
    outside = work / "elsewhere"
    outside.mkdir(exist_ok=True)
    assert "ABSweeper" in _ok([python, "-c", DISCOVER], outside)
    assert "ABLocalLauncher" in _ok(
        [python, "-c", DISCOVER.replace("Sweeper", "Launcher").replace("sweeper", "launcher")], outside
    )


@pytest.fixture(scope="module")
def installed(researcher_venv: tuple[Path, Path, dict[str, str]]) -> tuple[Path, Path]:
    """The researcher venv with metta-ab installed as a wheel (what `pip install metta-ab` gives)."""
    python, work, _ = researcher_venv
    _ok([python, "-m", "pip", "install", "--quiet", REPO], work)
    _ok([python, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", REPO], work)  # not editable
    return python, work


def test_hydra_discovers_the_sweeper_outside_the_project(installed: tuple[Path, Path]) -> None:
    python, work = installed
    app_dir = work / "app"
    app_dir.mkdir(exist_ok=True)
    (app_dir / "app.py").write_text(APP)
    (app_dir / "config.yaml").write_text("lr: 0.1\nseed: 0\n")
    listing = _ok([python, "-c", DISCOVER], app_dir)
    assert "hydra_plugins.ab_sweeper.ab_sweeper.ABSweeper" in listing
    cfg = _ok([python, "app.py", "hydra/sweeper=ab", "--cfg", "hydra"], app_dir)
    assert "_target_: hydra_plugins.ab_sweeper" in cfg


def test_nothing_imports_wandb_and_a_sweep_runs_without_it(installed: tuple[Path, Path]) -> None:
    python, work = installed
    probe = textwrap.dedent(
        """
        import sys
        import metta_ab, metta_ab.cli, metta_ab.analysis.results, metta_ab.report.summary
        import metta_ab.sources.wandb_transaction_log, metta_ab.sources.wandb_group
        from hydra.core.plugins import Plugins
        from hydra.plugins.sweeper import Sweeper
        Plugins.instance().discover(Sweeper)
        assert "wandb" not in sys.modules, "wandb imported at import time"
        print("ok")
        """
    )
    assert _ok([python, "-c", probe], work).strip() == "ok"

    app_dir = work / "sweep_app"
    app_dir.mkdir(exist_ok=True)
    (app_dir / "app.py").write_text(APP)
    (app_dir / "config.yaml").write_text("lr: 0.1\nseed: 0\n")
    (app_dir / "exp.py").write_text(EXPERIMENT)
    sweep_dir = app_dir / "results"
    _ok(
        [python, "app.py", "-m", "hydra/sweeper=ab", "ab.experiment=exp.py", f"ab.output_dir={sweep_dir}"],
        app_dir,
        timeout=300,
    )
    summary = json.loads((sweep_dir / "install_check" / "summary.json").read_text())
    assert {name: v["completed"] for name, v in summary["variants"].items()} == {"low": 2, "high": 2}


def test_wandb_features_name_the_extra(installed: tuple[Path, Path], tmp_path: Path) -> None:
    python, work = installed
    proc = _run([python, "-m", "metta_ab", "analyze", "--wandb", "team/project", "--group", "g"], work)
    assert proc.returncode != 0
    assert "pip install 'metta-ab[wandb]'" in proc.stdout + proc.stderr

    # A real offline W&B log, written where wandb is installed (this test's own interpreter, the dev extras) ...
    pytest.importorskip("wandb")
    write = textwrap.dedent(
        f"""
        import wandb
        run = wandb.init(project="p", dir={str(tmp_path)!r}, mode="offline")
        run.log({{"score": 1.0}})
        run.finish()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", write], env=_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    (log,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    # ... is read where wandb is not: a WandbLogError (every metric source turns those into a warning) naming the extra.
    read = textwrap.dedent(
        f"""
        from metta_ab.sources.wandb_transaction_log import WandbLogError, read_wandb_log
        try:
            read_wandb_log({str(log)!r})
        except WandbLogError as error:
            print(error)
        """
    )
    assert "pip install 'metta-ab[wandb]'" in _ok([python, "-c", read], work)
