"""Grid-world navigation, curricula and a Q-learning agent in pure numpy.

This module exists so that the example training app (``examples/train.py``) trains something real
in a second or two on a CPU: an agent that learns to walk to a goal on a set of hand-drawn maps
(small open rooms up to a maze), with a curriculum that decides which map each new episode uses.
Learning rate, curriculum and agent type change the learning curve measurably, which is what the
A/B sweeper needs to have something to compare.

It knows nothing about Hydra or W&B: ``train(TrainConfig(...), seed=...)`` is the whole API, and the
same seed always gives bit-identical results (everything random comes from one ``numpy`` Generator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

# ---------------------------------------------------------------------------------------------------
# Maps, easiest first. '#' wall, '.' floor, 'G' goal. Every map is padded with walls to a common size.
# ---------------------------------------------------------------------------------------------------

MAPS: tuple[tuple[str, str], ...] = (
    (
        "open_5x5",
        """
        #######
        #.....#
        #.....#
        #.....#
        #.....#
        #....G#
        #######
        """,
    ),
    (
        "open_7x7",
        """
        #########
        #.......#
        #.......#
        #.......#
        #...G...#
        #.......#
        #.......#
        #.......#
        #########
        """,
    ),
    (
        "wall_7x7",
        """
        #########
        #...G...#
        #.......#
        #.......#
        #####.###
        #.......#
        #.......#
        #.......#
        #########
        """,
    ),
    (
        "two_rooms_9x9",
        """
        ###########
        #....#....#
        #....#....#
        #....#..G.#
        #....#....#
        #.........#
        #....#....#
        #....#....#
        #....#....#
        #....#....#
        ###########
        """,
    ),
    (
        "four_rooms_11x11",
        """
        #############
        #.....#.....#
        #.....#.....#
        #...........#
        #.....#.....#
        #.....#.....#
        ###.######.##
        #.....#.....#
        #.....#.....#
        #...........#
        #.....#...G.#
        #.....#.....#
        #############
        """,
    ),
    (
        "maze_11x11",
        """
        #############
        #...........#
        #.###.#.###.#
        #.#...#...#.#
        #.#.#####.#.#
        #.#.....#.#.#
        #.#####.#.#.#
        #.....#.#...#
        #####.#.###.#
        #.....#...#.#
        #.#######.#.#
        #.........#G#
        #############
        """,
    ),
    (
        "rooms_15x15",
        """
        #################
        #....#.....#....#
        #....#.....#....#
        #..........#....#
        #....#.....#....#
        #....#..........#
        ##.##########.###
        #....#.....#....#
        #....#.....#....#
        #....#..........#
        #....#.....#....#
        ########.########
        #....#.....#....#
        #..........#..G.#
        #....#..........#
        #....#.....#....#
        #################
        """,
    ),
    (
        "maze_15x15",
        """
        #################
        #...............#
        #.#.###########.#
        #.............#.#
        #.#####.#####.#.#
        #...#...#.....#.#
        #####.###.#####.#
        #...#.#.....#.#.#
        #.#.#.#.G##.#.#.#
        #.#...#.#.....#.#
        #.#####.#.###.#.#
        #.#.......#.....#
        #.#########.#####
        #.#...#.........#
        #.#.#.#.#.#####.#
        #...#...#.......#
        #################
        """,
    ),
)

# Actions: up, down, left, right.
NUM_ACTIONS = 4
GOAL_REWARD = 1.0
STEP_COST = 0.01
# The evaluation episodes' start cells are drawn once with this fixed seed, so every run (whatever its
# own seed) is evaluated on exactly the same episodes.
EVAL_SET_SEED = 20240917


def parse_map(text: str) -> tuple[np.ndarray, tuple[int, int]]:
    """Turn an ASCII map into a boolean wall array and the goal's (row, col)."""
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("map rows have different lengths")
    walls = np.array([[ch == "#" for ch in row] for row in rows], dtype=bool)
    goals = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "G"]
    if len(goals) != 1:
        raise ValueError(f"a map needs exactly one goal, found {len(goals)}")
    bad = {ch for row in rows for ch in row} - set("#.G")
    if bad:
        raise ValueError(f"unknown map characters: {sorted(bad)}")
    return walls, goals[0]


class GridWorld:
    """A batch of navigation tasks (one per map) on a common, wall-padded grid.

    Positions are flat cell indices into the padded ``height x width`` grid. Every map has a wall
    border, so a move never leaves the grid.
    """

    def __init__(self, maps: Sequence[tuple[str, str]] = MAPS, eval_episodes_per_map: int = 8) -> None:
        parsed = [parse_map(text) for _, text in maps]
        self.names = [name for name, _ in maps]
        self.num_tasks = len(parsed)
        self.height = max(w.shape[0] for w, _ in parsed)
        self.width = max(w.shape[1] for w, _ in parsed)
        self.num_cells = self.height * self.width
        self.walls = np.ones((self.num_tasks, self.num_cells), dtype=bool)
        self.goals = np.empty(self.num_tasks, dtype=np.int64)
        self.max_steps = np.empty(self.num_tasks, dtype=np.int64)
        free_cells: list[np.ndarray] = []
        for task, (walls, (gr, gc)) in enumerate(parsed):
            padded = np.ones((self.height, self.width), dtype=bool)
            padded[: walls.shape[0], : walls.shape[1]] = walls
            self.walls[task] = padded.ravel()
            self.goals[task] = gr * self.width + gc
            # Time limit grows with the map: plenty for the optimal path, short enough to keep it cheap.
            self.max_steps[task] = 4 * (walls.shape[0] - 2 + walls.shape[1] - 2)
            free = np.flatnonzero(~self.walls[task])
            free_cells.append(free[free != self.goals[task]])
        # Start cells (anywhere but the goal), padded to a rectangle; sample with index < num_free.
        self.num_free = np.array([len(f) for f in free_cells], dtype=np.int64)
        self.free_cells = np.zeros((self.num_tasks, int(self.num_free.max())), dtype=np.int64)
        for task, free in enumerate(free_cells):
            self.free_cells[task, : len(free)] = free
        self.moves = np.array([-self.width, self.width, -1, 1], dtype=np.int64)
        self.goal_rc = np.stack([self.goals // self.width, self.goals % self.width], axis=1)

        eval_rng = np.random.default_rng(EVAL_SET_SEED)
        tasks, starts = [], []
        for task, free in enumerate(free_cells):
            chosen = eval_rng.choice(free, size=min(eval_episodes_per_map, len(free)), replace=False)
            tasks.extend([task] * len(chosen))
            starts.extend(chosen.tolist())
        self.eval_tasks = np.array(tasks, dtype=np.int64)
        self.eval_starts = np.array(starts, dtype=np.int64)

    def sample_starts(self, tasks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random start cells (never the goal) for the given tasks."""
        idx = (rng.random(len(tasks)) * self.num_free[tasks]).astype(np.int64)
        return self.free_cells[tasks, idx]

    def step(
        self, tasks: np.ndarray, pos: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move every agent; return (new positions, rewards, reached-goal mask)."""
        target = pos + self.moves[actions]
        new_pos = np.where(self.walls[tasks, target], pos, target)
        reached = new_pos == self.goals[tasks]
        rewards = np.where(reached, GOAL_REWARD, -STEP_COST)
        return new_pos, rewards, reached

    def shortest_path_lengths(self, task: int) -> np.ndarray:
        """Breadth-first distances to the goal for every cell of a task (-1 for walls/unreachable)."""
        dist = np.full(self.num_cells, -1, dtype=np.int64)
        goal = int(self.goals[task])
        dist[goal] = 0
        frontier = [goal]
        while frontier:
            nxt = []
            for cell in frontier:
                for move in self.moves:
                    n = cell + int(move)
                    if not self.walls[task, n] and dist[n] < 0:
                        dist[n] = dist[cell] + 1
                        nxt.append(n)
            frontier = nxt
        return dist


# ---------------------------------------------------------------------------------------------------
# Agents: Q-learning over a discrete state index. They differ only in what the state is.
# ---------------------------------------------------------------------------------------------------


class QAgent:
    """Tabular Q-learning on a discrete encoding of (task, position).

    ``tabular`` sees which map it is on and its exact cell: every map has its own table, so nothing
    transfers between maps. ``egocentric`` sees the goal's offset from itself and the four neighbouring
    walls, one table shared by all maps: what it learns in open rooms transfers to bigger maps (so the
    curriculum matters more), but maps that look alike locally can pull its values apart.
    """

    KINDS = ("tabular", "egocentric")

    def __init__(self, env: GridWorld, kind: str = "tabular", q_init: float = 0.0) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown agent type {kind!r}; choose one of {', '.join(self.KINDS)}")
        self.env = env
        self.kind = kind
        # Goal offsets range over -(size-1)..(size-1) in each direction.
        self.span = 2 * max(env.height, env.width) - 1
        num_states = env.num_tasks * env.num_cells if kind == "tabular" else self.span**2 * 16
        self.q = np.full((num_states, NUM_ACTIONS), float(q_init))

    def encode(self, tasks: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """State index of each agent."""
        env = self.env
        if self.kind == "tabular":
            return tasks * env.num_cells + pos
        goal = env.goal_rc[tasks]
        centre = self.span // 2
        dy = goal[:, 0] - pos // env.width + centre
        dx = goal[:, 1] - pos % env.width + centre
        walls = env.walls[tasks[:, None], pos[:, None] + env.moves[None, :]]
        return (dy * self.span + dx) * 16 + walls @ np.array([1, 2, 4, 8])

    def greedy(self, states: np.ndarray) -> np.ndarray:
        return self.q[states].argmax(axis=1)

    def update(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        terminal: np.ndarray,
        learning_rate: float,
        gamma: float,
    ) -> None:
        """One batched Q-learning step; TD errors of the same (state, action) are averaged."""
        bootstrap = np.where(terminal, 0.0, self.q[next_states].max(axis=1))
        td = rewards + gamma * bootstrap - self.q[states, actions]
        flat = states * NUM_ACTIONS + actions
        # Each pair gets the mean of its TD errors: divide every error by its pair's count, then add up.
        duplicates = (flat[:, None] == flat[None, :]).sum(axis=1)
        np.add.at(self.q, (states, actions), learning_rate * td / duplicates)


# ---------------------------------------------------------------------------------------------------
# Curricula: which task the next episode uses.
# ---------------------------------------------------------------------------------------------------


class Curriculum(Protocol):
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    def update(self, task: int, success: bool) -> None: ...

    def probabilities(self) -> np.ndarray: ...


class UniformCurriculum:
    """Every task equally likely."""

    def __init__(self, num_tasks: int) -> None:
        self.num_tasks = num_tasks

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.num_tasks, size=n)

    def update(self, task: int, success: bool) -> None:
        pass

    def probabilities(self) -> np.ndarray:
        return np.full(self.num_tasks, 1.0 / self.num_tasks)


class EasyToHardCurriculum:
    """Tasks in difficulty order: move on once the current one's success rate passes a threshold.

    A fraction ``replay`` of episodes go to an already-passed task, so the agent keeps practising them.
    """

    def __init__(
        self, num_tasks: int, threshold: float = 0.8, replay: float = 0.2, ema: float = 0.1, min_episodes: int = 20
    ) -> None:
        self.num_tasks = num_tasks
        self.threshold = threshold
        self.replay = replay
        self.ema = ema
        self.min_episodes = min_episodes
        self.level = 0
        self.success = np.zeros(num_tasks)
        self.episodes = np.zeros(num_tasks, dtype=np.int64)

    def probabilities(self) -> np.ndarray:
        p = np.zeros(self.num_tasks)
        if self.level == 0:
            p[0] = 1.0
        else:
            p[: self.level] = self.replay / self.level
            p[self.level] = 1.0 - self.replay
        return p

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self.num_tasks, size=n, p=self.probabilities())

    def update(self, task: int, success: bool) -> None:
        self.episodes[task] += 1
        self.success[task] += self.ema * (float(success) - self.success[task])
        if (
            task == self.level
            and self.level < self.num_tasks - 1
            and self.episodes[task] >= self.min_episodes
            and self.success[task] >= self.threshold
        ):
            self.level += 1


class LearningProgressCurriculum:
    """Prefer tasks whose success rate is changing fastest (|fast EMA - slow EMA|).

    A fraction ``explore`` of the probability mass stays uniform so that every task keeps being tried.
    """

    def __init__(self, num_tasks: int, fast: float = 0.1, slow: float = 0.02, explore: float = 0.2) -> None:
        if not 0.0 < slow < fast <= 1.0:
            raise ValueError("learning progress needs 0 < slow < fast <= 1")
        self.num_tasks = num_tasks
        self.fast_rate = fast
        self.slow_rate = slow
        self.explore = explore
        self.fast = np.zeros(num_tasks)
        self.slow = np.zeros(num_tasks)

    def probabilities(self) -> np.ndarray:
        progress = np.abs(self.fast - self.slow)
        uniform = np.full(self.num_tasks, 1.0 / self.num_tasks)
        total = progress.sum()
        if total <= 0.0:
            return uniform
        return (1.0 - self.explore) * progress / total + self.explore * uniform

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self.num_tasks, size=n, p=self.probabilities())

    def update(self, task: int, success: bool) -> None:
        value = float(success)
        self.fast[task] += self.fast_rate * (value - self.fast[task])
        self.slow[task] += self.slow_rate * (value - self.slow[task])


CURRICULA: dict[str, type] = {
    "uniform": UniformCurriculum,
    "random": UniformCurriculum,
    "easy_to_hard": EasyToHardCurriculum,
    "progressive": EasyToHardCurriculum,
    "learning_progress": LearningProgressCurriculum,
    "lp": LearningProgressCurriculum,
}


def curriculum_kind(name: str) -> str:
    """The curriculum kind named by a possibly path-like name.

    ``learning_progress``, ``navigation/learning_progress`` and
    ``/env/mettagrid/curriculum/navigation/learning_progress`` all name the same curriculum: only the
    last path component matters (and a ``.yaml`` suffix is ignored).
    """
    parts = [p for p in str(name).strip().replace("\\", "/").split("/") if p]
    if not parts:
        raise ValueError("empty curriculum name")
    kind = parts[-1].removesuffix(".yaml").lower()
    if kind not in CURRICULA:
        raise ValueError(f"unknown curriculum {name!r}; the last path component must be one of {sorted(CURRICULA)}")
    return kind


def make_curriculum(name: str, num_tasks: int, options: Mapping[str, Mapping[str, Any]] | None = None) -> Curriculum:
    """Build a curriculum from its (path-like) name; ``options[kind]`` are its keyword arguments."""
    kind = curriculum_kind(name)
    cls = CURRICULA[kind]
    kwargs: dict[str, Any] = {}
    for key, values in (options or {}).items():
        if key in CURRICULA and CURRICULA[key] is cls:
            kwargs.update(values or {})
    return cls(num_tasks, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    total_timesteps: int = 200_000
    learning_rate: float = 0.1
    gamma: float = 0.95
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_fraction: float = 0.5
    num_envs: int = 32
    evaluate_interval: int = 20_000
    eval_episodes_per_map: int = 8
    curriculum: str = "navigation/uniform"
    curriculum_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    agent: str = "tabular"
    q_init: float = 0.0

    def validate(self) -> None:
        if self.total_timesteps < 1:
            raise ValueError("total_timesteps must be positive")
        if self.num_envs < 1:
            raise ValueError("num_envs must be positive")
        if self.evaluate_interval < 1:
            raise ValueError("evaluate_interval must be positive")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError("gamma must be in [0, 1]")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ValueError("learning_rate must be in (0, 1]")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        curriculum_kind(self.curriculum)


@dataclass
class Evaluation:
    step: int
    reward: float
    success_rate: float
    episode_length: float
    task_success: dict[str, float]
    curriculum_probabilities: dict[str, float]
    train_episodes: int
    epsilon: float


@dataclass
class TrainResult:
    evaluations: list[Evaluation]

    @property
    def curve(self) -> dict[str, list[Any]]:
        return {
            "step": [e.step for e in self.evaluations],
            "reward": [e.reward for e in self.evaluations],
            "success_rate": [e.success_rate for e in self.evaluations],
            "episode_length": [e.episode_length for e in self.evaluations],
        }

    @property
    def final(self) -> dict[str, float]:
        last = self.evaluations[-1]
        return {
            "reward": float(last.reward),
            "success_rate": float(last.success_rate),
            "episode_length": float(last.episode_length),
            # Mean evaluation reward over the whole curve: a sample-efficiency summary.
            "reward_auc": float(np.mean([e.reward for e in self.evaluations])),
            # Success per map: the maps are a suite (examples/map_suite.py judges a variant on each).
            **{f"success/{name}": float(v) for name, v in last.task_success.items()},
        }


def evaluate(env: GridWorld, agent: QAgent) -> tuple[float, float, float, np.ndarray]:
    """Greedy policy on the fixed evaluation episodes: (reward, success rate, length, per-task success)."""
    tasks = env.eval_tasks
    pos = env.eval_starts.copy()
    n = len(tasks)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    success = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    limit = env.max_steps[tasks]
    for _ in range(int(limit.max())):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        actions = agent.greedy(agent.encode(tasks[idx], pos[idx]))
        new_pos, rewards, reached = env.step(tasks[idx], pos[idx], actions)
        pos[idx] = new_pos
        returns[idx] += rewards
        lengths[idx] += 1
        success[idx] |= reached
        active[idx] = ~reached & (lengths[idx] < limit[idx])
    per_task = np.bincount(tasks, weights=success, minlength=env.num_tasks) / np.bincount(
        tasks, minlength=env.num_tasks
    )
    return float(returns.mean()), float(success.mean()), float(lengths.mean()), per_task


def train(config: TrainConfig, seed: int, on_eval: Callable[[Evaluation], None] | None = None) -> TrainResult:
    """Train a Q-learning agent with a curriculum; evaluate every ``evaluate_interval`` steps.

    Evaluations happen at step 0, at every multiple of ``evaluate_interval`` environment steps and
    after the last step. ``on_eval`` is called with each evaluation as it happens.
    """
    config.validate()
    rng = np.random.default_rng(seed)
    env = GridWorld(eval_episodes_per_map=config.eval_episodes_per_map)
    agent = QAgent(env, config.agent, config.q_init)
    curriculum = make_curriculum(config.curriculum, env.num_tasks, config.curriculum_options)

    n = config.num_envs
    decay_steps = max(1.0, config.epsilon_decay_fraction * config.total_timesteps)
    tasks = curriculum.sample(rng, n)
    pos = env.sample_starts(tasks, rng)
    elapsed = np.zeros(n, dtype=np.int64)
    episodes = 0
    evaluations: list[Evaluation] = []

    def epsilon_at(step: int) -> float:
        frac = min(1.0, step / decay_steps)
        return config.epsilon_start + frac * (config.epsilon_end - config.epsilon_start)

    def record(step: int) -> None:
        reward, success_rate, length, per_task = evaluate(env, agent)
        evaluation = Evaluation(
            step=step,
            reward=reward,
            success_rate=success_rate,
            episode_length=length,
            task_success={name: float(s) for name, s in zip(env.names, per_task, strict=True)},
            curriculum_probabilities={
                name: float(p) for name, p in zip(env.names, curriculum.probabilities(), strict=True)
            },
            train_episodes=episodes,
            epsilon=epsilon_at(step),
        )
        evaluations.append(evaluation)
        if on_eval is not None:
            on_eval(evaluation)

    record(0)
    total = config.total_timesteps
    step = 0
    next_eval = config.evaluate_interval
    while step < total:
        # Step the first k environments only when a full batch would overshoot the next evaluation
        # (or the end), so evaluations happen at exact multiples of evaluate_interval.
        k = min(n, next_eval - step, total - step)
        tasks_k, pos_k, elapsed_k = tasks[:k], pos[:k], elapsed[:k]  # views: writes go through
        states = agent.encode(tasks_k, pos_k)
        coins = rng.random(2 * k)
        explore = coins[:k] < epsilon_at(step)
        random_actions = (coins[k:] * NUM_ACTIONS).astype(np.int64)
        actions = np.where(explore, random_actions, agent.greedy(states))
        new_pos, rewards, reached = env.step(tasks_k, pos_k, actions)
        agent.update(
            states, actions, rewards, agent.encode(tasks_k, new_pos), reached, config.learning_rate, config.gamma
        )
        pos_k[:] = new_pos
        elapsed_k += 1
        done = reached | (elapsed_k >= env.max_steps[tasks_k])
        if done.any():
            finished = np.flatnonzero(done)
            for i in finished:
                curriculum.update(int(tasks_k[i]), bool(reached[i]))
            episodes += len(finished)
            tasks_k[finished] = curriculum.sample(rng, len(finished))
            pos_k[finished] = env.sample_starts(tasks_k[finished], rng)
            elapsed_k[finished] = 0
        step += k
        if step in (next_eval, total):
            record(step)
            next_eval += config.evaluate_interval
    return TrainResult(evaluations)
