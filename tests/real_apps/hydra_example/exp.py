"""A/B test on Hydra's example app: its `db` config group (mysql vs postgresql) plus a plain key."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="hydra_example_db", description="Hydra's example app: db=mysql vs db=postgresql")
    .add_variant(name="mysql", db="mysql", db__user="alice")
    .add_variant(name="postgresql", db="postgresql", db__user="bob")
    .set_runs_per_variant(2)
    .build()
)
