"""Names and values can never escape the experiment directory or inject extra overrides."""

from __future__ import annotations

from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import given, settings
from hypothesis import strategies as st

from metta_ab import ABExperiment, ABVariant, ExperimentError
from metta_ab.plan import PlanSettings, plan_experiment

NASTY = st.lists(st.sampled_from([*"ab./\\_-~ \n\t$'\",=+[]{}:%*", "..", "é"]), max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(name=st.one_of(NASTY, st.text(max_size=12)))
def test_a_variant_name_is_refused_or_stays_inside_the_experiment_directory(name):
    experiment = ABExperiment(name="exp", variants=[ABVariant(name, overrides={"x": 1}), ABVariant("other")])
    try:
        runs = plan_experiment(experiment.validate(), PlanSettings())
    except ExperimentError:
        return
    root = Path("/results/exp")
    for run in runs:
        path = (root / run.job_dir).resolve()
        assert path.parent == root and path.name == run.job_dir


@settings(max_examples=300, deadline=None)
@given(value=st.text(), run_prefix=st.one_of(NASTY, st.text(max_size=12)))
def test_values_and_run_names_are_each_exactly_one_override(value, run_prefix):
    experiment = ABExperiment(
        name="exp", variants=[ABVariant("a", overrides={"note": value, "run": run_prefix}), ABVariant("b")]
    ).validate()
    try:
        runs = plan_experiment(experiment, PlanSettings())
    except ExperimentError as error:  # a run name that is not a safe directory name is refused
        assert "run name prefix" in str(error) or "both name their runs" in str(error)
        return
    assert "/" not in runs[0].run_name and ".." not in runs[0].run_name
    parser = OverridesParser.create()
    for run in runs[:1]:
        parsed = parser.parse_overrides(list(run.overrides))
        assert len(parsed) == len(run.overrides)
        assert not any(o.is_sweep_override() for o in parsed)
        assert [o.key_or_group for o in parsed] == [o.split("=", 1)[0].lstrip("+") for o in run.overrides]
