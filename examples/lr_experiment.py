"""Quick start: does a 10x higher learning rate help the example agent? 2 variants x 5 seeds.

    python examples/train.py -m hydra/sweeper=ab ab.experiment=examples/lr_experiment.py \
        hydra/launcher=joblib hydra.launcher.n_jobs=2
"""

from metta_ab import create_experiment


def create_lr_experiment():
    return (
        create_experiment(
            name="lr_experiment",
            description="Learning rate 0.1 vs 0.01 for tabular Q-learning on the navigation curriculum",
        )
        .add_variant(
            name="lr_0.01",
            description="Baseline learning rate",
            trainer__learning_rate=0.01,
            run="lr_low",
        )
        .add_variant(
            name="lr_0.1",
            description="10x higher learning rate",
            trainer__learning_rate=0.1,
            run="lr_high",
        )
        .set_runs_per_variant(5)
        .set_base_config(defaults=["/common", "/agent/tabular", "/trainer/trainer"], trainer__total_timesteps=300_000)
        .set_metric("reward", direction="max")
        .build()
    )
