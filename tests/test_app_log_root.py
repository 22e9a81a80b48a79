"""An app that writes where its own config says (`log_root: logs/runs`, relative to the directory the command
starts in), through the real command line: its runs get a verdict with no setting, because the sweeper points
the key into each job's directory; `ab.inject.paths=null` gives the old no-verdict; seeds start at 1, which an
app that treats seed 0 as "unseeded" needs; an experiment started with seed 0 keeps it when resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweeper_cli import APPS, job_config, run_sweep, status, write_experiment

from metta_ab import exit_status

pytest.importorskip("tensorboardX")  # the app writes TensorBoard events with it (metta-ab reads without it)
pytestmark = pytest.mark.slow

APP = APPS / "own_log_root" / "app.py"
QUALITY = {"low": 0.5, "high": 0.6}
MOVED = "Injection: paths: log_root -> ${hydra:runtime.output_dir}/logs/runs, so that each run writes in its own"

EXPERIMENT = """
experiment = (
    create_experiment("{name}")
    .add_variant(name="low", quality=0.5{extra})
    .add_variant(name="high", quality=0.6{extra})
    .set_runs_per_variant({runs})
    .set_metric("{metric}", direction="max")
    .build()
)
"""


def final_score(quality: float, seed: int) -> float:
    """Where the app's curve ends (tests/apps/own_log_root/app.py `score` at the last step)."""
    return quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)


def experiment(tmp_path: Path, name: str, *, runs: int = 3, metric: str = "eval/return", extra: str = "") -> str:
    header = "from metta_ab import job_dir\n" if "job_dir" in extra else ""
    write_experiment(tmp_path / "exp.py", header + EXPERIMENT.format(name=name, runs=runs, metric=metric, extra=extra))
    return "ab.experiment=exp.py"


def run_logs(job_dir: Path, below: str = "logs/runs") -> list[Path]:
    """The app's run directories (`<time>_<seed>`) under the job directory."""
    return sorted((job_dir / below).glob("*_*"))


@pytest.mark.parametrize(
    ("launcher", "chdir"), [("basic", "False"), ("basic", "True"), ("joblib", "False"), ("joblib", "True")]
)
def test_an_app_with_its_own_log_root_gets_its_verdict_with_no_setting(tmp_path, launcher, chdir):
    result = run_sweep(
        APP, experiment(tmp_path, "own"), f"hydra/launcher={launcher}", f"hydra.job.chdir={chdir}", "ab.plots=false",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == exit_status.VERDICT, result.output
    assert not (tmp_path / "logs").exists()  # nothing in the shared tree the app's config names
    directory = result.experiment_dir("own")
    summary = json.loads((directory / "summary.json").read_text())
    for variant, quality in QUALITY.items():
        assert summary["variants"][variant]["values"] == pytest.approx(
            [final_score(quality, seed) for seed in (1, 2, 3)], abs=1e-4
        )
    (comparison,) = summary["comparisons"]
    assert comparison["verdict"] == "better" and summary["paired"] is True
    assert any(note.startswith(MOVED.removeprefix("Injection: ")) for note in summary["injection"])
    seen = set()
    for run in summary["runs"]:
        job_dir = directory / run["job_dir"]
        assert Path(job_config(job_dir)["log_root"]) == job_dir / "logs" / "runs"  # as the job resolved it
        (run_dir,) = run_logs(job_dir)  # one run directory of the app per job, in that job's directory
        assert run_dir.name.endswith(f"_{run['seed']}") and run["seed"] == run["run_index"]
        assert json.loads((run_dir / "run.json").read_text()) == {"seeded": True, "seed": run["seed"]}
        assert (run_dir / "progress.csv").is_file() and list((run_dir / "tb").glob("events.out.tfevents.*"))
        seen.add(run_dir.resolve())
    assert len(seen) == len(summary["runs"]) == 6


def test_the_progress_csv_in_the_apps_log_root_is_read_too(tmp_path):
    result = run_sweep(APP, experiment(tmp_path, "csv", metric="rollout/ep_rew_mean"), "ab.plots=false", cwd=tmp_path)
    assert result.returncode == exit_status.VERDICT, result.output
    summary = json.loads((result.experiment_dir("csv") / "summary.json").read_text())
    assert summary["variants"]["high"]["values"] == pytest.approx([final_score(0.6, s) for s in (1, 2, 3)], abs=1e-4)


def test_paths_null_leaves_the_app_writing_outside_the_job_dirs_and_says_no_verdict(tmp_path):
    result = run_sweep(APP, experiment(tmp_path, "off"), "ab.inject.paths=null", "ab.plots=false", cwd=tmp_path)
    assert result.returncode == exit_status.NO_VERDICT, result.output
    last = result.errors.strip().splitlines()[-1]
    assert "no verdict" in last and last.endswith(
        "Or drop ab.inject.paths=null: by default the sweeper moves such keys into each job dir."
    )
    assert run_logs(tmp_path)  # in the directory the command started in, shared by every job
    directory = result.experiment_dir("off")
    assert not any(run_logs(directory / f"{v}_run_{i}") for v in QUALITY for i in (1, 2, 3))
    assert "paths:" not in (directory / "plan.txt").read_text()


def test_a_dry_run_lists_the_keys_it_moves_and_those_it_leaves(tmp_path):
    exp = experiment(tmp_path, "dry")
    result = run_sweep(APP, exp, "ab.dry_run=true", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert MOVED in result.stdout
    assert "    ++log_root='${hydra:runtime.output_dir}/logs/runs'" in result.stdout
    assert MOVED in (result.experiment_dir("dry") / "plan.txt").read_text()

    shared = tmp_path / "shared logs"
    result = run_sweep(APP, exp, "ab.dry_run=true", f"log_root='{shared}'", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert f"Injection: paths: log_root kept as set ('{shared}'): the command line or the experiment sets it" in (
        result.stdout
    )
    assert "++log_root" not in result.stdout

    result = run_sweep(APP, exp, "ab.dry_run=true", "ab.inject.paths=log_root", cwd=tmp_path)  # one key: [log_root]
    assert result.returncode == 0 and MOVED in result.stdout, result.output

    result = run_sweep(APP, exp, "ab.dry_run=true", "ab.inject.paths=[log_rot]", cwd=tmp_path)
    assert result.returncode == 1
    assert "ab.inject.paths: the app's config has no key 'log_rot' (did you mean 'log_root'?)" in result.errors


def test_seed_zero_is_unseeded_in_the_app_and_a_resumed_experiment_keeps_it(tmp_path):
    """An experiment started with ab.base_seed=0 (the old default: its ledger records it) and a value given
    relative to the job directory (`job_dir("mine")`): rerun with more runs and no seed setting, it keeps its
    seeds and runs only the new runs; with its ledger lost, the jobs' own records say the same."""
    extra = ', log_root=job_dir("mine")'
    first = run_sweep(APP, experiment(tmp_path, "old", runs=2, extra=extra), "ab.base_seed=0", cwd=tmp_path)
    directory = first.experiment_dir("old")
    assert first.returncode == exit_status.VERDICT, first.output
    assert "Injection: paths: log_root is already inside each job's directory" in (directory / "plan.txt").read_text()
    unseeded = json.loads(run_logs(directory / "low_run_1", "mine")[0].joinpath("run.json").read_text())
    assert unseeded["seeded"] is False  # seed 0: the app drew a seed of its own
    assert json.loads(run_logs(directory / "low_run_2", "mine")[0].joinpath("run.json").read_text())["seeded"]
    finished = {d: status(directory / d)["finished_at"] for d in ("low_run_1", "low_run_2", "high_run_1")}

    again = run_sweep(APP, experiment(tmp_path, "old", runs=3, extra=extra), "ab.plots=false", cwd=tmp_path)
    assert again.returncode == exit_status.VERDICT, again.output
    assert "was started with ab.base_seed=0: its runs keep their seeds" in again.output
    assert "resuming: 4 of 6 runs already completed" in again.output
    assert {d: status(directory / d)["finished_at"] for d in finished} == finished  # not run again
    assert [status(directory / f"high_run_{i}")["seed"] for i in (1, 2, 3)] == [0, 1, 2]

    (directory / "ledger.json").unlink()
    lost = run_sweep(APP, experiment(tmp_path, "old", runs=3, extra=extra), "ab.plots=false", cwd=tmp_path)
    assert lost.returncode == exit_status.VERDICT, lost.output
    assert "rebuilt from the 6 job records" in lost.output
    assert {d: status(directory / d)["finished_at"] for d in finished} == finished
