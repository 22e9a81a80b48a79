"""A/B test on SheepRL: PPO on CartPole with two learning rates, a few thousand steps per run.

`env.sync_env=True`: SheepRL's default asynchronous vector env starts its env processes with multiprocessing,
which inside a joblib (loky) worker fails ("TypeError: cannot pickle 'mmap.mmap' object"); the basic launcher
runs the default."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="sheeprl_cartpole_lr", description="PPO on CartPole: lr 1e-3 vs 1e-4")
    .add_variant(name="lr_1e-3", algo__optimizer__lr=1e-3)
    .add_variant(name="lr_1e-4", algo__optimizer__lr=1e-4)
    .set_runs_per_variant(3)
    .set_base_config(
        algo__total_steps=2048,
        algo__rollout_steps=128,
        algo__update_epochs=2,
        env__num_envs=2,
        env__capture_video=False,
        env__sync_env=True,
        metric__log_every=256,
        checkpoint__every=100000,
    )
    .set_metric("Rewards/rew_avg", direction="max")
    .build()
)
