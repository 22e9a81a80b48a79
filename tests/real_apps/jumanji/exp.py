"""A/B test on Jumanji's A2C trainer: two learning rates on Snake, a budget of seconds per run."""

from metta_ab import create_experiment

experiment = (
    create_experiment(name="jumanji_snake_lr", description="A2C on Snake: learning rate 3e-4 vs 3e-3")
    .add_variant(name="lr_low", env__a2c__learning_rate=3e-4)
    .add_variant(name="lr_high", env__a2c__learning_rate=3e-3)
    .set_runs_per_variant(2)
    .set_base_config(
        agent="a2c",
        logger__type="tensorboard",  # the app's own TensorBoard logger (tensorboardX)
        env__training__num_epochs=3,
        env__training__num_learner_steps_per_epoch=2,
        env__training__n_steps=4,
        env__training__total_batch_size=8,
        env__evaluation__eval_total_batch_size=8,
        env__evaluation__greedy_eval_total_batch_size=8,
    )
    .set_metric("eval_stochastic//episode_return", direction="max")
    .build()
)
