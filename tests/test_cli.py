"""The `metta-ab` command and `run_ab_test()`, through the real entry point on real apps."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from sweeper_cli import METTA_LIKE, job_config, job_dirs, status, write_experiment

from metta_ab import ABRunError, create_experiment, exit_status, run_ab_test

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

METTA_AB = Path(sys.executable).parent / "metta-ab"

EXPERIMENT = """
experiment = (
    create_experiment("cli_test", "command line")
    .add_variant(name="a", trainer__learning_rate=0.001, known_scores=[0.01, 0.02])
    .add_variant(name="b", trainer__learning_rate=0.01, known_scores=[0.1, 0.1102])  # b - a: not constant
    .set_runs_per_variant(2)
    .set_metric("score")
    {extra}
    .build()
)
"""


def metta_ab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(METTA_AB), *args], cwd=cwd, capture_output=True, text=True, timeout=240)


@pytest.fixture
def experiment(tmp_path):
    return write_experiment(tmp_path / "exp.py", EXPERIMENT.format(extra=""))


def test_help_lists_the_seed_options(tmp_path):
    result = metta_ab("run", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--app", "--dry-run", "--output-dir", "--parallel", "--max-parallel", "--no-retry", "--verbose"):
        assert option in result.stdout
    assert "HYDRA_OVERRIDES" in result.stdout


def test_run_with_output_dir_verbose_and_passthrough_overrides(tmp_path, experiment):
    result = metta_ab(
        "run", "exp.py", "--app", str(METTA_LIKE), "--output-dir", "results/exp1", "-v", "--",
        "trainer.num_workers=5", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("$ ") and "hydra/sweeper=ab" in result.stdout.splitlines()[0]
    exp_dir = tmp_path / "results" / "exp1" / "cli_test"
    assert job_dirs(exp_dir) == ["a_run_1", "a_run_2", "b_run_1", "b_run_2"]
    assert job_config(exp_dir / "b_run_2")["trainer"]["num_workers"] == 5
    last = result.stdout.rstrip().splitlines()
    assert last[-2] == "Verdict:" and "b is better than a on score" in last[-1]


def test_dry_run_launches_nothing(tmp_path, experiment):
    result = metta_ab("run", "exp.py", "--app", str(METTA_LIKE), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 variants x 2 runs = 4 jobs" in result.stdout
    assert job_dirs(tmp_path / "ab_test_results" / "cli_test") == []


def test_parallel_uses_ab_local_with_max_parallel(tmp_path, experiment):
    result = metta_ab("run", "exp.py", "--app", str(METTA_LIKE), "--parallel", "--max-parallel", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ab_local is launching 4 job(s): 2 job(s) at a time, CPU jobs" in result.stdout + result.stderr
    pids = {status(tmp_path / "ab_test_results" / "cli_test" / d)["pid"] for d in ("a_run_1", "a_run_2", "b_run_1")}
    assert len(pids) == 3  # a fresh process per job


def test_no_retry_and_max_retries(tmp_path, experiment):
    failing = metta_ab("run", "exp.py", "--app", str(METTA_LIKE), "--no-retry", "--", "fail_mode=b_run_1", cwd=tmp_path)
    assert failing.returncode == exit_status.RUNS_FAILED
    assert "1 of 4 runs failed" in failing.stderr
    exp_dir = tmp_path / "ab_test_results" / "cli_test"
    assert not (exp_dir / "b_run_1" / "attempts").exists()

    retried = metta_ab(
        "run", "exp.py", "--app", str(METTA_LIKE), "--max-retries", "1", "--output-dir", "other", "--",
        "fail_mode=b_run_1", cwd=tmp_path,
    )  # fmt: skip
    assert retried.returncode == 0, retried.stderr
    assert status(tmp_path / "other" / "cli_test" / "b_run_1")["attempt"] == 2


def test_app_defaults_to_tools_train_py_and_to_set_app(tmp_path):
    shutil.copytree(METTA_LIKE.parent, tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tools" / "app.py").rename(tmp_path / "tools" / "train.py")
    write_experiment(tmp_path / "exp.py", EXPERIMENT.format(extra=""))
    assert metta_ab("run", "exp.py", cwd=tmp_path).returncode == 0
    assert len(job_dirs(tmp_path / "ab_test_results" / "cli_test")) == 4

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_experiment(elsewhere / "exp.py", EXPERIMENT.format(extra=f'.set_app("{tmp_path / "tools" / "train.py"}")'))
    assert metta_ab("run", "exp.py", "--dry-run", cwd=elsewhere).returncode == 0


def test_missing_app_is_a_clear_error(tmp_path, experiment):
    result = metta_ab("run", "exp.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "no training app at tools/train.py" in result.stderr and "--app" in result.stderr


def test_plan_without_and_with_an_app(tmp_path, experiment):
    plain = metta_ab("plan", "exp.py", cwd=tmp_path)
    assert plain.returncode == 0 and "a_run_2" in plain.stdout and "trainer.learning_rate=0.01" in plain.stdout
    write_experiment(
        tmp_path / "typo.py", EXPERIMENT.format(extra="").replace("trainer__learning_rate=0.01", "trainer__lr=0.01")
    )
    checked = metta_ab("plan", "typo.py", "--app", str(METTA_LIKE), cwd=tmp_path)
    assert checked.returncode == 1
    assert "key 'trainer__lr' (trainer.lr) does not exist" in checked.stderr


def test_output_into_a_closed_pipe_ends_quietly(tmp_path, experiment):
    """`metta-ab plan exp.py | head -0`: the reader is gone before the output comes."""
    command = [str(METTA_AB), "plan", "exp.py"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()
        status, stderr = proc.wait(timeout=240), proc.stderr.read().decode()
    assert (status, stderr) == (141, "")


def test_analyze_recomputes_with_other_settings(tmp_path, experiment):
    assert metta_ab("run", "exp.py", "--app", str(METTA_LIKE), cwd=tmp_path).returncode == 0
    exp_dir = tmp_path / "ab_test_results" / "cli_test"
    result = metta_ab("analyze", str(exp_dir), "--direction", "min", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "lower is better" in result.stdout
    summary = json.loads((exp_dir / "analyses" / "direction=min" / "summary.json").read_text())
    assert summary["direction"] == "min" and summary["comparisons"][0]["verdict"] == "worse"
    assert json.loads((exp_dir / "summary.json").read_text())["direction"] == "max"  # the sweep's, unchanged
    missing = metta_ab("analyze", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 2 and "is not an experiment directory" in missing.stderr


def nct_power(d: float, n: int, paired: bool, alpha: float = 0.05) -> float:
    """Two-sided t-test power from scipy's noncentral t: one-sample on n differences, or two-sample n + n."""
    df, nc = (n - 1, d * math.sqrt(n)) if paired else (2 * n - 2, d * math.sqrt(n / 2))
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.sf(crit, df, -nc))  # lower tail by symmetry: cdf can be NaN


def nct_runs(d: float, paired: bool, alpha: float = 0.05, power: float = 0.8) -> int:
    return next(n for n in range(2, 100_000) if nct_power(d, n, paired, alpha) >= power)


@pytest.mark.parametrize(
    ("args", "d_test", "paired", "alpha", "power", "runs"),
    [
        (["--effect-size", "1", "--paired", "--correlation", "0.5"], 1.0, True, 0.05, 0.8, 10),
        (["--effect-size", "1", "--independent"], 1.0, False, 0.05, 0.8, 17),
        (
            ["--effect-size", "0.7", "--paired", "--correlation", "0.8", "--alpha", "0.01", "--power", "0.9"],
            0.7 / math.sqrt(2 * (1 - 0.8)), True, 0.01, 0.9, None,
        ),
        (["--effect-size", "0.6", "--independent", "--alpha", "0.1", "--power", "0.95"], 0.6, False, 0.1, 0.95, None),
    ],
    ids=["paired-d1-r.5", "independent-d1", "paired-r.8", "independent-d.6"],
)  # fmt: skip
def test_power_plans_the_design_it_names(tmp_path, args, d_test, paired, alpha, power, runs):
    result = metta_ab("power", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    needed = nct_runs(d_test, paired, alpha, power)
    assert runs in (None, needed) and f"  {needed} runs per variant" in lines
    design = "one-sample t on the pair differences, df = n - 1" if paired else "noncentral t, df = 2n - 2"
    assert design in lines[1] and ("paired seeds" in lines[1]) == paired
    for n in (3, 5, 10, 20, 50):
        assert f"  with {n:>2} runs per variant: power {nct_power(d_test, n, paired, alpha):.2f}" in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--effect-size", "1", "--independent", "--alpha", "1.5"], "--alpha must be between 0 and 1"),
        (["--effect-size", "1", "--independent", "--alpha", "0"], "--alpha must be between 0 and 1"),
        (["--effect-size", "1", "--independent", "--power", "1"], "--power must be between 0 and 1"),
        (["--effect-size", "0", "--independent"], "--effect-size must be a positive number"),
        (["--effect-size", "-1", "--independent"], "--effect-size must be a positive number"),
        (["--effect-size", "nan", "--independent"], "--effect-size must be a positive number"),
        (["--effect-size", "1", "--paired", "--correlation", "1"], "--correlation must be between -1 and 1"),
        (["--effect-size", "1", "--paired", "--correlation", "-1.2"], "--correlation must be between -1 and 1"),
        (["--effect-size", "1", "--paired"], "--paired needs --correlation R"),
        (["--effect-size", "1"], "name the design: --paired --correlation R"),
        (["--effect-size", "1", "--independent", "--correlation", ".5"], "independent runs have no pairs"),
        (["--pilot", "x", "--paired"], "--pilot uses the pilot's own design"),
        (["--pilot", "no_such_dir"], "no_such_dir is not an experiment directory"),
    ],
)
def test_power_refuses_bad_input_in_one_line(tmp_path, args, message):
    result = metta_ab("power", *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("metta-ab power: error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1


PILOT_A, PILOT_B = [1.0, 2.0, 3.0, 4.0], [1.9, 3.6, 3.4, 5.3]
PILOT = f"""
experiment = (
    create_experiment("pilot", "power pilot")
    .add_variant(name="a", known_scores={PILOT_A})
    .add_variant(name="b", known_scores={PILOT_B})
    .set_runs_per_variant(4)
    .set_metric("score")
    .build()
)
"""


@pytest.mark.parametrize(
    ("paired", "min_effect"), [(True, None), (False, None), (True, 0.5)], ids=["paired", "independent", "min_effect"]
)
def test_power_from_a_pilot_uses_its_design_and_effect(tmp_path, paired, min_effect):
    declared = f'set_metric("score", min_effect={min_effect})'
    write_experiment(tmp_path / "pilot.py", PILOT.replace('set_metric("score")', declared))
    seeds = [] if paired else ["--", "ab.paired_seeds=false"]
    sweep = metta_ab("run", "pilot.py", "--app", str(METTA_LIKE), *seeds, cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    result = metta_ab("power", "--pilot", "ab_test_results/pilot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    a, b = np.array(PILOT_A), np.array(PILOT_B)
    if paired:  # d_z = mean / SD of the differences: 2.02, 5 pairs (the two-sample formula would say 6)
        diff = b - a
        d, name = (min_effect or diff.mean()) / diff.std(ddof=1), "d_z"
        assert f"pair correlation {np.corrcoef(a, b)[0, 1]:.2f}" in result.stdout
    else:  # Hedges' g: 0.68, 35 runs per variant
        pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        d, name = (b.mean() - a.mean()) / pooled * (1 - 3 / (4 * 8 - 9)), "Hedges' g"
    if min_effect is None:
        assert nct_runs(d, paired) == (5 if paired else 35) != nct_runs(d, not paired)
    line = result.stdout.splitlines()[1]
    effect = f"declared min_effect {min_effect:g}" if min_effect else f"observed difference {np.mean(b - a):+.3g}"
    assert line.startswith(f"  b vs a: {effect} ({name} = {d:.3g}: ")
    assert f"; {nct_runs(d, paired)} runs per variant (" in line


def test_power_refuses_a_pilot_without_a_verdict(tmp_path):
    write_experiment(tmp_path / "pilot.py", PILOT.replace('set_metric("score")', 'set_metric("scroe")'))
    sweep = metta_ab("run", "pilot.py", "--app", str(METTA_LIKE), cwd=tmp_path)
    assert sweep.returncode == exit_status.NO_VERDICT
    result = metta_ab("power", "--pilot", "ab_test_results/pilot", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "pilot ab_test_results/pilot has no verdict to plan from: " in result.stderr and "scroe" in result.stderr


def test_saved_experiment_yaml_runs_again(tmp_path, experiment):
    assert metta_ab("run", "exp.py", "--app", str(METTA_LIKE), "--dry-run", cwd=tmp_path).returncode == 0
    saved = tmp_path / "ab_test_results" / "cli_test" / "experiment_config.yaml"
    again = metta_ab("run", str(saved), "--app", str(METTA_LIKE), "--output-dir", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(job_dirs(tmp_path / "again" / "cli_test")) == 4


@pytest.mark.parametrize("parallel", [False, True], ids=["sequential", "parallel"])
def test_run_ab_test_returns_every_run(tmp_path, monkeypatch, parallel):
    monkeypatch.chdir(tmp_path)
    experiment = (
        create_experiment("programmatic", "run_ab_test")
        .add_variant(name="a", trainer__learning_rate=0.001)
        .add_variant(name="b", trainer__learning_rate=0.01)
        .set_runs_per_variant(3)
        .build()
    )
    results = run_ab_test(
        experiment,
        app=METTA_LIKE,
        output_dir=tmp_path / "custom_results",
        parallel_runs=parallel,
        max_parallel_runs=2,
        max_retries=1,
        overrides=["fail_mode=b_run_2", "fail_kind=always"],
        quiet=True,
    )
    assert set(results) == {"a", "b"}
    summary = {}
    for variant_name, runs in results.items():  # the seed README's loop, as written there
        successful_runs = [r for r in runs if r["success"]]
        summary[variant_name] = f"{len(successful_runs)}/{len(runs)} successful"
    assert summary == {"a": "3/3 successful", "b": "2/3 successful"}
    failed = next(r for r in results["b"] if not r["success"])
    assert failed["run_name"] == "b_run_2" and failed["attempts"] == 2
    assert "ValueError: deliberate failure of b_run_2" in failed["error"]
    ok = results["a"][0]
    assert ok["seed"] == 1 and ok["metrics"]["score"] == pytest.approx(0.02) and ok["duration"] is not None
    assert Path(ok["run_dir"]) == tmp_path / "custom_results" / "programmatic" / "a_run_1"


def test_run_ab_test_raises_for_bad_input_before_running(tmp_path):
    experiment = (
        create_experiment("bad_key", "typo")
        .add_variant(name="a", trainer__lerning_rate=0.1)
        .add_variant(name="b", trainer__learning_rate=0.1)
        .build()
    )
    with pytest.raises(ABRunError, match=r"Did you mean 'trainer\.learning_rate'"):
        run_ab_test(experiment, app=METTA_LIKE, output_dir=tmp_path / "r", quiet=True)
    assert job_dirs(tmp_path / "r" / "bad_key") == []


def test_version_and_the_bare_command(tmp_path):
    version = metta_ab("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout) == (0, f"metta-ab {importlib.metadata.version('metta-ab')}\n")
    bare = metta_ab(cwd=tmp_path)
    assert (bare.returncode, bare.stderr) == (0, "")
    assert bare.stdout.startswith("usage: metta-ab")
    for command in ("run", "plan", "analyze", "status", "power"):
        assert f"    {command} " in bare.stdout


def test_plan_json_is_the_only_thing_on_stdout(tmp_path, experiment):
    expected = ["a_run_1", "a_run_2", "b_run_1", "b_run_2"]
    for app in ([], ["--app", str(METTA_LIKE)]):
        result = metta_ab("plan", "exp.py", *app, "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        plan = json.loads(result.stdout)  # all of stdout is one document
        assert plan["experiment"] == "cli_test"
        assert [r["job_dir"] for r in plan["runs"]] == expected
        b_run = plan["runs"][2]
        assert "trainer.learning_rate=0.01" in b_run["overrides"] and b_run["seed"] == plan["runs"][0]["seed"]


def test_scores_csv_and_analyze_json(tmp_path):
    known = {"a": [0.01, 0.02, 0.03], "b": [0.1, 0.1102, 0.13]}
    body = (
        EXPERIMENT.format(extra="")
        .replace("known_scores=[0.01, 0.02]", f"known_scores={known['a']}")
        .replace("known_scores=[0.1, 0.1102]", f"known_scores={known['b']}")
        .replace("set_runs_per_variant(2)", "set_runs_per_variant(3)")
    )
    write_experiment(tmp_path / "exp.py", body)
    run = metta_ab(
        "run", "exp.py", "--app", str(METTA_LIKE), "--no-retry", "--", "fail_mode=b_run_3", "fail_kind=always",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == exit_status.RUNS_FAILED, run.stderr
    exp_dir = tmp_path / "ab_test_results" / "cli_test"
    summary = json.loads((exp_dir / "summary.json").read_text())
    with open(exp_dir / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = ["variant", "task", "run_index", "seed", "status", "score", "run_name", "job_dir", "metric:score"]
    assert list(rows[0]) == columns
    assert [(r["variant"], r["run_index"], r["status"]) for r in rows] == [
        (v, str(i), "failed" if (v, i) == ("b", 3) else "completed") for v in "ab" for i in (1, 2, 3)
    ]
    seeds = {(r["variant"], r["run_index"], r["seed"]) for r in summary["runs"]}
    for row in rows:
        value = known[row["variant"]][int(row["run_index"]) - 1]
        assert (row["variant"], int(row["run_index"]), int(row["seed"])) in seeds and row["task"] == ""
        if row["status"] == "completed":  # the score is the value the app returned, and summary.json's
            assert float(row["score"]) == value == float(row["metric:score"])
            assert summary["variants"][row["variant"]]["values"][int(row["run_index"]) - 1] == value
        else:
            assert row["score"] == row["metric:score"] == ""
    result = metta_ab("analyze", str(exp_dir), "--direction", "min", "--no-plots", "--json", cwd=tmp_path)
    document = json.loads(result.stdout)  # all of stdout is one document; the messages are on stderr
    directory = Path(document["report_directory"])
    assert directory == exp_dir / "analyses" / "direction=min" and "analysis written to" in result.stderr
    assert document["summary"] == json.loads((directory / "summary.json").read_text())
    assert document["summary"]["direction"] == "min"
    assert result.returncode == (exit_status.NO_VERDICT if document["summary"]["no_verdict"] else exit_status.VERDICT)
    assert (directory / "scores.csv").read_text() == (exp_dir / "scores.csv").read_text()  # the same runs and scores
