"""The ab sweeper keeps Hydra's rules: truthful records, BasicSweeper without an experiment, `-m` required,
misspelt settings named, callbacks told what BasicSweeper's would be, bounded waits that pid reuse cannot
fool, failure messages that point at real logs, and the app's own SIGALRM left to the app.

All through the real command line of `tests/apps/rules/app.py`, started outside the project. Set
METTA_AB_PYTHON to run the apps under another interpreter (e.g. an environment with hydra-core 1.4).
"""

from __future__ import annotations

import json
import socket
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from sweeper_cli import APPS, PYTHON, job_dirs, run_app, run_command, run_sweep, status, write_experiment

from metta_ab import exit_status
from metta_ab.records.process import start_time

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

RULES = APPS / "rules" / "app.py"
TWO_VARIANTS = """
experiment = (
    create_experiment("rules", "the Hydra rules")
    .add_variant(name="a", x=1)
    .add_variant(name="b", x=2)
    .set_runs_per_variant({runs})
    .set_metric("score", direction="max")
    .build()
)
"""


# the figures and the W&B summary run cost seconds per sweep and are tested elsewhere
AB = ("ab.experiment=exp.py", "ab.plots=false", "ab.wandb_summary=false")


# With one run per variant there is nothing to test: these sweeps end without a verdict, and say so.
ONE_RUN_EACH = exit_status.NO_VERDICT


def experiment(tmp_path: Path, runs: int = 1) -> Path:
    return write_experiment(tmp_path / "exp.py", TWO_VARIANTS.format(runs=runs))


def sweep_with(config_name: str, *overrides: str, cwd: Path):
    """`python app.py --config-name=<name> -m hydra/sweeper=ab ...` (argparse wants options before overrides)."""
    return run_app(RULES, f"--config-name={config_name}", "-m", "hydra/sweeper=ab", *overrides, cwd=cwd)


def task_calls(cwd: Path) -> list[dict]:
    path = cwd / "task_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def ledger(exp_dir: Path) -> dict[str, dict]:
    return {r["job_dir"]: r for r in json.loads((exp_dir / "ledger.json").read_text())["runs"]}


# --- 1. truthful records ------------------------------------------------------------------------------


def test_job_records_say_ab_and_hold_no_ab_node(tmp_path):
    experiment(tmp_path)
    result = run_sweep(RULES, *AB, cwd=tmp_path)
    assert result.returncode == ONE_RUN_EACH, result.output
    exp_dir = result.experiment_dir("rules")
    assert job_dirs(exp_dir) == ["a_run_1", "b_run_1"]
    for name in job_dirs(exp_dir):
        job = exp_dir / name
        hydra_yaml = yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())
        assert hydra_yaml["hydra"]["runtime"]["choices"]["hydra/sweeper"] == "ab"
        assert "ab" not in yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        assert "ab" not in yaml.safe_load((job / "config.yaml").read_text())
        assert json.loads((job / "task_saw.json").read_text())["ab_in_cfg"] is False
    assert [c["ab_in_cfg"] for c in task_calls(tmp_path)] == [False, False]

    multirun = yaml.safe_load((exp_dir / "multirun.yaml").read_text())
    assert "hydra/sweeper=ab" in multirun["hydra"]["overrides"]["hydra"]
    assert multirun["hydra"]["overrides"]["task"] == list(AB)


def test_command_rebuilt_from_multirun_yaml_resumes_the_experiment(tmp_path):
    experiment(tmp_path)
    first = run_sweep(RULES, *AB, "x=5", cwd=tmp_path)
    assert first.returncode == ONE_RUN_EACH, first.output
    exp_dir = first.experiment_dir("rules")
    started = {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)}

    overrides = yaml.safe_load((exp_dir / "multirun.yaml").read_text())["hydra"]["overrides"]
    hydra_overrides = [o for o in overrides["hydra"] if o != "hydra.mode=MULTIRUN"]
    again = run_app(RULES, "-m", *hydra_overrides, *overrides["task"], cwd=tmp_path)
    assert again.returncode == ONE_RUN_EACH, again.output
    assert "resuming: 2 of 2 runs already completed" in again.output
    assert "Launching" not in again.output
    assert {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)} == started
    assert len(task_calls(tmp_path)) == 2


# --- 2. without an experiment: BasicSweeper in full ---------------------------------------------------


@pytest.mark.parametrize("batch", [[], ["hydra.sweeper.max_batch_size=1"]], ids=["one batch", "max_batch_size=1"])
def test_without_experiment_the_app_grid_is_swept(tmp_path, batch):
    result = sweep_with("grid", "hydra.sweep.dir=grid", *batch, cwd=tmp_path)
    assert result.returncode == 0, result.output
    calls = task_calls(tmp_path)
    assert sorted(c["x"] for c in calls) == [1, 2]
    assert all(c["ab_in_cfg"] is False for c in calls)
    assert sorted(Path(c["output_dir"]).name for c in calls) == ["0", "1"]
    launches = [line.split("] ", 1)[-1] for line in result.output.splitlines() if "Launching" in line]
    assert launches == (["Launching 1 jobs locally"] * 2 if batch else ["Launching 2 jobs locally"])
    hydra_yaml = yaml.safe_load((tmp_path / "grid" / "0" / ".hydra" / "hydra.yaml").read_text())
    assert hydra_yaml["hydra"]["runtime"]["choices"]["hydra/sweeper"] == "ab"


@pytest.mark.parametrize(
    "config_name, arguments, setting",
    [
        ("grid", [], "hydra.sweeper.params (x) is a grid sweep"),
        (
            "config",
            ["hydra.sweeper.max_batch_size=1"],
            "hydra.sweeper.max_batch_size does not apply with ab.experiment",
        ),
    ],
    ids=["app grid params", "max_batch_size"],
)
def test_basic_sweeper_settings_with_an_experiment_are_refused(tmp_path, config_name, arguments, setting):
    experiment(tmp_path)
    result = sweep_with(config_name, *AB, *arguments, cwd=tmp_path)
    assert result.returncode == 1, result.output
    assert setting in result.stderr
    assert task_calls(tmp_path) == []
    assert not (tmp_path / "ab_test_results").exists()


OTHER_SWEEPER = "hydra.sweeper.direction, hydra.sweeper.n_trials, hydra.sweeper.params, hydra.sweeper.sampler"


def test_another_sweepers_settings_in_the_app_config_are_left_unused(tmp_path):
    """Hydra's Optuna examples set the Optuna sweeper's settings in the app's config: the experiment runs."""
    experiment(tmp_path)
    result = sweep_with("other_sweeper", *AB, cwd=tmp_path)
    assert result.returncode == ONE_RUN_EACH, result.output
    assert f"[ab] not used: {OTHER_SWEEPER} (the app's config sets them for its own sweeper" in result.output
    assert sorted(c["x"] for c in task_calls(tmp_path)) == [1, 2]


def test_another_sweepers_settings_without_an_experiment_are_named(tmp_path):
    result = sweep_with("other_sweeper", "hydra.sweep.dir=grid", cwd=tmp_path)
    assert result.returncode == 1, result.output
    assert f"{OTHER_SWEEPER}: not settings of the ab sweeper" in result.stderr
    assert task_calls(tmp_path) == []


# --- 3. missing -m ------------------------------------------------------------------------------------


def test_experiment_without_multirun_flag_is_stopped_before_the_task(tmp_path):
    experiment(tmp_path)
    result = run_app(RULES, "hydra/sweeper=ab", *AB, cwd=tmp_path)
    assert result.returncode == 2, result.output
    assert "add -m" in result.stderr
    assert "ab.experiment=exp.py" in result.stderr
    assert task_calls(tmp_path) == []
    assert not (tmp_path / "outputs").exists()  # Hydra's single-run output dir
    assert not (tmp_path / "ab_test_results").exists()


@pytest.mark.parametrize("started_as", ["script", "module"])
def test_what_is_missing_is_said_with_the_command_that_was_run(tmp_path, started_as):
    """`python path/to/app.py` as given, or `python -m app`: the command to run again, not a placeholder."""
    experiment(tmp_path)
    if started_as == "script":
        command, shown = [PYTHON, str(RULES)], f"python {RULES}"
    else:
        command, shown = [PYTHON, "-m", "app"], "python -m app"
    env = {"PYTHONPATH": str(RULES.parent)}
    without_m = run_command(command, "hydra/sweeper=ab", *AB, cwd=tmp_path, env=env)
    assert without_m.returncode == 2, without_m.output
    assert f"add -m ({shown} -m hydra/sweeper=ab ab.experiment=exp.py ...)" in without_m.stderr
    without_sweeper = run_command(command, "-m", *AB, cwd=tmp_path, env=env)
    assert without_sweeper.returncode == 1, without_sweeper.output
    hint = f"add hydra/sweeper=ab ({shown} -m hydra/sweeper=ab ab.experiment=exp.py ...)"
    assert hint in without_sweeper.stderr
    assert "<app>" not in without_m.stderr + without_sweeper.stderr
    assert task_calls(tmp_path) == []


WHITELISTED = APPS / "whitelisted" / "app.py"
HYDRA_VERSION = tuple(int(part) for part in version("hydra-core").split(".")[:2])
needs_hydra_14 = pytest.mark.skipif(
    HYDRA_VERSION < (1, 4), reason="Hydra 1.3 has no execution whitelist (@hydra.main(execution_whitelist=))"
)
WHITELIST_EXPERIMENT = """
experiment = (
    create_experiment("wl", "an app with an execution whitelist")
    .add_variant(name="low", model__lr=0.1)
    .add_variant(name="high", model__lr=0.2)
    .set_runs_per_variant(2)
    .set_metric("score", direction="max")
    .build()
)
"""


@needs_hydra_14
@pytest.mark.parametrize(
    "launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], ids=["basic", "joblib"]
)
def test_an_app_with_an_execution_whitelist_is_swept_unchanged(tmp_path, launcher):
    """Hydra 1.4 refuses a `hydra.callbacks` target the app's whitelist does not name, before any job: the
    sweeper then leaves its callback out instead of failing at start."""
    write_experiment(tmp_path / "exp.py", WHITELIST_EXPERIMENT)
    result = run_sweep(WHITELISTED, *AB, *launcher, cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "is not in the Hydra execution whitelist" not in result.output
    summary = json.loads((tmp_path / "ab_test_results" / "wl" / "summary.json").read_text())
    assert summary["variants"]["high"]["completed"] == 2
    assert sorted((tmp_path / "task_calls.txt").read_text().split()) == ["0.1", "0.1", "0.2", "0.2"]


@needs_hydra_14
@pytest.mark.parametrize("trusted", [False, True], ids=["callback not trusted", "callback trusted"])
def test_forgotten_multirun_flag_with_an_execution_whitelist_is_named(tmp_path, trusted):
    """With the callback trusted, the app is stopped before its task; without it, the app runs once (Hydra
    offers no other hook) and the command says, at its end, why the experiment did not run."""
    write_experiment(tmp_path / "exp.py", WHITELIST_EXPERIMENT)
    env = {"TRUST_AB_CALLBACK": "1"} if trusted else {}
    result = run_app(WHITELISTED, "hydra/sweeper=ab", *AB, cwd=tmp_path, env=env)
    assert not (tmp_path / "ab_test_results").exists()
    if trusted:
        assert result.returncode == 2 and "multirun mode: add -m" in result.stderr, result.output
        assert not (tmp_path / "task_calls.txt").exists()
    else:
        assert result.returncode == 0, result.output
        assert "metta-ab: ab.experiment=exp.py was not run: Hydra uses a sweeper only in multirun mode" in result.stderr
        assert f"Add -m (python {WHITELISTED} -m hydra/sweeper=ab ab.experiment=exp.py ...)" in result.stderr


# --- 4. misspelt settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, meant",
    [("ab.max_retires=2", "ab.max_retries"), ("ab.analysis.metirc=x", "ab.analysis.metric")],
    ids=["top level", "nested"],
)
def test_misspelt_setting_names_the_one_meant(tmp_path, setting, meant):
    experiment(tmp_path)
    result = run_sweep(RULES, *AB, setting, cwd=tmp_path)
    assert result.returncode == 1, result.output
    wrong = setting.split("=")[0]
    assert f"{wrong} is not a setting of the ab sweeper; did you mean {meant}?" in result.stderr
    assert task_calls(tmp_path) == []


# --- 5. callbacks -------------------------------------------------------------------------------------


def callback_events(cwd: Path) -> list[dict]:
    return [json.loads(line) for line in (cwd / "callbacks.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], ids=["basic", "joblib workers"]
)
def test_callbacks_see_the_jobs_own_exception_and_return_value(tmp_path, launcher):
    experiment(tmp_path)
    result = sweep_with("with_callbacks", *AB, *launcher, "fail_run=b_run_1", "ab.max_retries=0", cwd=tmp_path)
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    events = callback_events(tmp_path)
    job_ends = {e["run"]: e for e in events if e["event"] == "job_end"}
    assert job_ends["a_run_1"]["status"] == "COMPLETED"
    assert job_ends["a_run_1"]["type"] == "dict"
    assert job_ends["a_run_1"]["value_types"] == {"score": "float", "pair": "tuple", "tags": "set"}
    assert job_ends["b_run_1"]["status"] == "FAILED"
    assert (job_ends["b_run_1"]["type"], job_ends["b_run_1"]["module"]) == ("ValueError", "builtins")
    assert job_ends["b_run_1"]["message"] == "boom"
    # The sweep raises, as BasicSweeper's does: Hydra 1.3 then skips on_multirun_end, 1.4 calls it (finally:).
    expected = {"event": "multirun_end", "sweep_dir": str(result.experiment_dir("rules"))}
    assert [e for e in events if e["event"] == "multirun_end"] in ([], [expected])


def test_the_apps_callbacks_are_told_the_experiment_dir_from_multirun_start_on(tmp_path):
    experiment(tmp_path)
    result = sweep_with("with_callbacks", *AB, cwd=tmp_path)
    assert result.returncode == ONE_RUN_EACH, result.output
    events = callback_events(tmp_path)
    assert [e["status"] for e in events if e["event"] == "job_end"] == ["COMPLETED", "COMPLETED"]
    sweep_dir = str(result.experiment_dir("rules"))
    assert [e for e in events if e["event"] in ("multirun_start", "multirun_end")] == [
        {"event": "multirun_start", "sweep_dir": sweep_dir},
        {"event": "multirun_end", "sweep_dir": sweep_dir},
    ]
    assert not (tmp_path / "multirun").exists()  # Hydra's dated default is never created


# --- 6. bounded waits ---------------------------------------------------------------------------------


@pytest.fixture
def unrelated_process():
    """A live process of this host that has nothing to do with any sweep."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


def _pretend_still_running(exp_dir: Path, job: str, pid: int, pid_started: int | None) -> None:
    """What a sweeper killed while `job` ran leaves behind: its ledger record and its status say running."""
    data = json.loads((exp_dir / "ledger.json").read_text())
    for record in data["runs"]:
        if record["job_dir"] == job:
            record.update(status="running", finished_at=None, duration=None, return_value=None)
    (exp_dir / "ledger.json").write_text(json.dumps(data))
    record = status(exp_dir / job)
    record.update(status="running", pid=pid, host=socket.gethostname())
    record.pop("finished_at", None)
    record.pop("duration", None)
    record.pop("return_value", None)
    if pid_started is None:
        record.pop("pid_started", None)  # a record from before start times were kept
    else:
        record["pid_started"] = pid_started
    (exp_dir / job / "ab_status.json").write_text(json.dumps(record))


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="process start times come from /proc")
def test_reused_pid_is_not_waited_for(tmp_path, unrelated_process):
    experiment(tmp_path)
    first = run_sweep(RULES, *AB, cwd=tmp_path)
    assert first.returncode == ONE_RUN_EACH, first.output
    exp_dir = first.experiment_dir("rules")
    pid = unrelated_process.pid
    _pretend_still_running(exp_dir, "a_run_1", pid, pid_started=start_time(pid) + 1)

    again = run_sweep(RULES, *AB, "ab.settle_timeout=3600", cwd=tmp_path, timeout=900)
    assert again.returncode == ONE_RUN_EACH, again.output
    assert "waiting for" not in again.output
    assert "gave up waiting" not in again.output
    assert "Launching 1 jobs" in again.output
    assert ledger(exp_dir)["a_run_1"]["attempts"] == 2
    assert status(exp_dir / "a_run_1")["status"] == "completed"
    assert status(exp_dir / "a_run_1")["attempt"] == 2
    assert unrelated_process.poll() is None  # not touched


def test_old_record_of_a_live_pid_is_waited_for_at_most_settle_timeout(tmp_path, unrelated_process):
    experiment(tmp_path)
    first = run_sweep(RULES, *AB, cwd=tmp_path)
    assert first.returncode == ONE_RUN_EACH, first.output
    exp_dir = first.experiment_dir("rules")
    pid = unrelated_process.pid
    _pretend_still_running(exp_dir, "a_run_1", pid, pid_started=None)

    again = run_sweep(RULES, *AB, "ab.settle_timeout=3", cwd=tmp_path)
    assert again.returncode == ONE_RUN_EACH, again.output
    assert f"waiting for 1 run(s) still going from before, so none runs twice: a_run_1 (pid {pid})" in again.output
    assert "gave up waiting after 3 s (ab.settle_timeout) for 1 run(s)" in again.output
    assert "launched again: a_run_1" in again.output
    assert again.output.index("gave up waiting") < again.output.index("Launching 1 jobs")
    assert ledger(exp_dir)["a_run_1"]["attempts"] == 2
    assert status(exp_dir / "a_run_1")["status"] == "completed"
    assert unrelated_process.poll() is None


# --- 7. failure messages point at real logs -----------------------------------------------------------


def test_failure_message_without_job_logging_names_the_job_dir(tmp_path):
    experiment(tmp_path)
    result = run_sweep(
        RULES, *AB, "fail_run=b_run_1", "ab.max_retries=0", "hydra/job_logging=disabled",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    job_dir = result.experiment_dir("rules") / "b_run_1"
    line = next(line for line in result.stderr.splitlines() if line.strip().startswith("b_run_1:"))
    assert "ValueError: boom" in line
    assert f"no job log file (hydra/job_logging wrote none); see {job_dir}" in line
    assert ".log" not in line
    assert not list(job_dir.glob("*.log"))


def test_failure_message_points_at_the_job_log_with_the_traceback(tmp_path):
    experiment(tmp_path)
    result = run_sweep(RULES, *AB, "fail_run=b_run_1", "ab.max_retries=0", cwd=tmp_path)
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    line = next(line for line in result.stderr.splitlines() if line.strip().startswith("b_run_1:"))
    assert "ValueError: boom" in line
    log_file = Path(line.split("(log: ", 1)[1].rstrip(")"))
    assert log_file == result.experiment_dir("rules") / "b_run_1" / "app.log"
    text = log_file.read_text()
    assert "Traceback (most recent call last)" in text
    assert "ValueError: boom" in text


# --- 8. ab.run_timeout leaves the app's SIGALRM alone (the hang case: test_resume.py) --------------------


@pytest.mark.parametrize("mode", ["alarm", "alarm_at_start"], ids=["installed in the task", "installed at start"])
def test_apps_own_sigalrm_handler_is_called_under_run_timeout(tmp_path, mode):
    experiment(tmp_path)
    result = run_sweep(RULES, *AB, f"mode={mode}", "ab.run_timeout=30", cwd=tmp_path)
    assert result.returncode == ONE_RUN_EACH, result.output
    exp_dir = result.experiment_dir("rules")
    assert job_dirs(exp_dir) == ["a_run_1", "b_run_1"]
    for name in job_dirs(exp_dir):
        alarm = json.loads((exp_dir / name / "alarm.json").read_text())
        assert alarm == {"handler_calls": 1, "handler_was_the_apps": True}
        assert status(exp_dir / name)["status"] == "completed"
        assert status(exp_dir / name)["attempt"] == 1
    assert all(r["attempts"] == 1 and not r["errors"] for r in ledger(exp_dir).values())


def test_run_timeout_stops_a_hanging_run_of_an_app_with_its_own_sigalrm_handler(tmp_path):
    experiment(tmp_path)
    result = run_sweep(
        RULES, *AB, "mode=hang_with_handler", "ab.run_timeout=2", "ab.max_retries=0", cwd=tmp_path, timeout=120
    )
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    records = ledger(result.experiment_dir("rules"))
    for record in records.values():
        assert record["errors"] == ["attempt 1: RunTimeout: the run exceeded ab.run_timeout=2s"]
