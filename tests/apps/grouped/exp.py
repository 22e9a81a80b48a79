from metta_ab import create_experiment

experiment = (
    create_experiment("grouped", "databases on a nested task")
    .add_variant(name="mysql", db="mysql")
    .add_variant(name="postgres", db="postgresql")
    .set_runs_per_variant(2)
    .set_base_config(defaults=["/task/vmas/balance", "/extra/one", "/shared"], lr=0.2)
    .set_wandb_config(entity="team")
    .build()
)
