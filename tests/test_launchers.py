"""The same A/B experiment, unchanged, on every launcher: joblib, submitit_local, SLURM and Ray.

Every test drives the real command line (`run_sweep`) and asserts on what a user sees: the exit code,
the messages, and the files in the experiment directory (each job's `ab_status.json`, `ledger.json`,
`summary.json`/`summary.txt`, the job's log and its offline W&B run).

- The example RL app (2 variants x 2 runs, 20k steps, W&B offline) runs on each launcher; its summary must
  equal the one the basic launcher writes for the same experiment (training is seeded, so only the
  durations, the date and the directory may differ).
- Failures use the tiny test app (`fail_mode`/`fail_kind`); timing-sensitive cases use `timed_app.py`, a
  small app written below whose runs sleep `sleep_s` seconds and log one line per execution.
- SLURM tests need a reachable cluster (`eval "$(bash scripts/cluster.sh start)"`), Ray tests the `ray`
  extra. They skip with the reason otherwise; `METTA_AB_REQUIRE_SLURM=1` / `METTA_AB_REQUIRE_RAY=1` turn
  the skip into a failure, so CI that set them up cannot pass by skipping.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sweeper_cli import (
    EXAMPLE_APP,
    METTA_LIKE,
    SweepResult,
    job_dirs,
    run_sweep,
    status,
    unavailable,
    write_experiment,
)

from metta_ab.sources.wandb_transaction_log import find_wandb_logs, read_wandb_log

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

# --- the experiments -------------------------------------------------------------------------------

EXAMPLE_EXPERIMENT = """
experiment = (
    create_experiment("launchers", "the same small A/B test on every launcher")
    .add_variant(name="control", description="baseline learning rate", trainer__learning_rate=0.05)
    .add_variant(name="treatment", description="higher learning rate", trainer__learning_rate=0.1, tags=["hot"])
    .set_runs_per_variant(2)
    .set_base_config(trainer__total_timesteps=20000, trainer__evaluate_interval=5000)
    .set_wandb_config(project="ab-launchers", entity="ab-team", tags=["scale-out"])
    .set_metric("reward")
    .build()
)
"""
# What each job's W&B run must carry: variant -> (notes, the variant's own tags).
EXAMPLE_WANDB = {"control": ("baseline learning rate", []), "treatment": ("higher learning rate", ["hot"])}

TINY_EXPERIMENT = """
experiment = (
    create_experiment("tiny", "two learning rates on the tiny app")
    .add_variant(name="low", description="low lr", trainer__learning_rate=0.001, run="lowlr")
    .add_variant(name="high", description="high lr", trainer__learning_rate=0.01)
    .set_runs_per_variant(2)
    .set_metric("score")
    .build()
)
"""

TIMED_EXPERIMENT = """
experiment = (
    create_experiment("timed", "runs that take a while")
    .add_variant(name="a", description="arm a", lr=0.1, sleep_s={quick})
    .add_variant(name="b", description="arm b", lr=0.2, sleep_s={slow})
    .set_runs_per_variant(2)
    .set_metric("score")
    .build()
)
"""

TIMED_APP = '''"""Runs sleep `sleep_s` s; those in `fail_runs` fail once (`fail_kind`: once: raise, exit: os._exit)."""

import logging
import os
import time
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig

log = logging.getLogger(__name__)
ConfigStore.instance().store(
    name="timed",
    node={
        "run": "???",
        "seed": 0,
        "lr": 0.1,
        "sleep_s": 1.0,
        "fail_runs": [],
        "fail_kind": "once",
        "wandb": {"project": None, "entity": None, "group": None, "tags": [], "notes": None},
    },
)


@hydra.main(config_path=None, config_name="timed", version_base=None)
def main(cfg):
    log.info("execution of run %s in process %d", cfg.run, os.getpid())
    time.sleep(float(cfg.sleep_s))
    marker = Path(HydraConfig.get().runtime.output_dir).parent / f".failed_{cfg.run}"
    if cfg.run in cfg.fail_runs and not marker.exists():
        marker.touch()
        if cfg.fail_kind == "exit":
            os._exit(3)
        raise RuntimeError(f"deliberate failure of {cfg.run}")
    return {"score": float(cfg.lr) + int(cfg.seed) * 0.01}


if __name__ == "__main__":
    main()
'''

# --- launchers ---------------------------------------------------------------------------------------

JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
SUBMITIT_LOCAL = ("hydra/launcher=submitit_local",)
AB_LOCAL = ("hydra/launcher=ab_local", "hydra.launcher.n_jobs=2")
RAY = (
    "hydra/launcher=ray",
    "+hydra.launcher.ray.init.num_cpus=2",
    "+hydra.launcher.ray.init.include_dashboard=false",  # no dashboard process/port: ~1 s faster
)


class KnownBug(AssertionError):
    """The assertion that shows a known bug fails: `known_bug(...)` xfails on it and on nothing else."""


def known_bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=KnownBug, reason=reason)


def check_bug(condition: bool, message: str) -> None:
    """Assert what is right; when it is wrong, say so with KnownBug (a test without the xfail still fails)."""
    if not condition:
        raise KnownBug(message)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=30)


def _slurm_problem() -> str | None:
    """Why no SLURM cluster can run the tests, or None when one can."""
    if not os.environ.get("SLURM_CONF"):
        return "SLURM_CONF is unset"
    for tool in ("sinfo", "sbatch", "sacct", "squeue"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    try:
        states = _run(["sinfo", "-h", "-o", "%T"])
    except subprocess.TimeoutExpired:
        return "`sinfo` timed out"
    if states.returncode != 0:
        return f"`sinfo` failed: {states.stderr.strip()}"
    if not {"idle", "mixed", "allocated", "completing"} & set(states.stdout.split()):
        return f"no usable node (`sinfo` says: {' '.join(states.stdout.split()) or 'nothing'})"
    # Accounting: without `sacct`, submitit never notices a job that died hard and the sweep hangs.
    accounting = _run(["sacct", "-n", "-X", "-o", "JobID", "-S", "now"])
    if accounting.returncode != 0:
        return f"SLURM accounting is off (`sacct` failed: {accounting.stderr.strip()})"
    return None


@pytest.fixture(scope="session")
def slurm_partition() -> str:
    problem = _slurm_problem()
    if problem:
        unavailable(
            "no SLURM cluster reachable",
            "METTA_AB_REQUIRE_SLURM",
            f'{problem}; start one with `eval "$(bash scripts/cluster.sh start)"`',
        )
    wanted = os.environ.get("METTA_AB_SLURM_PARTITION")
    if wanted:
        return wanted
    partitions = _run(["sinfo", "-h", "-o", "%P"]).stdout.split()
    default = [p for p in partitions if p.endswith("*")]
    return (default or partitions)[0].rstrip("*")


@pytest.fixture(scope="session")
def ray_ready() -> None:
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None:
        unavailable(
            "Ray launcher not installed",
            "METTA_AB_REQUIRE_RAY",
            "install the extra: pip install -e '.[dev,ray]' (hydra-ray-launcher, ray, cloudpickle<3)",
        )


@pytest.fixture
def slurm_job_name() -> Iterable[str]:
    """A job name unique to the test, so its jobs can be found in sacct and cancelled if it is interrupted."""
    name = f"ab-test-{uuid.uuid4().hex[:8]}"
    yield name
    if shutil.which("scancel"):
        subprocess.run(["scancel", "--name", name], capture_output=True, timeout=30)


@pytest.fixture
def launcher(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The overrides that select the launcher named by the test's parameter."""
    name = request.param
    if name == "joblib":
        return JOBLIB
    if name == "submitit_local":
        return SUBMITIT_LOCAL
    if name == "ab_local":
        return AB_LOCAL
    if name == "ray":
        request.getfixturevalue("ray_ready")
        return RAY
    assert name == "submitit_slurm", name
    partition = request.getfixturevalue("slurm_partition")
    job_name = request.getfixturevalue("slurm_job_name")
    return (
        "hydra/launcher=submitit_slurm",
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.timeout_min=5",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1",
        f"hydra.launcher.name={job_name}",
    )


def launchers(*names: str, xfail: dict[str, str] | None = None) -> pytest.MarkDecorator:
    """Parametrize `launcher` by name; SLURM and Ray get their markers, `xfail` maps a name to a known bug."""
    marks = {"submitit_slurm": [pytest.mark.slurm], "ray": [pytest.mark.ray]}
    params = [
        pytest.param(
            name,
            id=name,
            marks=[
                *marks.get(name, []),
                *([known_bug(xfail[name])] if name in (xfail or {}) else []),
            ],
        )
        for name in names
    ]
    return pytest.mark.parametrize("launcher", params, indirect=True)


# --- what the tests read back ------------------------------------------------------------------------


def example_env(tmp_path: Path) -> dict[str, str]:
    """W&B offline with its caches in tmp_path; no Ray usage-stats calls."""
    return {
        "WANDB_CACHE_DIR": str(tmp_path / "wandb_cache"),
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb_config"),
        "RAY_USAGE_STATS_ENABLED": "0",
    }


def run_example(tmp_path: Path, *overrides: str) -> SweepResult:
    write_experiment(tmp_path / "ab_launchers.py", EXAMPLE_EXPERIMENT)
    return run_sweep(EXAMPLE_APP, "ab.experiment=ab_launchers.py", *overrides, cwd=tmp_path, env=example_env(tmp_path))


def ok(result: SweepResult) -> SweepResult:
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.output[-6000:]}"
    return result


def ledger(exp_dir: Path) -> dict[str, dict[str, Any]]:
    return {r["job_dir"]: r for r in json.loads((exp_dir / "ledger.json").read_text())["runs"]}


def final_records(exp_dir: Path) -> dict[str, dict[str, Any]]:
    return {d: status(exp_dir / d) for d in job_dirs(exp_dir)}


def max_concurrency(records: Iterable[dict[str, Any]], until: float | None = None) -> int:
    """The most jobs that were running at the same moment, from their own start/finish times.

    A record without a finish time (its process died) counts as running `until` then."""
    events = []
    for record in records:
        events += [(record["started_at"], 1), (record.get("finished_at") or until, -1)]
    running = most = 0
    for _, change in sorted(events):  # at equal times a finish (-1) sorts before a start
        running += change
        most = max(most, running)
    return most


def executions(job_dir: Path, run_name: str) -> int:
    """How many times the timed app ran `run_name`: one log line per execution, in this or earlier attempts."""
    line = f"execution of run {run_name} in process"
    return sum(log.read_text().count(line) for log in job_dir.rglob("timed_app.log"))


def assert_wandb_runs_match_plan(exp_dir: Path) -> None:
    """Each job's offline W&B run carries the project, entity, group, name, tags and notes of the plan."""
    plan = json.loads((exp_dir / "plan.json").read_text())
    assert sorted(r["job_dir"] for r in plan) == job_dirs(exp_dir) and len(plan) == 4
    for run in plan:
        logs = find_wandb_logs(exp_dir / run["job_dir"])
        assert logs, f"no offline W&B run under {exp_dir / run['job_dir']}"
        wandb_run = read_wandb_log(logs[-1])
        notes, own_tags = EXAMPLE_WANDB[run["variant"]]
        assert wandb_run.complete and wandb_run.exit_code == 0, run["job_dir"]
        assert (wandb_run.project, wandb_run.entity, wandb_run.group) == ("ab-launchers", "ab-team", "launchers")
        assert wandb_run.name == run["run_name"] == f"{run['variant']}_run_{run['run_index']}"
        assert list(wandb_run.tags) == [f"variant:{run['variant']}", "scale-out", *own_tags]
        assert wandb_run.notes == notes
        assert wandb_run.config["seed"] == run["seed"] == run["run_index"]


_TIMING_KEYS = {"duration", "median_duration", "time"}  # time: when each analysis (summary.json looks) ran


def comparable_summary(exp_dir: Path) -> tuple[Any, list[str]]:
    """summary.json and summary.txt without what legitimately differs between two sweeps of one experiment:
    durations, the date and the experiment directory."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in _TIMING_KEYS}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    text = (exp_dir / "summary.txt").read_text().replace(str(exp_dir), "<experiment dir>")
    # the duration column is right-aligned: a run of 10 s or more (a loaded machine) shifts the padding too
    lines = [re.sub(r"\s+\d+(\.\d+)?s$", " <duration>", line.rstrip()) for line in text.splitlines()]
    lines = [line for line in lines if not line.startswith("Date:")]
    return strip(json.loads((exp_dir / "summary.json").read_text())), lines


@pytest.fixture(scope="session")
def reference_summary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    """The example experiment on Hydra's basic launcher (one process): what every other launcher must match."""
    tmp_path = tmp_path_factory.mktemp("basic_launcher")
    exp_dir = ok(run_example(tmp_path)).experiment_dir("launchers")
    return comparable_summary(exp_dir)


# --- every launcher: the example experiment --------------------------------------------------------


@launchers("joblib", "submitit_local", "ab_local", "submitit_slurm", "ray")
def test_example_experiment_runs_unchanged(tmp_path, launcher, reference_summary):
    result = ok(run_example(tmp_path, *launcher))
    exp_dir = result.experiment_dir("launchers")
    records = final_records(exp_dir)
    assert sorted(records) == ["control_run_1", "control_run_2", "treatment_run_1", "treatment_run_2"]
    assert all(r["status"] == "completed" and r["attempt"] == 1 for r in records.values()), records
    assert_wandb_runs_match_plan(exp_dir)
    assert comparable_summary(exp_dir) == reference_summary

    name = launcher[0].split("=")[1]
    if name in ("joblib", "ab_local"):  # one launch of all 4 runs, n_jobs=2: never more than two at a time (overlap
        # is the machine's to give: a loaded one may run these short runs one after another)
        assert re.search(r"is launching 4 job", result.output) and max_concurrency(records.values()) <= 2
    elif name == "submitit_local":  # every job of a launch starts at once
        assert max_concurrency(records.values()) >= 2
    elif name == "submitit_slurm":
        job_ids = [r["slurm_job_id"] for r in records.values()]
        assert all(job_ids) and len(set(job_ids)) == 4, job_ids
        assert slurm_states(job_ids) == ["COMPLETED"] * 4


def slurm_states(job_ids: Sequence[str]) -> list[str]:
    """The accounting state of each SLURM job (by its SLURM_JOB_ID)."""
    states = []
    for job_id in job_ids:
        out = _run(["sacct", "-n", "-X", "-P", "-j", str(job_id), "-o", "State"]).stdout.split()
        states.append(out[0] if out else "<not in sacct>")
    return states


# --- joblib: parallel rounds ---------------------------------------------------------------------


@pytest.mark.parametrize("fail_kind", ["once", "exit"])
def test_joblib_retry_round_stays_parallel(tmp_path, fail_kind):
    """Runs of ~3 s (long enough to overlap on a loaded machine); the failed ones are relaunched together and
    overlap again, also after a worker died."""
    (tmp_path / "timed_app.py").write_text(TIMED_APP)
    write_experiment(tmp_path / "timed.py", TIMED_EXPERIMENT.format(quick=3.0, slow=3.0))
    failing = "[a_run_1,b_run_1]" if fail_kind == "once" else "[a_run_1]"
    result = ok(
        run_sweep(
            tmp_path / "timed_app.py",
            "ab.experiment=timed.py",
            *JOBLIB,
            f"fail_runs={failing}",
            f"fail_kind={fail_kind}",
            cwd=tmp_path,
        )
    )
    exp_dir = result.experiment_dir("timed")
    records = final_records(exp_dir)
    assert all(r["status"] == "completed" for r in records.values()), records
    assert records["a_run_1"]["attempt"] == 2
    relaunched_at = log_time(result.output, "[ab] relaunching")
    first_round = [r for r in all_records(exp_dir) if r["started_at"] < relaunched_at]
    retry_round = [r for r in records.values() if r["started_at"] > relaunched_at]
    assert max_concurrency(first_round, until=relaunched_at) == 2, first_round
    if fail_kind == "once":
        assert "TerminatedWorkerError" not in result.output
        assert len(first_round) == 4 and len(retry_round) == 2
        assert records["b_run_1"]["attempt"] == 2
    else:  # the pool died with the worker; what it was running or had not started yet is relaunched
        assert "TerminatedWorkerError" in result.output
        assert len(retry_round) >= 2
    assert max_concurrency(retry_round) == 2, retry_round


def all_records(exp_dir: Path) -> list[dict[str, Any]]:
    """Every attempt's status record: the final ones and those moved aside into attempts/<k>/."""
    return [json.loads(p.read_text()) for p in sorted(exp_dir.glob("*/ab_status.json"))] + [
        json.loads(p.read_text()) for p in sorted(exp_dir.glob("*/attempts/*/ab_status.json"))
    ]


def log_time(output: str, message: str) -> float:
    """When Hydra logged `message` (its `[YYYY-mm-dd HH:MM:SS,mmm][...]` prefix), as a Unix time."""
    match = re.search(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[[^]]*\] " + re.escape(message), output, re.M)
    assert match, f"{message!r} not logged:\n{output[-3000:]}"
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


# --- submitit_local, SLURM, Ray: failures -------------------------------------------------------------


def run_tiny(tmp_path: Path, launcher: Sequence[str], *overrides: str) -> SweepResult:
    write_experiment(tmp_path / "tiny.py", TINY_EXPERIMENT)
    return run_sweep(METTA_LIKE, "ab.experiment=tiny.py", *launcher, *overrides, cwd=tmp_path)


@launchers("submitit_local", "ab_local", "submitit_slurm", "ray")
def test_a_raising_run_is_recorded_and_retried(tmp_path, launcher):
    """submitit reports a job whose exception Hydra caught as completed: the status records must not."""
    result = ok(run_tiny(tmp_path, launcher, "fail_mode=lowlr_run_2", "fail_kind=once"))
    exp_dir = result.experiment_dir("tiny")
    records = final_records(exp_dir)
    assert {d: (r["status"], r["attempt"]) for d, r in records.items()} == {
        "low_run_1": ("completed", 1),
        "low_run_2": ("completed", 2),
        "high_run_1": ("completed", 1),
        "high_run_2": ("completed", 1),
    }
    first = exp_dir / "low_run_2" / "attempts" / "1"
    failed = status(first)
    assert failed["status"] == "failed" and failed["attempt"] == 1
    assert failed["error"] == "RuntimeError: deliberate first-attempt failure of lowlr_run_2"
    assert "deliberate first-attempt failure" in (first / "app.log").read_text()
    assert [d for d in records if (exp_dir / d / "attempts").exists()] == ["low_run_2"]
    assert ledger(exp_dir)["low_run_2"]["errors"] == [
        "attempt 1: RuntimeError: deliberate first-attempt failure of lowlr_run_2"
    ]
    if launcher[0].endswith("ab_local"):  # retries stream into the next free slot, no second round
        assert "[ab] low_run_2 failed (attempt 1); retried in the next free slot" in result.output
        assert "relaunching" not in result.output
    else:
        assert "relaunching 1 run(s)" in result.output
    if launcher[0].endswith("submitit_slurm"):
        retried = records["low_run_2"]["slurm_job_id"]
        assert failed["slurm_job_id"] and retried and failed["slurm_job_id"] != retried
        assert slurm_states([failed["slurm_job_id"], retried]) == ["COMPLETED", "COMPLETED"]  # SLURM can't tell


@launchers(
    "submitit_local",
    "ab_local",
    "submitit_slurm",
    "ray",
)
def test_a_hard_crash_is_recorded_and_retried(tmp_path, launcher):
    """`os._exit` in a job: the launcher raises (submitit after ~15 s, SLURM via sacct), the run is retried."""
    result = ok(run_tiny(tmp_path, launcher, "fail_mode=lowlr_run_2", "fail_kind=exit"))
    exp_dir = result.experiment_dir("tiny")
    records = final_records(exp_dir)
    assert all(r["status"] == "completed" for r in records.values()), records
    check_bug(
        records["low_run_2"]["attempt"] == 2 and (exp_dir / "low_run_2" / "attempts" / "1").is_dir(),
        f"the crash of low_run_2 left no trace in its records: {records['low_run_2']}",
    )
    crashed = status(exp_dir / "low_run_2" / "attempts" / "1")
    assert crashed["status"] == "running" and "finished_at" not in crashed  # what the dead process left
    errors = ledger(exp_dir)["low_run_2"]["errors"]
    assert len(errors) == 1 and "died without finishing" in errors[0], errors
    if launcher[0].startswith("hydra/launcher=submitit"):
        assert "UncompletedJobError" in errors[0]
    if launcher[0].endswith("submitit_slurm"):
        retried = records["low_run_2"]["slurm_job_id"]
        assert slurm_states([crashed["slurm_job_id"], retried]) == ["FAILED", "COMPLETED"]


@launchers(
    "submitit_local",
    "submitit_slurm",
    "ray",
)
def test_a_crash_does_not_rerun_runs_still_in_flight(tmp_path, launcher):
    """One quick run dies hard while two slow runs are still running (or queued): only the dead one reruns.

    The slow runs outlast the launcher's reaction to the crash: submitit waits 15 s for a result file before
    raising UncompletedJobError, Ray raises at once.
    """
    slow = 6.0 if launcher == RAY else 28.0
    (tmp_path / "timed_app.py").write_text(TIMED_APP)
    write_experiment(tmp_path / "timed.py", TIMED_EXPERIMENT.format(quick=0.5, slow=slow))
    result = run_sweep(
        tmp_path / "timed_app.py",
        "ab.experiment=timed.py",
        *launcher,
        "fail_runs=[a_run_2]",
        "fail_kind=exit",
        cwd=tmp_path,
    )
    ok(result)
    exp_dir = result.experiment_dir("timed")
    records = final_records(exp_dir)
    assert all(r["status"] == "completed" for r in records.values()), records
    assert records["a_run_2"]["attempt"] == 2 and executions(exp_dir / "a_run_2", "a_run_2") == 2
    runs = ledger(exp_dir)
    for job_dir in ("a_run_1", "b_run_1", "b_run_2"):
        check_bug(executions(exp_dir / job_dir, job_dir) == 1, f"{job_dir} ran more than once")
        check_bug((runs[job_dir]["attempts"], runs[job_dir]["errors"]) == (1, []), f"{job_dir}: {runs[job_dir]}")


# --- a job that cannot even start -----------------------------------------------------------------


SIBLING_APP = """
import hydra
from sibling_helpers import score  # a module beside the script: importable here, not in submitit's workers


@hydra.main(config_path=None, config_name="cfg", version_base=None)
def main(cfg):
    return {"score": score(cfg.lr)}


if __name__ == "__main__":
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="cfg", node={"run": "???", "seed": 0, "lr": 0.1, "wandb": {}})
    main()
"""


def test_an_app_that_cannot_start_in_a_worker_is_explained(tmp_path):
    """An app importing a module beside its script works in-process but not in submitit's worker processes."""
    (tmp_path / "app_dir").mkdir()
    (tmp_path / "app_dir" / "app.py").write_text(SIBLING_APP)
    (tmp_path / "app_dir" / "sibling_helpers.py").write_text("def score(lr):\n    return lr * 10\n")
    write_experiment(
        tmp_path / "exp.py",
        'experiment = create_experiment("sib", "x").add_variant(name="a", description="a", lr=0.1)'
        '.add_variant(name="b", description="b", lr=0.2).set_runs_per_variant(2).build()\n',
    )
    result = run_sweep(tmp_path / "app_dir" / "app.py", "ab.experiment=exp.py", *SUBMITIT_LOCAL, cwd=tmp_path)
    assert result.returncode != 0
    assert "4 of 4 runs failed" in result.stderr
    assert "ModuleNotFoundError: No module named 'sibling_helpers'" in result.stderr  # the cause, not just "failed"
    logs = re.findall(r"(/\S+\.(?:log|err|out))\b", result.stderr)
    assert logs and all(Path(p).is_file() for p in logs), logs  # the logs it names exist
