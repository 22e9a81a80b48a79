"""Where the app writes: its path-valued keys (ab.inject.paths) that would be the same for every job, found
in the first job config of each variant and task, and moved into each run's job directory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from hydra_plugins.ab_sweeper._app_config import ABConfigError
from hydra_plugins.ab_sweeper._config_keys import all_keys, raw_value, suggest_keys
from metta_ab.definition.job_paths import dependencies, inside_job_dir, is_path_value, layout_below, matches
from metta_ab.plan import JobPath, PlannedRun


class JobPathSearch:
    """The app's keys that name where it writes (`patterns`: ab.inject.paths) whose value would be the same
    for every job, each with the path inside the job's directory that keeps its layout, and a note per key
    found, for the plan. It is shown the first job config of each variant and task as validate() composes
    them, before any path is moved: a key that only some variants' (or tasks') config-group options have is
    moved in their runs alone. Keys in `leave` (set by the command line or the experiment) and values that
    already follow the job's directory (also through another key: `${paths.output_dir}/tb`, `${log_root}/tb`)
    are left alone. Patterns the user `named` must each match a key."""

    def __init__(self, patterns: Sequence[str] | None, *, named: bool, leave: set[str]) -> None:
        self.patterns = list(patterns or [])
        self.named = named
        self.leave = leave
        self.present: dict[tuple[str, str], set[tuple[str, str | None]]] = {}  # (key, path inside) -> where
        self.values: dict[tuple[str, str], Any] = {}
        self.kept: dict[str, None] = {}  # notes on keys left alone, once each (not once per config)
        self.matched: set[str] = set()
        self.keys: dict[str, None] = {}  # every key seen: the did-you-mean of a named pattern
        self.variants: dict[str, None] = {}
        self.tasks: dict[str | None, None] = {}

    def see(self, run: PlannedRun, cfg: DictConfig) -> None:
        if not self.patterns:
            return
        self.variants[run.variant] = self.tasks[run.task] = None
        every_key = all_keys(cfg)
        self.keys.update(dict.fromkeys(every_key))
        keys = [k for k in every_key if matches(k, self.patterns)]
        self.matched.update(keys)
        moves, kept = _path_moves(cfg, keys, self.leave, named=self.named)
        self.kept.update(dict.fromkeys(kept))
        for key, inside, value in moves:
            self.present.setdefault((key, inside), set()).add((run.variant, run.task))
            self.values.setdefault((key, inside), value)

    def found(self) -> tuple[tuple[JobPath, ...], list[str]]:
        if self.named:
            self._check_named_patterns()
        found: list[JobPath] = []
        moved: list[str] = []
        for (key, inside), where in sorted(self.present.items()):
            job_path = _job_path_where_found(key, inside, where, list(self.variants), list(self.tasks))
            found.append(job_path)
            moved.append(
                f"paths: {key} -> {inside_job_dir(inside)}, so that each run writes in its own directory "
                f"(the app's {self.values[key, inside]!r} is the same for every job){_runs_of(job_path)}"
            )
        return tuple(found), [*moved, *self.kept]

    def _check_named_patterns(self) -> None:
        """A key named in ab.inject.paths (no wildcard) must exist: a typo would silently move nothing."""
        for pattern in self.patterns:
            if any(c in pattern for c in "*?[") or any(matches(k, [pattern]) for k in self.matched):
                continue
            suggestions = suggest_keys(pattern, self.keys)
            hint = f" (did you mean {' or '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
            raise ABConfigError(
                f"ab.inject.paths: the app's config has no key {pattern!r}{hint}; name the keys where the app "
                "writes, or set ab.inject.paths=null to move none"
            )


def _path_moves(
    cfg: DictConfig, keys: Sequence[str], leave: set[str], *, named: bool
) -> tuple[list[tuple[str, str, Any]], list[str]]:
    """In one job config: the path keys to move into the job's directory (key, the path inside it, the app's
    value), and a note on each matched key left where it is."""

    def raw(dotted: str) -> Any:
        return raw_value(cfg, dotted)

    path_keys = {k for k in keys if is_path_value(raw(k))}
    moves: list[tuple[str, str, Any]] = []
    notes: list[str] = []
    for key in sorted(path_keys):
        value = raw(key)
        interpolated, in_job_dir = dependencies(key, raw)
        followed = sorted(interpolated & path_keys)
        if in_job_dir:
            notes.append(f"paths: {key} is already inside each job's directory ({value!r})")
        elif key in leave:
            notes.append(f"paths: {key} kept as set ({value!r}): the command line or the experiment sets it")
        elif followed:
            notes.append(f"paths: {key} follows {followed[0]} ({value!r})")
        else:
            moves.append((key, layout_below(key, value), value))
    if named:
        notes += [f"paths: {k} not moved: its value {raw(k)!r} is not a path" for k in keys if k not in path_keys]
    return moves, notes


def _job_path_where_found(
    key: str, inside: str, where: set[tuple[str, str | None]], variants: list[str], tasks: list[str | None]
) -> JobPath:
    """The runs to move `key` in, from the first job configs it was found in: (variant, first task) for each
    variant, (first variant, task) for each task. A key that every variant's config has is moved in every run;
    one that only some variants' configs have (a config-group option they select), in their runs alone;
    likewise for tasks."""
    with_variant = frozenset(v for v in variants if (v, tasks[0]) in where)
    with_task = frozenset(t for t in tasks if t is not None and (variants[0], t) in where)
    by_variant = 0 < len(with_variant) < len(variants)
    by_task = 0 < len(with_task) < len(tasks)
    return JobPath(key, inside, with_variant if by_variant else None, with_task if by_task else None)


def _runs_of(job_path: JobPath) -> str:
    """`; in the runs of variant 'a2c' alone` for a key moved in some runs, else nothing."""
    parts = [
        f"{kind}{'s' if len(names) > 1 else ''} {', '.join(repr(n) for n in sorted(names))}"
        for kind, names in (("variant", job_path.variants), ("task", job_path.tasks))
        if names is not None
    ]
    return f"; in the runs of {' and '.join(parts)} alone (the others' configs do not have it)" if parts else ""
