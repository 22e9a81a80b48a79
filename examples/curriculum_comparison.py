"""The seed README's second example, adapted to the example app: learning progress vs easy-to-hard.

    python examples/train.py -m hydra/sweeper=ab ab.experiment=examples/curriculum_comparison.py \
        hydra/launcher=joblib hydra.launcher.n_jobs=2
"""

from metta_ab import create_experiment


def create_curriculum_comparison_experiment():
    return (
        create_experiment(
            name="curriculum_comparison",
            description="Learning progress vs easy-to-hard curriculum on navigation maps",
        )
        .add_variant(
            name="learning_progress",
            description="Learning progress curriculum for navigation tasks",
            trainer__curriculum="/env/mettagrid/curriculum/navigation/learning_progress",
            run="curriculum_lp",
        )
        .add_variant(
            name="easy_to_hard",
            description="Maps in order of difficulty",
            trainer__curriculum="/env/mettagrid/curriculum/navigation/easy_to_hard",
            run="curriculum_eh",
        )
        .set_runs_per_variant(5)
        .set_base_config(
            defaults=["/common", "/agent/tabular", "/trainer/trainer"],
            trainer__total_timesteps=300_000,
            trainer__num_workers=4,
            trainer__simulation__evaluate_interval=20_000,
        )
        .set_wandb_config(entity="metta-research", tags=["curriculum"])
        .set_metric("reward", direction="max", curve_summary="auc")
        .build()
    )
