"""The example app's maps as a suite: is the egocentric agent better than the tabular one on each map, and
across all of them? Every run evaluates every map; `success/{task}` matches the per-map success rates it
returns, so each map is a task. 2 variants x 5 seeds.

    python examples/train.py -m hydra/sweeper=ab ab.experiment=examples/map_suite.py \
        hydra/launcher=joblib hydra.launcher.n_jobs=2
"""

from gridworld import MAPS  # beside this file: the loader lets an experiment import its neighbours

from metta_ab import create_experiment

MAP_NAMES = [name for name, _ in MAPS]


def create_map_suite():
    return (
        create_experiment(
            name="map_suite",
            description="Egocentric vs tabular Q-learning, judged per map and across the navigation maps",
        )
        .add_variant(name="tabular", description="A Q-table per map and cell", agent="tabular")
        .add_variant(
            name="egocentric", description="One Q-table over local views, shared by all maps", agent="egocentric"
        )
        .set_runs_per_variant(5)
        .set_base_config(defaults=["/common", "/trainer/trainer"], trainer__total_timesteps=200_000)
        # success rates are in [0, 1] on every map: declare that scale (a map the control never solves would
        # have no control mean to normalize by)
        .set_metric("success/{task}", direction="max", normalize=dict.fromkeys(MAP_NAMES, (0.0, 1.0)), target=1.0)
        .build()
    )
