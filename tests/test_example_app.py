"""Tests of the example training app (examples/train.py) run on its own, without the A/B sweeper.

The app is what the sweeper launches over and over, so these tests drive it the way a user does:
through the command line, in a fresh process, checking the exit code, ``metrics.json`` and the W&B
offline files. A couple of cheap in-process tests cover the pure-numpy module and the task function's
return value. Runs use small ``total_timesteps`` to keep the whole file well under a minute.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TRAIN = EXAMPLES / "train.py"
# Small runs: ~0.15 s of training each, evaluations every 10k steps (step 0 included).
SMALL = ["trainer.total_timesteps=40000", "trainer.evaluate_interval=10000"]


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process: W&B offline and silent, its caches kept under tmp_path."""
    env = dict(os.environ)
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_CACHE_DIR=str(tmp_path / "wandb_cache"),
        WANDB_CONFIG_DIR=str(tmp_path / "wandb_config"),
        WANDB_DATA_DIR=str(tmp_path / "wandb_data"),
        HYDRA_FULL_ERROR="1",
    )
    env.update(extra)
    return env


def run_app(tmp_path: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TRAIN), *overrides],
        cwd=tmp_path,
        env=env or app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_ok(tmp_path: Path, name: str, *overrides: str, **kwargs: Any) -> Path:
    """Run the app as job ``name`` in ``tmp_path/name``; assert it succeeded; return its run dir."""
    run_dir = tmp_path / name
    proc = run_app(tmp_path, f"run={name}", f"hydra.run.dir={run_dir}", *overrides, **kwargs)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return run_dir


def load_metrics(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text())


def check_metrics_format(metrics: dict[str, Any]) -> None:
    assert set(metrics) == {"final", "curve"}
    final, curve = metrics["final"], metrics["curve"]
    for key in ("reward", "success_rate", "episode_length"):
        assert isinstance(final[key], float), key
    assert all(isinstance(v, float) for v in final.values())
    assert set(curve) >= {"step", "reward", "success_rate", "episode_length"}
    lengths = {key: len(values) for key, values in curve.items()}
    assert len(set(lengths.values())) == 1, lengths
    steps = curve["step"]
    assert all(isinstance(s, int) for s in steps)
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    for key in ("reward", "success_rate", "episode_length"):
        assert final[key] == curve[key][-1], key
    assert all(0.0 <= s <= 1.0 for s in curve["success_rate"])
    assert all(length > 0 for length in curve["episode_length"])


def multirun_metrics(sweep_dir: Path) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """(overrides as a dict, metrics) for every job of a Hydra multirun."""
    for job_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()):
        lines = (job_dir / ".hydra" / "overrides.yaml").read_text().splitlines()
        overrides = dict(line.removeprefix("- ").split("=", 1) for line in lines if line.startswith("- "))
        yield overrides, load_metrics(job_dir)


@pytest.fixture(scope="module")
def gridworld() -> Iterator[ModuleType]:
    """examples/gridworld.py imported under a private name (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("metta_ab_example_gridworld", EXAMPLES / "gridworld.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def test_run_writes_metrics_and_logs_a_result_line(tmp_path: Path) -> None:
    run_dir = run_ok(tmp_path, "basic", "wandb=off", *SMALL)
    metrics = load_metrics(run_dir)
    check_metrics_format(metrics)
    assert metrics["curve"]["step"] == [0, 10000, 20000, 30000, 40000]
    assert not list(run_dir.glob("*.tmp")), "temporary metrics file left behind"
    log = (run_dir / "train.log").read_text()
    assert "run=basic" in log and "reward=" in log and "success_rate=" in log
    # wandb=off: no W&B files at all.
    assert not any("wandb" in p.name for p in run_dir.rglob("*"))


def test_same_seed_is_identical_and_other_seed_differs(tmp_path: Path) -> None:
    a = load_metrics(run_ok(tmp_path, "a", "wandb=off", "seed=7", *SMALL))
    b = load_metrics(run_ok(tmp_path, "b", "wandb=off", "seed=7", *SMALL))
    c = load_metrics(run_ok(tmp_path, "c", "wandb=off", "seed=8", *SMALL))
    assert a == b
    assert a["curve"]["reward"] != c["curve"]["reward"]


def test_learning_rate_and_curriculum_change_results(tmp_path: Path) -> None:
    """Three seeds per variant, all in one process (Hydra's basic multirun reuses it for every job)."""
    sweep_dir = tmp_path / "sweep"
    proc = run_app(
        tmp_path,
        "-m",
        "hydra/sweeper=basic",
        f"hydra.sweep.dir={sweep_dir}",
        "run=lr",
        "wandb=off",
        *SMALL,
        "trainer.learning_rate=0.1,0.01",
        "seed=1,2,3",
    )
    assert proc.returncode == 0, proc.stderr
    rewards: dict[str, list[float]] = {"0.1": [], "0.01": []}
    for overrides, metrics in multirun_metrics(sweep_dir):
        check_metrics_format(metrics)
        rewards[overrides["trainer.learning_rate"]].append(metrics["final"]["reward"])
    assert [len(v) for v in rewards.values()] == [3, 3]
    # Measured: lr 0.1 about -0.2, lr 0.01 about -0.44 at 40k steps; every seed is on its side.
    assert min(rewards["0.1"]) > max(rewards["0.01"])

    # Metta-style path names pick the curriculum by their last component; the result changes.
    uniform = load_metrics(run_ok(tmp_path, "uniform", "wandb=off", *SMALL))
    hard = load_metrics(
        run_ok(
            tmp_path, "e2h", "wandb=off", "trainer.curriculum=/env/mettagrid/curriculum/navigation/easy_to_hard", *SMALL
        )
    )
    check_metrics_format(hard)
    assert hard["curve"] != uniform["curve"]


def test_wandb_offline_writes_a_run_under_the_run_dir(tmp_path: Path) -> None:
    run_dir = run_ok(tmp_path, "wb_offline", "wandb=offline", "agent=egocentric", *SMALL)
    check_metrics_format(load_metrics(run_dir))
    offline_runs = list(run_dir.glob("wandb/offline-run-*"))
    assert len(offline_runs) == 1, list(run_dir.rglob("*"))
    wandb_files = list(offline_runs[0].glob("run-*.wandb"))
    assert len(wandb_files) == 1 and wandb_files[0].name == "run-wb_offline.wandb"
    assert wandb_files[0].stat().st_size > 0


def test_wandb_off_does_not_import_wandb(tmp_path: Path) -> None:
    run_dir = tmp_path / "no_wandb"
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            str(TRAIN),
            "run=no_wandb",
            f"hydra.run.dir={run_dir}",
            "wandb=off",
            "trainer.total_timesteps=2000",
            "trainer.evaluate_interval=1000",
        ],
        cwd=tmp_path,
        env=app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "numpy" in imported  # the check can see imports at all
    assert not any(name == "wandb" or name.startswith("wandb.") for name in imported)
    assert (run_dir / "metrics.json").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.curriculum=navigation/no_such_curriculum"], "unknown curriculum"),
        (["agent.type=no_such_agent"], "unknown agent type"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(tmp_path: Path, overrides: Sequence[str], message: str) -> None:
    proc = run_app(tmp_path, "run=bad", f"hydra.run.dir={tmp_path / 'bad'}", "wandb=off", *overrides)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_run_name_is_mandatory(tmp_path: Path) -> None:
    proc = run_app(tmp_path, f"hydra.run.dir={tmp_path / 'anon'}", "wandb=off")
    assert proc.returncode != 0
    assert "run" in proc.stderr and "Missing mandatory value" in proc.stderr


# --------------------------------------------------------------------------------------------------
# In process
# --------------------------------------------------------------------------------------------------


def test_task_function_returns_final_metrics_and_is_repeatable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Called twice in one process (as a reused worker would), the task function gives the same floats."""
    from hydra import compose, initialize_config_dir
    from hydra.version import VersionBase

    # initialize_config_dir(version_base=None) sets the process-wide version base, which later in-process
    # Hydra tests (tests/test_hydra_suites.py, written for the 1.1 defaults) would inherit: put it back after.
    monkeypatch.setattr(VersionBase.instance(), "version_base", VersionBase.instance().getbase())
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("metta_ab_example_train", TRAIN)
    assert spec is not None and spec.loader is not None
    train_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_module)
    monkeypatch.delitem(sys.modules, "gridworld", raising=False)  # imported by train.py; drop it after

    results = []
    for attempt in range(2):
        run_dir = tmp_path / f"job{attempt}"
        with initialize_config_dir(config_dir=str(EXAMPLES / "conf"), version_base=None):
            cfg = compose("train_job", overrides=["run=inproc", f"run_dir={run_dir}", "wandb=off", *SMALL])
        final = train_module.run_training(cfg)
        assert set(final) >= {"reward", "success_rate", "episode_length"}
        assert all(type(v) is float for v in final.values())
        assert load_metrics(run_dir)["final"] == final
        results.append(final)
    assert results[0] == results[1]


def test_maps_are_solvable_and_eval_set_is_fixed(gridworld: ModuleType) -> None:
    env = gridworld.GridWorld()
    for task in range(env.num_tasks):
        dist = env.shortest_path_lengths(task)
        free = ~env.walls[task]
        assert (dist[free] >= 0).all(), f"{env.names[task]} has cells that cannot reach the goal"
        assert dist.max() < env.max_steps[task]
    again = gridworld.GridWorld()
    assert (again.eval_starts == env.eval_starts).all()
    assert not (env.eval_starts == env.goals[env.eval_tasks]).any()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("uniform", "uniform"),
        ("navigation/learning_progress", "learning_progress"),
        ("/env/mettagrid/curriculum/navigation/learning_progress", "learning_progress"),
        ("env/mettagrid/curriculum/navigation/easy_to_hard.yaml", "easy_to_hard"),
    ],
)
def test_curriculum_names(gridworld: ModuleType, name: str, kind: str) -> None:
    assert gridworld.curriculum_kind(name) == kind


def test_learning_progress_prefers_tasks_being_learned(gridworld: ModuleType) -> None:
    curriculum = gridworld.LearningProgressCurriculum(3, explore=0.1)
    for _ in range(30):
        curriculum.update(1, True)  # task 1 just started succeeding
        curriculum.update(0, False)  # task 0 never does
    p = curriculum.probabilities()
    assert p.sum() == pytest.approx(1.0)
    assert p[1] > 0.8 and p[0] == pytest.approx(0.1 / 3)
