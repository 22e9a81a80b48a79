from metta_ab import create_experiment


def create_lr():
    return (
        create_experiment("lr_test", "two learning rates")
        .add_variant(name="low", description="low lr", trainer__learning_rate=0.001, run="lowlr")
        .add_variant(name="high", description="high lr", trainer__learning_rate=0.01, tags=["fast"])
        .set_runs_per_variant(3)
        .set_base_config(defaults=["/common", "/agent/slow"], trainer__total_timesteps=5000)
        .build()
    )
