"""A/B test on a hydra-zen app: logistic regression on iris, strong vs weak regularization.

The app's root `seed` is read by nothing; its data split is `data.random_state`, which follows the seed here
so that the runs of a variant differ (otherwise every run of a variant gives the same accuracy). The task returns
one number (the monitored validation accuracy), which metta-ab names `value`."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="iris_logistic_c", description="LogisticRegression on iris: C=0.05 vs C=1")
    .add_variant(name="c_small", model__model__C=0.05)
    .add_variant(name="c_one", model__model__C=1.0)
    .set_runs_per_variant(3)
    .set_base_config(data__random_state="${seed}")
    .set_metric("value", direction="max")
    .build()
)
