"""The `hydra/sweeper=ab` config option.

It is stored in the `_global_` package so that it brings both `hydra.sweeper` and a root `ab:` node:
that is what lets users write `ab.experiment=exp.py` without a `+`. The node is plain data with no
imports behind it: Hydra imports this module at every app start and copies the node at every
composition. `_settings.ABSettings` is its typed schema (documented there); a test keeps the two equal.
"""

from hydra.core.config_store import ConfigStore

AB_DEFAULTS = {
    "experiment": None,
    "output_dir": "ab_test_results",
    "max_retries": 3,
    "run_timeout": None,
    "dry_run": False,
    "resume": True,
    "base_seed": 0,
    "paired_seeds": True,
    "progress_interval": 1.0,
    "plots": True,
    "inject": {
        "run_name": "run",
        "seed": "seed",
        "wandb_project": "wandb.project",
        "wandb_entity": "wandb.entity",
        "wandb_group": "wandb.group",
        "wandb_tags": "wandb.tags",
        "wandb_notes": "wandb.notes",
    },
    "analysis": dict.fromkeys(
        [
            "metric",
            "direction",
            "control",
            "alpha",
            "ci_level",
            "n_resamples",
            "seed",
            "curve_summary",
            "last_k",
            "threshold",
            "min_effect",
        ]
    ),
}

SWEEPER = {
    "_target_": "hydra_plugins.ab_sweeper.ab_sweeper.ABSweeper",
    "max_batch_size": None,  # used only without `ab.experiment`, where the sweeper is Hydra's BasicSweeper
}

ConfigStore.instance().store(
    group="hydra/sweeper",
    name="ab",
    node={"hydra": {"sweeper": SWEEPER}, "ab": AB_DEFAULTS},
    package="_global_",
    provider="metta_ab",
)
