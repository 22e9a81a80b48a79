"""A/B test on TorchRL's DQN CartPole example: learning rate 2.5e-4 vs 2.5e-3, a few thousand frames per run."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="torchrl_dqn_lr", description="TorchRL DQN on CartPole: lr 2.5e-4 vs 2.5e-3")
    .add_variant(name="lr_low", optim__lr=2.5e-4)
    .add_variant(name="lr_high", optim__lr=2.5e-3)
    .set_runs_per_variant(3)
    .set_base_config(
        collector__total_frames=3000,
        collector__frames_per_batch=500,
        collector__init_random_frames=500,
        collector__annealing_frames=2000,
        buffer__batch_size=64,
        loss__num_updates=10,
        logger__test_interval=1000,
        logger__num_test_episodes=2,
    )
    .set_metric("eval/reward", direction="max")
    .build()
)
