"""Every user mistake: one clear error (what, where, how to fix), exit status 1, and no job launched."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest
from sweeper_cli import METTA_LIKE, STRUCTURED, run_sweep

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

VALID_VARIANTS = """
    .add_variant(name="a", trainer__learning_rate=0.1)
    .add_variant(name="b", trainer__learning_rate=0.2)
"""


def builder(*chain: str, name: str = "bad") -> str:
    return (
        "from metta_ab import create_experiment\n\n"
        f"def create_it():\n    return (create_experiment({name!r}, 'x')" + "".join(chain) + ".build())\n"
    )


CASES = {
    "missing file": (None, "nope.py", ["experiment file 'nope.py' not found"]),
    "syntax error": ("def broken(:\n", "exp.py", ["exp.py", "syntax error at line 1"]),
    "import raises": (
        "raise RuntimeError('boom at import')\n",
        "exp.py",
        ["exp.py", "raised RuntimeError while being imported: boom at import"],
    ),
    "no experiment": ("from metta_ab import create_experiment\nx = 1\n", "exp.py", ["defines no experiment"]),
    "several factories": (
        builder(VALID_VARIANTS) + "\ndef create_other():\n    return create_it()\n",
        "exp.py",
        ["several create_* functions (create_it, create_other)", "exp.py:create_it"],
    ),
    "factory raises": (
        "def create_it():\n    raise KeyError('oops')\n",
        "exp.py",
        ["exp.py:create_it() raised KeyError"],
    ),
    "forgot build": (
        "from metta_ab import create_experiment\n\ndef create_it():\n"
        "    return create_experiment('x').add_variant(name='a').add_variant(name='b')\n",
        "exp.py",
        ["returned ExperimentBuilder, not an ABExperiment", "did you forget .build()?"],
    ),
    "one variant": (builder('.add_variant(name="a")'), "exp.py", ["has 1 variant(s)", "at least 2"]),
    "duplicate names": (
        builder('.add_variant(name="a")', '.add_variant(name="a")'),
        "exp.py",
        ["two variants are named 'a'"],
    ),
    "slash in name": (
        builder('.add_variant(name="a/b")', '.add_variant(name="c")'),
        "exp.py",
        ["variant name 'a/b' is not usable as a directory name"],
    ),
    "dotdot name": (
        builder('.add_variant(name="..")', '.add_variant(name="c")'),
        "exp.py",
        ["variant name '..' is not usable"],
    ),
    "space in name": (
        builder('.add_variant(name="my variant")', '.add_variant(name="c")'),
        "exp.py",
        ["variant name 'my variant' is not usable"],
    ),
    "zero runs": (builder(VALID_VARIANTS, ".set_runs_per_variant(0)"), "exp.py", ["runs_per_variant must be", "got 0"]),
    "typo in key": (
        builder('.add_variant(name="a", trainer__lerning_rate=0.1)', '.add_variant(name="b")'),
        "exp.py",
        [
            "variant 'a'",
            "'trainer__lerning_rate'",
            "does not exist",
            "Did you mean 'trainer.learning_rate'",
            'add_variant(name="a", ..., **{"+trainer.lerning_rate": 0.1})',
        ],
    ),
    "top-level key that lives deeper": (
        builder(VALID_VARIANTS, ".set_base_config(total_timesteps=10)"),
        "exp.py",
        ["base config", "'total_timesteps'", "Did you mean 'trainer.total_timesteps'"],
    ),
    "unknown group option in defaults": (
        builder(VALID_VARIANTS, '.set_base_config(defaults=["/agent/fsat"])'),
        "exp.py",
        ["'/agent/fsat' names no config group option", "Group 'agent' has options: fast, slow", "'/agent/fast'"],
    ),
    "unknown group in defaults": (
        builder(VALID_VARIANTS, '.set_base_config(defaults=["/nothing/here"])'),
        "exp.py",
        ["'/nothing/here' names no config group option", "Groups: agent, trainer, wandb", "root configs: common"],
    ),
    "unknown option for a group key": (
        builder('.add_variant(name="a", agent="huge")', '.add_variant(name="b")'),
        "exp.py",
        ["variant 'a'", "agent", "huge"],
    ),
    "variant sets an injected key": (
        builder('.add_variant(name="a", seed=3)', '.add_variant(name="b")'),
        "exp.py",
        ["variant 'a' sets 'seed'", "ab.inject.seed=null"],
    ),
    "same run prefix": (
        builder('.add_variant(name="a", run="x")', '.add_variant(name="b", run="x")'),
        "exp.py",
        ["variants 'a' and 'b' both name their runs 'x'"],
    ),
    "runs not a number": (builder(VALID_VARIANTS, '.set_runs_per_variant("5")'), "exp.py", ["runs_per_variant", "'5'"]),
    "negative runs": (builder(VALID_VARIANTS, ".set_runs_per_variant(-2)"), "exp.py", ["got -2"]),
    "empty name": (
        builder('.add_variant(name="")', '.add_variant(name="c")'),
        "exp.py",
        ["variant name must be a non-empty string"],
    ),
    "tags as one string": (
        builder('.add_variant(name="a", tags="baseline")', '.add_variant(name="b")'),
        "exp.py",
        ["variant 'a': tags must be a list of strings", "'baseline'"],
    ),
    "yaml with a wrong schema": ("nme: x\nvariants: []\n", "exp.yaml", ["exp.yaml", "unknown field(s) ['nme']"]),
    "yaml that is not yaml": ("name: [unclosed\n", "exp.yaml", ["exp.yaml", "is not readable YAML"]),
    "not python or yaml": ("x", "exp.txt", ["expected a .py or .yaml file"]),
    "unsupported value": (
        "import pathlib\n" + builder('.add_variant(name="a", trainer__curriculum=object())', '.add_variant(name="b")'),
        "exp.py",
        ["variant 'a', key 'trainer__curriculum'", "cannot be passed to a Hydra app"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_experiment_is_refused_before_launch(tmp_path, case):
    body, filename, fragments = CASES[case]
    if body is not None:
        (tmp_path / filename).write_text(body)
    result = run_sweep(METTA_LIKE, f"ab.experiment={filename}", cwd=tmp_path)
    assert result.returncode == 1, result.output
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert "Launching" not in result.output
    assert not list(tmp_path.glob("ab_test_results/*/*_run_*"))


def test_command_line_sweep_is_refused(tmp_path):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "trainer.num_workers=1,2", cwd=tmp_path)
    assert result.returncode == 1
    assert "'trainer.num_workers=1,2' is a sweep" in result.stderr
    assert "Launching" not in result.output


def test_output_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    (tmp_path / "results").write_text("not a dir")
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.output_dir=results", cwd=tmp_path)
    assert result.returncode == 1
    assert f"ab.output_dir=results: {tmp_path / 'results'} is a file, not a directory" in result.stderr


@pytest.mark.parametrize("where", ["experiment", "job"])
def test_a_file_where_a_directory_belongs_is_refused(tmp_path, where):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    path = tmp_path / "results" / "bad" / ("a_run_1" if where == "job" else "")
    path.parent.mkdir(parents=True)
    path.write_text("not a dir")
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.output_dir=results", cwd=tmp_path)
    assert result.returncode == 1
    what = "job directory" if where == "job" else "the experiment directory"
    assert result.stderr.startswith(f"ab.output_dir=results: {what} {path} is a file, not a directory; move it away")
    assert "Traceback" not in result.stderr and "Launching" not in result.output


@contextmanager
def read_only(path):
    """`path` unwritable, for root too (chmod does not stop root; the immutable attribute does)."""
    as_root = os.geteuid() == 0
    if as_root:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False).returncode:
            pytest.skip("running as root, and chattr +i is not available here")
    else:
        path.chmod(0o555)
    try:
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755)


@pytest.mark.parametrize("where", ["experiment", "job"])
def test_a_read_only_directory_is_refused(tmp_path, where):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    path = tmp_path / "results" / "bad" / ("a_run_1" if where == "job" else "")
    path.mkdir(parents=True)
    with read_only(path):
        result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.output_dir=results", cwd=tmp_path)
    assert result.returncode == 1
    assert f"{path} is not writable; make it writable (chmod -R u+w {path})" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr and "Launching" not in result.output


def test_unknown_ab_setting_is_refused(tmp_path):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.max_retires=2", cwd=tmp_path)
    assert result.returncode == 1
    assert "ab.max_retires is not a setting of the ab sweeper; did you mean ab.max_retries?" in result.stderr
    assert "Launching" not in result.output
    nested = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.inject.sed=x", cwd=tmp_path)
    assert "ab.inject.sed is not a setting of the ab sweeper; did you mean ab.inject.seed?" in nested.stderr


def test_experiment_path_that_is_a_directory(tmp_path):
    (tmp_path / "exp.py").mkdir()
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == 1 and "not found (it is a directory)" in result.stderr


def test_value_the_schema_rejects(tmp_path):
    (tmp_path / "exp.py").write_text(
        builder('.add_variant(name="a", trainer__epochs=2)', '.add_variant(name="b", trainer__epochs="many")')
    )
    result = run_sweep(STRUCTURED, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "variant 'b': the app's config does not accept it" in result.stderr
    assert "Value 'many' of type 'str' could not be converted to Integer" in result.stderr
    assert "Launching" not in result.output


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ("ab.inject.seed=trainer.sed", "ab.inject.seed=trainer.sed: the app's config has no key 'trainer.sed'"),
        ("ab.inject.run_name=name", "ab.inject.run_name=name: the app's config has no key 'name'"),
    ],
)
def test_key_map_pointing_at_a_missing_key(tmp_path, setting, fragment):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", setting, cwd=tmp_path)
    assert result.returncode == 1
    assert fragment in result.stderr and "=null to not inject it" in result.stderr
    assert "Launching" not in result.output


def test_output_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "exp.py").write_text(builder(VALID_VARIANTS))
    (tmp_path / "blocker").write_text("a file where a directory must go")
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.output_dir=blocker/results", cwd=tmp_path)
    assert result.returncode == 1
    assert "ab.output_dir=blocker/results" in result.stderr and "Traceback" not in result.stderr


# Mistakes said in the FIRST line of stderr, alone: (experiment file body, extra command-line settings, fragments).
ONE_LINE_CASES = {
    "exits at import": (
        "import sys\nsys.exit(0)\n",
        [],
        ["exp.py", "exited with code 0 while being imported at line 2"],
    ),
    "exits at import with a code": ("import sys\n\nsys.exit(3)\n", [], ["exited with code 3", "at line 3"]),
    "factory exits": (
        "import sys\n\ndef create_it():\n    sys.exit(0)\n",
        [],
        ["exp.py:create_it() exited with code 0 at line 4; it must return the experiment"],
    ),
    "build error at module level": (
        "from metta_ab import create_experiment\n\nexperiment = create_experiment('x').add_variant(name='a').build()\n",
        [],
        ["exp.py at line 3: experiment 'x' has 1 variant(s)"],
    ),
    "variant sets hydra.job.chdir": (
        builder('.add_variant(name="a", **{"hydra.job.chdir": True})', '.add_variant(name="b")'),
        [],
        [
            "variant 'a': key 'hydra.job.chdir'",
            "set hydra.job.chdir on the command line, where it applies to every run",
        ],
    ),
    "variant sets hydra__sweep__dir": (
        builder('.add_variant(name="a", hydra__sweep__dir="elsewhere")', '.add_variant(name="b")'),
        [],
        ["variant 'a': key 'hydra__sweep__dir'", "set hydra.sweep.dir on the command line"],
    ),
    "variant adds +hydra.x": (
        builder('.add_variant(name="a", **{"+hydra.x": 1})', '.add_variant(name="b")'),
        [],
        ["variant 'a': key '+hydra.x'", "set hydra.x on the command line"],
    ),
    "task sets ab.max_retries": (
        builder(VALID_VARIANTS, '.add_task(name="t1", **{"ab.max_retries": 0})', '.add_task(name="t2")'),
        [],
        ["task 't1': key 'ab.max_retries' is the ab sweeper's setting", "set ab.max_retries on the command line"],
    ),
    "base config sets hydra": (
        builder(VALID_VARIANTS, ".set_base_config(hydra__job__chdir=True)"),
        [],
        ["experiment 'bad' base config: key 'hydra__job__chdir'", "set hydra.job.chdir on the command line"],
    ),
    "base defaults select a hydra option": (
        builder(VALID_VARIANTS, '.set_base_config(defaults=["/hydra/launcher/joblib"])'),
        [],
        ["'/hydra/launcher/joblib' selects a Hydra setting", "(hydra/launcher=joblib)"],
    ),
    "variant name too long": (
        builder(f'.add_variant(name="{"v" * 101}")', '.add_variant(name="b")'),
        [],
        ["variant name 'vvvv", "is 101 characters long", "at most 100"],
    ),
    "experiment name too long": (
        builder(VALID_VARIANTS, name="e" * 150),
        [],
        ["experiment name 'eeee", "is 150 characters long"],
    ),
    "numpy matrix value": (
        "import numpy as np\n"
        + builder('.add_variant(name="a", trainer__curriculum=np.eye(2))', '.add_variant(name="b")'),
        [],
        ["variant 'a', key 'trainer__curriculum': a numpy array of shape (2, 2) is not one value"],
    ),
    "set value": (
        builder('.add_variant(name="a", trainer__curriculum={1, 2})', '.add_variant(name="b")'),
        [],
        ["variant 'a', key 'trainer__curriculum': a value of type set"],
    ),
    "alpha 0.5": (builder(VALID_VARIANTS), ["ab.analysis.alpha=0.5"], ["ab.analysis: alpha must be", "got 0.5"]),
    "ci_level 1": (builder(VALID_VARIANTS), ["ab.analysis.ci_level=1"], ["ab.analysis: ci_level must be", "< 1"]),
    "n_resamples 10": (
        builder(VALID_VARIANTS),
        ["ab.analysis.n_resamples=10"],
        ["n_resamples must be a whole number >= 100"],
    ),
    "negative analysis seed": (builder(VALID_VARIANTS), ["ab.analysis.seed=-1"], ["ab.analysis: seed must be"]),
    "last_k 0": (
        builder(VALID_VARIANTS),
        ["ab.analysis.last_k=0"],
        ["ab.analysis: last_k must be a whole number >= 1"],
    ),
    "negative min_effect": (
        builder(VALID_VARIANTS),
        ["ab.analysis.min_effect=-1"],
        ["ab.analysis: min_effect must be"],
    ),
    "negative max_retries": (
        builder(VALID_VARIANTS),
        ["ab.max_retries=-1"],
        ["ab.max_retries=-1: must be a whole number >= 0"],
    ),
    "zero run_timeout": (
        builder(VALID_VARIANTS),
        ["ab.run_timeout=0"],
        ["ab.run_timeout=0.0: must be a finite number > 0"],
    ),
    "negative settle_timeout": (builder(VALID_VARIANTS), ["ab.settle_timeout=-5"], ["ab.settle_timeout=-5.0: must be"]),
    "negative base_seed": (
        builder(VALID_VARIANTS),
        ["ab.base_seed=-1"],
        ["ab.base_seed=-1: must be a whole number >= 0"],
    ),
    "zero progress_interval": (builder(VALID_VARIANTS), ["ab.progress_interval=0"], ["ab.progress_interval=0.0: must"]),
    "runs_per_look 1": (
        builder(VALID_VARIANTS),
        ["ab.sequential.runs_per_look=1"],
        ["ab.sequential: runs_per_look must"],
    ),
    "sequential schedule": (
        builder(VALID_VARIANTS, '.set_metric("score")'),
        ["ab.sequential.max_runs_per_variant=5", "ab.sequential.runs_per_look=2"],
        ["ab.sequential over the experiment's sequential design: max_runs_per_variant (5) must be a multiple of"],
    ),
    "control that is not a variant": (
        builder(VALID_VARIANTS),
        ["ab.analysis.control=c"],
        ["ab.analysis over the experiment's metric settings: control 'c' is not a variant; variants: a, b"],
    ),
}


@pytest.mark.parametrize("case", sorted(ONE_LINE_CASES))
def test_mistake_is_the_first_line_of_stderr_before_launch(tmp_path, case):
    body, settings, fragments = ONE_LINE_CASES[case]
    (tmp_path / "exp.py").write_text(body)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *settings, cwd=tmp_path)
    assert result.returncode == 1, result.output
    first = result.stderr.splitlines()[0] if result.stderr else ""
    for fragment in fragments:
        assert fragment in first, f"{fragment!r} not in the first line of:\n{result.stderr}"
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr
    assert "Launching" not in result.output
    assert not list(tmp_path.glob("ab_test_results/*/*_run_*"))
