"""A/B test on BenchMARL: MAPPO on VMAS Balance with two learning rates, a budget of seconds per run."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="benchmarl_balance_lr", description="MAPPO on VMAS Balance: lr 5e-5 vs 5e-4")
    .add_variant(name="lr_low", experiment__lr=5e-5)
    .add_variant(name="lr_high", experiment__lr=5e-4)
    .set_runs_per_variant(2)
    .set_base_config(
        experiment__max_n_frames=400,
        experiment__on_policy_collected_frames_per_batch=200,
        experiment__on_policy_n_envs_per_worker=2,
        experiment__on_policy_minibatch_size=50,
        experiment__on_policy_n_minibatch_iters=1,
        experiment__evaluation_interval=200,
        experiment__evaluation_episodes=2,
        experiment__render=False,
        experiment__loggers=["csv"],  # the default [csv, wandb] needs wandb installed
    )
    .set_metric("eval_reward_episode_reward_mean", direction="max")
    .build()
)
