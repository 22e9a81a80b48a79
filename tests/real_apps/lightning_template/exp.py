"""A/B test on the Lightning + Hydra template: MNIST's dense net with Adam at lr 1e-3 vs 1e-4, two epochs on
3,000 of the 5,000 digits (so a run takes seconds on a CPU). No test stage: the template (2023) loads its best
checkpoint for it with torch.load, which torch >= 2.6 refuses (weights_only: "Unsupported global ...
SimpleDenseNet"), so every run would fail after training."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="mnist_lr", description="Lightning template MNIST: lr 1e-3 vs 1e-4")
    .add_variant(name="lr_1e-3", model__optimizer__lr=1e-3)
    .add_variant(name="lr_1e-4", model__optimizer__lr=1e-4)
    .set_runs_per_variant(3)
    .set_base_config(
        data__train_val_test_split=[3000, 1000, 1000],  # the 5,000 digits prepare.py wrote
        trainer__max_epochs=2,
        trainer__min_epochs=1,
        test=False,
    )
    .set_metric("val/acc", direction="max")
    .build()
)
