"""A/B test on Hydra's Optuna example `custom-search-space-objective.py`: w^2 + x^2 + y^2 + z^2 at x=1 vs x=2.

Its config sets Optuna's settings under hydra.sweeper (sampler, direction, n_trials, params, ...), which the ab
sweeper leaves unused. `w` is not in its config (Optuna adds it as `+w`), so the experiment adds it too. The
return value has no noise: every run of a variant gives the same number."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="sphere_x", description="Hydra's Optuna sphere example: x=1 vs x=2")
    .add_variant(name="x1", x=1)
    .add_variant(name="x2", x=2)
    .set_runs_per_variant(3)
    .set_base_config(**{"+w": 0.5})
    .set_metric("value", direction="min")
    .build()
)
