"""`hydra/launcher=ab_local` through the real command line: Hydra's BasicSweeper and the ab sweeper on it, GPU
placement on fake device lists, failures that cost one run, retries streamed into free slots, and no process left
behind.

The probe app (written below) records what its process saw (pid, process group, CUDA_VISIBLE_DEVICES, CPU affinity,
a value from a resolver registered at the app's top level) in `seen.json`, can start a grandchild in its process
group (`spawn=true`), waits until `barrier` jobs have started (so that concurrency does not depend on the machine's
load) or (runs in `await_retry`) until the runs in `fail_runs` have started their retry, and misbehaves on a run's
first attempt as `fail_kind` says (at every attempt: `exit_always`, `import`). Processes left behind are looked for
in /proc by process group: each job's process leads its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sweeper_cli import PYTHON, run_app, run_sweep, status, write_experiment
from test_launchers import all_records, ledger, max_concurrency

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

PROBE_APP = '''"""Records what its process saw; runs in `fail_runs` misbehave at their first attempt (`fail_kind`)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

OmegaConf.register_new_resolver("twice", lambda x: 2 * x)  # at the app's top level, as many apps do
ConfigStore.instance().store(
    name="probe",
    node={
        "run": "job",
        "seed": 0,
        "lr": 0.1,
        "doubled": "${twice:${lr}}",
        "sleep_s": 0.2,
        "spawn": False,
        "hold": None,
        "barrier": 0,
        "fail_runs": [],
        "await_retry": [],
        "fail_kind": "exit",
        "wandb": {"project": None, "entity": None, "group": None, "tags": [], "notes": None},
    },
)


@hydra.main(config_path=None, config_name="probe", version_base=None)
def main(cfg):
    out = Path(HydraConfig.get().runtime.output_dir)
    seen = {
        "pid": os.getpid(),
        "pgid": os.getpgrp(),
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "order": os.environ.get("CUDA_DEVICE_ORDER"),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "cpus": sorted(os.sched_getaffinity(0)),
        "doubled": cfg.doubled,
        "started": time.time(),
    }
    if cfg.spawn:  # a grandchild in the job's process group, as an env worker or a data loader would be
        seen["child"] = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]).pid
    (out / "seen.json").write_text(json.dumps(seen))
    deadline = time.time() + 60
    while len(list(out.parent.glob("*/seen.json"))) < cfg.barrier and time.time() < deadline:
        time.sleep(0.05)  # until `barrier` jobs run at once (at most a minute)
    retries = [out.parent / run for run in cfg.fail_runs] if cfg.run in cfg.await_retry else []
    while any(not (d / "attempts").is_dir() or not (d / "seen.json").is_file() for d in retries):
        if time.time() > deadline:  # a minute: the retries did not start while this run ran
            break
        time.sleep(0.05)
    print(f"stdout of {cfg.run}", flush=True)
    print(f"stderr of {cfg.run}", file=sys.stderr, flush=True)
    marker = out.parent / f".failed_{cfg.run}"
    if cfg.run in cfg.fail_runs and (cfg.fail_kind in ("exit_always", "import") or not marker.exists()):
        marker.touch()
        if cfg.fail_kind in ("exit", "exit_always"):
            os._exit(3)
        if cfg.fail_kind == "import":
            import a_module_nobody_installed  # noqa: F401
        if cfg.fail_kind == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if cfg.fail_kind == "raise":
            raise RuntimeError(f"deliberate failure of {cfg.run}")
        if cfg.fail_kind == "stuck":  # its own SIGALRM handler, then one long C call: no in-task timeout stops it
            signal.signal(signal.SIGALRM, lambda *args: None)
            time.sleep(3600)
    time.sleep(cfg.sleep_s)
    while cfg.hold and Path(cfg.hold).exists():  # until the test removes the file
        time.sleep(0.1)
    return {"score": float(cfg.lr) + int(cfg.seed) * 0.01}


if __name__ == "__main__":
    main()
'''

EXPERIMENT = """
experiment = (
    create_experiment("probe", "two arms of the probe app")
    .add_variant(name="a", description="arm a", lr=0.1)
    .add_variant(name="b", description="arm b", lr=0.2)
    .set_runs_per_variant({runs})
    .set_metric("score")
    .build()
)
"""


def probe(tmp_path: Path, runs: int = 2) -> Path:
    app = tmp_path / "probe_app.py"
    app.write_text(PROBE_APP)
    write_experiment(tmp_path / "exp.py", EXPERIMENT.format(runs=runs))
    return app


def seen(job_dir: Path) -> dict[str, Any]:
    return json.loads((job_dir / "seen.json").read_text())


def group_members(pgids: set[int]) -> list[tuple[int, int]]:
    """(pid, pgid) of every live process (not a zombie) in one of the process groups `pgids`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_bytes()
        except OSError:
            continue
        state, _, pgrp = text[text.rindex(b")") + 2 :].split()[:3]
        if int(pgrp) in pgids and state != b"Z":
            members.append((int(entry.name), int(pgrp)))
    return members


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def ok(result):
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.output[-6000:]}"
    return result


# --- Hydra's BasicSweeper on ab_local -----------------------------------------------------------------


def test_basic_sweeper_runs_each_job_in_a_process_of_its_own(tmp_path):
    app = probe(tmp_path)
    result = ok(
        run_app(
            app, "-m", "hydra/launcher=ab_local", "lr=0.1,0.2,0.3", "hydra.sweep.dir=grid", "hydra.launcher.n_jobs=2",
            cwd=tmp_path,
        )
    )  # fmt: skip
    assert "ab_local is launching 3 job(s): 2 job(s) at a time, CPU jobs" in result.output
    jobs = [tmp_path / "grid" / str(n) for n in range(3)]
    records = [seen(job) for job in jobs]
    assert [r["doubled"] for r in records] == [0.2, 0.4, 0.6]  # the app's own resolver works in the job's process
    assert len({r["pid"] for r in records} | {os.getpid()}) == 4  # fresh processes, none of them the sweeper's
    assert all(r["pgid"] == r["pid"] for r in records)  # each leads its own process group
    for n, job in enumerate(jobs):  # stdout and stderr in the job's directory, not on the sweeper's terminal
        assert (job / "probe_app.out").read_text() == "stdout of job\nstderr of job\n"
        assert "lr=" + ("0.1", "0.2", "0.3")[n] in (job / ".hydra" / "overrides.yaml").read_text()
    assert "stdout of job" not in result.output


def test_basic_sweeper_reports_a_job_that_died_and_the_others_still_run(tmp_path):
    app = probe(tmp_path)
    result = run_app(
        app, "-m", "hydra/launcher=ab_local", "run=x,y,z", "fail_runs=[y]", "fail_kind=exit",
        "hydra.sweep.dir=grid", "hydra.launcher.n_jobs=1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    out = tmp_path / "grid" / "1" / "probe_app.out"
    assert f"job #1 ({tmp_path / 'grid' / '1'}): its process exited with code 3 before the job returned; " in (
        result.output
    )
    assert f"its output is in {out}" in result.output and "stdout of y" in out.read_text()
    assert (tmp_path / "grid" / "2" / "seen.json").is_file()  # the job after it ran (BasicSweeper raises after)


def test_impossible_settings_stop_before_any_job(tmp_path):
    app = probe(tmp_path)
    result = run_app(
        app, "-m", "hydra/launcher=ab_local", "lr=0.1,0.2", "hydra.sweep.dir=grid", "hydra.launcher.devices=[0,7]",
        cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": "0,1"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.errors.strip().splitlines()[0] == (
        "hydra.launcher.devices=[0,7]: device 7 does not exist here (visible: 0,1, from CUDA_VISIBLE_DEVICES); "
        "list visible GPUs only, or devices=auto"
    )
    assert not list((tmp_path / "grid").glob("*/seen.json"))


# --- the ab sweeper on ab_local, fake device lists ------------------------------------------------------


@pytest.mark.parametrize(
    ("visible", "settings", "per_device", "slots"),
    [
        ("0,1,2,3", ["hydra.launcher.gpus_per_job=1"], 1, 4),
        ("0,1", ["hydra.launcher.gpus_per_job=0.5"], 2, 4),
        ("0,1,2,3", ["hydra.launcher.gpus_per_job=2"], 1, 2),
        ("4,6", [], 1, 2),  # the default: one GPU per job, the devices of CUDA_VISIBLE_DEVICES
    ],
    ids=["1_gpu", "half_gpu", "2_gpus", "default"],
)
def test_each_job_sees_only_its_gpus_and_no_device_holds_more_jobs_than_allowed(
    tmp_path, visible, settings, per_device, slots
):
    app = probe(tmp_path, runs=4)
    result = ok(
        run_sweep(
            app, "ab.experiment=exp.py", "hydra/launcher=ab_local", *settings, f"barrier={slots}",
            cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": visible},
        )
    )  # fmt: skip
    exp_dir = result.experiment_dir("probe")
    records = [status(d) for d in sorted(exp_dir.glob("*_run_*"))]
    assert len(records) == 8 and all(r["status"] == "completed" for r in records)
    gpus = 2 if "gpus_per_job=2" in " ".join(settings) else 1
    for job_dir, record in zip(sorted(exp_dir.glob("*_run_*")), records, strict=True):
        assert seen(job_dir)["cuda"] == ",".join(record["devices"])  # what the job saw is what it recorded
        assert len(record["devices"]) == gpus and set(record["devices"]) <= set(visible.split(","))
    if gpus == 2:
        assert {tuple(r["devices"]) for r in records} == {("0", "1"), ("2", "3")}
    for device in visible.split(","):  # at no moment more jobs on a device than it holds
        on_device = [r for r in records if device in r["devices"]]
        assert max_concurrency(on_device) <= per_device, device
    assert max_concurrency(records) == slots  # the first jobs wait for each other: every slot was used at once


def test_devices_from_nvidia_smi_are_in_pci_order(tmp_path):
    app = probe(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-aaa)'\necho 'GPU 1: Fake GPU (UUID: GPU-bbb)'\n")
    smi.chmod(0o755)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        pytest.skip("CUDA_VISIBLE_DEVICES is set here: it wins over nvidia-smi")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = ok(run_sweep(app, "ab.experiment=exp.py", "hydra/launcher=ab_local", cwd=tmp_path, env=env))
    assert "2 job(s) at a time, 1 GPU per job on devices 0,1 (nvidia-smi -L)" in result.output
    exp_dir = result.experiment_dir("probe")
    records = [seen(d) for d in exp_dir.glob("*_run_*")]
    assert len(records) == 4 and {r["cuda"] for r in records} == {"0", "1"}
    assert {r["order"] for r in records} == {"PCI_BUS_ID"}


def test_pinned_jobs_run_on_cores_of_their_own(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    app = probe(tmp_path)
    result = ok(
        run_sweep(
            app, "ab.experiment=exp.py", "hydra/launcher=ab_local", "hydra.launcher.cpus_per_job=1",
            "hydra.launcher.n_jobs=2", cwd=tmp_path,
        )
    )  # fmt: skip
    exp_dir = result.experiment_dir("probe")
    records = [seen(d) for d in sorted(exp_dir.glob("*_run_*"))]
    cores = sorted(os.sched_getaffinity(0))[:2]
    assert all(len(r["cpus"]) == 1 and r["cpus"][0] in cores and r["omp"] == "1" for r in records)


# --- failures cost one run ---------------------------------------------------------------------------


@pytest.mark.parametrize("fail_kind", ["exit", "sigkill", "raise"])
def test_a_job_that_dies_costs_only_its_own_run(tmp_path, fail_kind):
    app = probe(tmp_path)
    result = ok(
        run_sweep(
            app, "ab.experiment=exp.py", "hydra/launcher=ab_local", "hydra.launcher.n_jobs=2", "fail_runs=[a_run_2]",
            f"fail_kind={fail_kind}", cwd=tmp_path,
        )
    )  # fmt: skip
    exp_dir = result.experiment_dir("probe")
    runs = ledger(exp_dir)
    assert {d: (r["status"], r["attempts"]) for d, r in runs.items()} == {
        "a_run_1": ("completed", 1),
        "a_run_2": ("completed", 2),
        "b_run_1": ("completed", 1),
        "b_run_2": ("completed", 1),
    }
    error = runs["a_run_2"]["errors"][0]
    if fail_kind == "raise":
        assert error == "attempt 1: RuntimeError: deliberate failure of a_run_2"
    else:
        assert error == "attempt 1: the job's process died without finishing (killed, out of memory, or os._exit)"
        how = "exited with code 3" if fail_kind == "exit" else "was killed by SIGKILL"
        assert f"its process {how} before the job returned" in result.output
    assert "stdout of a_run_2" in (exp_dir / "a_run_2" / "attempts" / "1" / "probe_app.out").read_text()
    assert len({r["pid"] for r in all_records(exp_dir)}) == 5  # every attempt in a process of its own


# --- stopping: timeout, Ctrl-C, SIGTERM, a SIGKILLed sweeper --------------------------------------------


def _job_groups(exp_dir: Path) -> set[int]:
    return {seen(d)["pgid"] for d in exp_dir.glob("*_run_*") if (d / "seen.json").is_file()} | {
        seen(d)["pgid"] for d in exp_dir.glob("*_run_*/attempts/*") if (d / "seen.json").is_file()
    }


def test_a_run_past_the_timeout_is_ended_with_its_whole_process_group(tmp_path):
    app = probe(tmp_path, runs=1)
    result = run_sweep(
        app, "ab.experiment=exp.py", "hydra/launcher=ab_local", "ab.run_timeout=1", "ab.max_retries=0",
        "hydra.launcher.stop_grace=1", "spawn=true", "fail_runs=[a_run_1]", "fail_kind=stuck", cwd=tmp_path,
    )  # fmt: skip
    exp_dir = result.experiment_dir("probe")
    assert result.returncode == 3, result.output[-3000:]
    assert "job #0 exceeded the run timeout: ending its processes" in result.output
    assert "its process was killed by SIGTERM after exceeding the run timeout (1 s) before the job returned" in (
        result.output
    )
    assert ledger(exp_dir)["b_run_1"]["status"] == "completed"
    assert group_members(_job_groups(exp_dir)) == []  # the grandchildren too


def _start_sweep(app: Path, tmp_path: Path, *overrides: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return subprocess.Popen(
        [PYTHON, str(app), "-m", *overrides],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _running_jobs(job_dirs: list[Path], count: int) -> list[dict[str, Any]] | None:
    records = [seen(d) for d in job_dirs if (d / "seen.json").is_file()]
    return records if len(records) >= count else None


@pytest.mark.parametrize(
    ("sweeper", "stop"),
    [("ab", signal.SIGINT), ("ab", signal.SIGTERM), ("basic", signal.SIGTERM)],
    ids=["ab_ctrl_c", "ab_sigterm", "basic_sigterm"],
)
def test_ctrl_c_and_sigterm_leave_no_process_behind(tmp_path, sweeper, stop):
    app = probe(tmp_path)
    common = ["hydra/launcher=ab_local", "hydra.launcher.n_jobs=2", "spawn=true", "sleep_s=600"]
    if sweeper == "ab":
        sweep = _start_sweep(app, tmp_path, "hydra/sweeper=ab", "ab.experiment=exp.py", "ab.plots=false", *common)
        job_dirs = [tmp_path / "ab_test_results" / "probe" / d for d in ("a_run_1", "a_run_2", "b_run_1", "b_run_2")]
    else:
        sweep = _start_sweep(app, tmp_path, "run=x,y,z", "hydra.sweep.dir=grid", *common)
        job_dirs = [tmp_path / "grid" / str(n) for n in range(3)]
    try:
        running = wait_for(lambda: _running_jobs(job_dirs, 2), 120, "two running jobs")
        groups = {r["pgid"] for r in running}
        assert len(group_members(groups)) == 4  # two jobs, each with its grandchild
        sweep.send_signal(stop)
        output, _ = sweep.communicate(timeout=60)
    finally:
        sweep.kill()
    assert group_members(groups) == []
    if sweeper == "ab":
        assert sweep.returncode == 130, output[-3000:]
        runs = ledger(tmp_path / "ab_test_results" / "probe")
        assert (
            sorted(r["error"] for r in runs.values() if r["attempts"])
            == ["interrupted (the sweep was stopped while it ran)"] * 2
        )
    else:
        assert sweep.returncode != 0 and not (tmp_path / "grid" / "2" / "seen.json").exists()


def test_jobs_end_on_their_own_when_the_sweeper_is_killed_and_a_rerun_resumes(tmp_path):
    app = probe(tmp_path)
    hold = tmp_path / "hold"
    hold.touch()
    overrides = [
        "hydra/sweeper=ab", "ab.experiment=exp.py", "ab.plots=false", "hydra/launcher=ab_local",
        "hydra.launcher.n_jobs=2", "hydra.launcher.stop_grace=2", "spawn=true", f"hold={hold}",
    ]  # fmt: skip
    sweep = _start_sweep(app, tmp_path, *overrides)
    exp_dir = tmp_path / "ab_test_results" / "probe"
    try:
        running = wait_for(lambda: _running_jobs([exp_dir / "a_run_1", exp_dir / "a_run_2"], 2), 120, "two jobs")
        sweep.kill()
        sweep.wait(timeout=30)
    finally:
        sweep.kill()
    groups = {r["pgid"] for r in running}
    wait_for(lambda: group_members(groups) == [], 30, "the orphaned jobs to end")
    hold.unlink()
    result = ok(run_sweep(app, *overrides[1:], cwd=tmp_path))  # the same command: it resumes
    runs = ledger(exp_dir)
    assert all(r["status"] == "completed" for r in runs.values()), runs
    assert {d: r["attempts"] for d, r in runs.items()} == {"a_run_1": 2, "a_run_2": 2, "b_run_1": 1, "b_run_2": 1}
    assert "4/4 completed" in result.output
    assert group_members(_job_groups(exp_dir)) == []  # the grandchildren of the completed jobs too


# --- retries stream into free slots ---------------------------------------------------------------------


def test_a_failed_run_is_retried_in_the_next_free_slot_while_the_other_slot_runs(tmp_path):
    """a_run_1 fails at once; its retry goes to the back of the queue (behind b_run_3) and starts in the first slot
    that frees, while b_run_3, the last first attempt, still runs: b_run_3 waits for the retry to start (in a round,
    the retry would start after every first attempt ended: b_run_3 would wait a minute in vain, then end first)."""
    app = probe(tmp_path, runs=3)
    result = ok(
        run_sweep(
            app, "ab.experiment=exp.py", "hydra/launcher=ab_local", "hydra.launcher.n_jobs=2", "fail_runs=[a_run_1]",
            "fail_kind=raise", "await_retry=[b_run_3]", cwd=tmp_path,
        )
    )  # fmt: skip
    exp_dir = result.experiment_dir("probe")
    retry = status(exp_dir / "a_run_1")
    first_attempts = [status(exp_dir / d) for d in ("a_run_2", "a_run_3", "b_run_1", "b_run_2", "b_run_3")]
    assert retry["attempt"] == 2
    assert retry["started_at"] < max(r["finished_at"] for r in first_attempts)
    assert max_concurrency([*all_records(exp_dir)]) == 2  # never more jobs than slots
    assert "[ab] a_run_1 failed (attempt 1); retried in the next free slot" in result.output
    assert "relaunching" not in result.output  # no second round
    runs = ledger(exp_dir)
    assert {d: (r["status"], r["attempts"]) for d, r in runs.items()} == {
        "a_run_1": ("completed", 2),
        **{d: ("completed", 1) for d in ("a_run_2", "a_run_3", "b_run_1", "b_run_2", "b_run_3")},
    }
    assert runs["a_run_1"]["errors"] == ["attempt 1: RuntimeError: deliberate failure of a_run_1"]
    variants = json.loads((exp_dir / "summary.json").read_text())["variants"]
    assert {name: (v["completed"], v["failed"]) for name, v in variants.items()} == {"a": (3, 0), "b": (3, 0)}
    assert variants["a"]["values"] == pytest.approx([0.11, 0.12, 0.13])  # lr + seed / 100: the retry's score counts


def test_a_streamed_run_gets_max_retries_retries_and_an_import_error_none(tmp_path):
    app = probe(tmp_path)
    result = run_sweep(
        app, "ab.experiment=exp.py", "hydra/launcher=ab_local", "hydra.launcher.n_jobs=2", "ab.max_retries=2",
        "fail_runs=[a_run_1,b_run_2]", "fail_kind=exit_always", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.output[-3000:]
    runs = ledger(result.experiment_dir("probe"))
    assert {d: (r["status"], r["attempts"]) for d, r in runs.items()} == {
        "a_run_1": ("failed", 3),
        "a_run_2": ("completed", 1),
        "b_run_1": ("completed", 1),
        "b_run_2": ("failed", 3),
    }
    assert "2 of 4 runs failed (up to 2 retries each)" in result.output

    imports = run_sweep(
        app, "ab.experiment=exp.py", "hydra/launcher=ab_local", "hydra.launcher.n_jobs=2", "ab.max_retries=2",
        "ab.output_dir=imports", "fail_runs=[a_run_1]", "fail_kind=import", cwd=tmp_path,
    )  # fmt: skip
    assert imports.returncode == 3, imports.output[-3000:]
    record = ledger(imports.experiment_dir("probe", "imports"))["a_run_1"]
    assert (record["status"], record["attempts"]) == ("failed", 1)
    assert record["not_retried"].startswith("an import error fails the same at every attempt")
    assert "retried in the next free slot" not in imports.output


def test_the_ledger_is_saved_as_runs_end_and_a_rerun_after_sigkill_resumes(tmp_path):
    """a_run_1 fails at once and is queued again behind b_run_*; the sweeper is SIGKILLed while two runs hold:
    its ledger already has a_run_1's failure, and the same command finishes the sweep."""
    app = probe(tmp_path)
    hold = tmp_path / "hold"
    hold.touch()
    overrides = [
        "hydra/sweeper=ab", "ab.experiment=exp.py", "ab.plots=false", "hydra/launcher=ab_local",
        "hydra.launcher.n_jobs=2", "hydra.launcher.stop_grace=2", f"hold={hold}", "fail_runs=[a_run_1]",
        "fail_kind=raise",
    ]  # fmt: skip
    exp_dir = tmp_path / "ab_test_results" / "probe"
    sweep = _start_sweep(app, tmp_path, *overrides)
    try:
        running = wait_for(lambda: _running_jobs([exp_dir / "a_run_2", exp_dir / "b_run_1"], 2), 120, "two jobs")
        saved = ledger(exp_dir)["a_run_1"]
        sweep.kill()
        sweep.wait(timeout=30)
    finally:
        sweep.kill()
    assert (saved["status"], saved["attempts"]) == ("failed", 1)
    assert saved["errors"] == ["attempt 1: RuntimeError: deliberate failure of a_run_1"]
    wait_for(lambda: group_members({r["pgid"] for r in running}) == [], 30, "the orphaned jobs to end")
    hold.unlink()
    result = ok(run_sweep(app, *overrides[1:], cwd=tmp_path))
    runs = ledger(exp_dir)
    assert {d: (r["status"], r["attempts"]) for d, r in runs.items()} == {
        "a_run_1": ("completed", 2),
        "a_run_2": ("completed", 2),
        "b_run_1": ("completed", 2),
        "b_run_2": ("completed", 1),
    }
    assert "4/4 completed" in result.output
