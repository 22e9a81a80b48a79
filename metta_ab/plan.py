"""The plan: variants x runs -> jobs, each with its seed, run name, directory and exact override list.

A pure, deterministic function of the experiment and the settings, so a dry run shows exactly what
will be launched and a rerun plans the same jobs. What the app's config repository says (which keys
are config groups, how base `defaults` resolve) comes in as an `AppLayout` from the Hydra side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment, ABVariant, check_safe_name, normalize_key
from metta_ab.definition.job_paths import PATH_KEY_NAMES, inside_job_dir
from metta_ab.definition.overrides import OverrideValueError, format_value, interpolating_override, value_override

SEED_MODULUS = 2**31  # seeds stay valid for numpy's legacy np.random.seed and every framework
#: `ab.base_seed`: run 1 gets seed 1, as many apps seed only `if cfg.get("seed")` and leave seed 0 unseeded.
#: An experiment directory keeps the base seed it was started with (the ledger records it).
DEFAULT_BASE_SEED = 1
SEED_BLOCK = 2**16  # unpaired seeds: consecutive seeds per variant; runs_per_variant must stay below
_OPTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*\Z")


@dataclass
class InjectionKeys:
    """Where each injected value goes in the app's config; None switches that injection off. The defaults
    are Metta's keys; the sweeper follows a default only where the app has the key. `wandb_env` sets W&B's
    own variables (WANDB_PROJECT, WANDB_RUN_GROUP, WANDB_TAGS, WANDB_NAME, ...) for each job alone, which a
    bare `wandb.init()` reads; None (the default) means: when no W&B key of the app's config is injected.
    `paths` names the keys that say where the app writes (see job_paths.py), pointed into each job's
    directory where they would be the same for every job; None or [] switches that off."""

    run_name: str | None = "run"
    seed: str | None = "seed"
    wandb_project: str | None = "wandb.project"
    wandb_entity: str | None = "wandb.entity"
    wandb_group: str | None = "wandb.group"
    wandb_tags: str | None = "wandb.tags"
    wandb_notes: str | None = "wandb.notes"
    wandb_env: bool | None = None
    paths: list[str] | None = field(default_factory=lambda: list(PATH_KEY_NAMES))

    def targets(self) -> dict[str, str]:
        """The config targets (name -> dotted key) that are switched on."""
        return {name: key for name, key in vars(self).items() if isinstance(key, str) and key}


@dataclass(frozen=True)
class JobPath:
    """An app key pointed into each job's directory, `path` below it (the app's own layout). Set in the runs
    whose config has the key: every run when `variants` and `tasks` are None, else the runs of the variants
    in `variants` and those on the tasks in `tasks` (a key one variant's config-group option has and another's
    lacks must not be added to the other)."""

    key: str
    path: str
    variants: frozenset[str] | None = None
    tasks: frozenset[str] | None = None

    def applies(self, variant: str, task: str | None) -> bool:
        if self.variants is None and self.tasks is None:
            return True
        return variant in (self.variants or ()) or task in (self.tasks or ())


@dataclass(frozen=True)
class PlanSettings:
    base_seed: int = DEFAULT_BASE_SEED
    paired_seeds: bool = True
    inject: InjectionKeys = field(default_factory=InjectionKeys)
    task_overrides: tuple[str, ...] = ()  # from the command line, applied to every job
    job_paths: tuple[JobPath, ...] = ()  # the app's keys pointed into each job's directory


@dataclass(frozen=True)
class AppLayout:
    """What the app's config repository says about the experiment (resolved on the Hydra side)."""

    group_keys: frozenset[str] = frozenset()  # keys that are config groups of the app (`agent`, `db`)
    base_group_overrides: tuple[str, ...] = ()  # `agent=fast` / `+task=vmas/balance` from base defaults
    base_config_node: str | None = None  # `+ab_base=<name>` applies root configs such as /common
    dict_keys: frozenset[str] = frozenset()  # keys holding a dict in the app: a dict value replaces it


@dataclass(frozen=True)
class PlannedRun:
    variant: str
    index: int  # 1-based, as in `variant_a_run_1`
    seed: int | None  # None when the app has no key to receive it (the plan's seed is then not used)
    run_name: str
    job_dir: str  # relative to the experiment directory
    overrides: tuple[str, ...]
    task: str | None = None  # the suite task this run trains on (.add_task), None without tasks

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            **({"task": self.task} if self.task is not None else {}),
            "run_index": self.index,
            "seed": self.seed,
            "run_name": self.run_name,
            "job_dir": self.job_dir,
            "overrides": list(self.overrides),
        }


def job_dir_name(variant: str, index: int, task: str | None = None) -> str:
    return f"{variant}_run_{index}" if task is None else f"{variant}_{task}_run_{index}"


def seed_offsets(variant_names: Sequence[str], settings: PlanSettings) -> dict[str, int]:
    """Where each variant's seeds start. Paired: 0 for all (run i has one seed in every variant). Unpaired:
    each variant owns a block of SEED_BLOCK consecutive seeds chosen by a hash of its name, so a job's seed
    never changes when runs are added; a block another variant already holds is skipped (in experiment
    order), so no two jobs share a seed."""
    if settings.paired_seeds:
        return dict.fromkeys(variant_names, 0)
    import hashlib  # here: the plugin imports this module at every Hydra app start

    offsets: dict[str, int] = {}
    taken: set[int] = set()
    for name in variant_names:
        attempt = 0
        while True:
            digest = hashlib.sha256(f"{name}#{attempt}".encode()).digest()
            block = int.from_bytes(digest[:4], "big") % (SEED_MODULUS // SEED_BLOCK)
            if block not in taken:
                break
            attempt += 1
        taken.add(block)
        offsets[name] = block * SEED_BLOCK
    return offsets


def seeds_are_paired(index_and_seed: Iterable[tuple[int, int | None]]) -> bool:
    """Paired when run i got the same seed in every variant (the plan's default); never when the sweeper
    could not seed the runs (seed None: the app has no key for it). One rule for the sweep's sequential
    decisions and the analysis."""
    seeds: dict[int, set[int | None]] = {}
    for index, seed in index_and_seed:
        seeds.setdefault(index, set()).add(seed)
    return bool(seeds) and all(len(s) == 1 and None not in s for s in seeds.values())


def run_seed(index: int, offset: int, settings: PlanSettings) -> int:
    return (settings.base_seed + offset + index - 1) % SEED_MODULUS


def variant_overrides(
    experiment: ABExperiment,
    variant: ABVariant,
    settings: PlanSettings,
    layout: AppLayout | None,
    task: ABVariant | None = None,
) -> tuple[list[str], str]:
    """The overrides shared by every run of `variant` (on `task`, in a suite of tasks), and its run-name prefix."""
    layout = layout or AppLayout()
    overrides: list[str] = list(layout.base_group_overrides)
    if layout.base_config_node:
        overrides.append(f"+ab_base={layout.base_config_node}")
    injected = {key: name for name, key in settings.inject.targets().items()}
    for key in experiment.base_values:
        dotted, _ = normalize_key(key)
        if dotted in injected:
            raise ExperimentError(
                f"experiment {experiment.name!r} base config sets {key!r}, which the sweeper injects per run "
                f"({injected[dotted]}); remove it, or stop the injection with ab.inject.{injected[dotted]}=null"
            )
    overrides += _value_overrides(experiment.base_values, layout, f"experiment {experiment.name!r} base config")
    overrides += settings.task_overrides
    if task is not None:
        own, _ = _own_values(task, f"task {task.name!r}", injected, run_name_allowed=False)
        overrides += _value_overrides(own, layout, f"task {task.name!r}")
    own, prefix = _own_values(variant, f"variant {variant.name!r}", injected, run_name_allowed=True)
    overrides += _value_overrides(own, layout, f"variant {variant.name!r}")
    return overrides, prefix or variant.name


def _own_values(
    arm: ABVariant, where: str, injected: dict[str, str], *, run_name_allowed: bool
) -> tuple[dict[str, Any], str | None]:
    """A variant's (or task's) values without the keys the sweeper injects; a variant's run-name prefix."""
    prefix, own = None, {}
    for key, value in arm.overrides.items():
        dotted, _ = normalize_key(key)
        if injected.get(dotted) == "run_name" and run_name_allowed:
            check_safe_name(value, f"{where}: run name prefix {key}=")
            prefix = value
        elif dotted in injected:
            raise ExperimentError(
                f"{where} sets {key!r}, which the sweeper injects per run ({injected[dotted]}); remove it, or "
                f"stop the injection with ab.inject.{injected[dotted]}=null"
            )
        else:
            own[key] = value
    return own, prefix


def _value_overrides(values: dict[str, Any], layout: AppLayout, where: str) -> list[str]:
    result = []
    for key, value in values.items():
        dotted, adds = normalize_key(key)
        try:
            if dotted in layout.group_keys:
                if not isinstance(value, str) or not _OPTION_NAME.match(value):
                    raise ExperimentError(
                        f"{where}: {key!r} selects an option of the config group {dotted!r}; its value must be an "
                        f"option name (letters, digits, '_', '-', '.', '/'), got {value!r}"
                    )
                result.append(f"{'+' if adds else ''}{dotted}={value}")
            elif dotted in layout.dict_keys and isinstance(value, Mapping):
                # `key={...}` would merge into the app's dict (and fail in struct mode): replace it instead.
                result += [f"~{dotted}", value_override(dotted, value, prefix="+")]
            else:
                result.append(value_override(dotted, value, prefix="++" if adds else ""))
        except OverrideValueError as error:
            raise ExperimentError(f"{where}, key {key!r}: {error}") from None
    return result


def _injected(
    experiment: ABExperiment,
    variant: ABVariant,
    task: ABVariant | None,
    run_name: str,
    seed: int,
    settings: PlanSettings,
) -> list[str]:
    keys = settings.inject
    tags = [f"variant:{variant.name}", *experiment.wandb_tags, *variant.tags]
    if task is not None:
        tags += [f"task:{task.name}", *task.tags]
    values: dict[str, Any] = {
        "run_name": run_name,
        "seed": seed,
        "wandb_project": experiment.wandb_project,
        "wandb_entity": experiment.wandb_entity,
        "wandb_group": experiment.name,
        "wandb_tags": tags,
        "wandb_notes": variant.description,
    }
    overrides = [
        f"++{key}={format_value(values[name])}"
        for name, key in keys.targets().items()
        if not (name == "wandb_entity" and values[name] is None)
    ]
    overrides += [
        interpolating_override(moved.key, inside_job_dir(moved.path))
        for moved in settings.job_paths
        if moved.applies(variant.name, task.name if task else None)
    ]
    if keys.wandb_env:
        env = {
            "WANDB_PROJECT": experiment.wandb_project,
            "WANDB_ENTITY": experiment.wandb_entity,
            "WANDB_RUN_GROUP": experiment.name,
            "WANDB_TAGS": ",".join(tag.replace(",", "_") for tag in tags),  # W&B splits the variable at commas
            "WANDB_NAME": run_name,
            "WANDB_NOTES": variant.description or None,
        }
        # Hydra sets these for the job alone and restores the environment after it (hydra.core.utils.env_override).
        overrides += [f"++hydra.job.env_set.{k}={format_value(v)}" for k, v in env.items() if v is not None]
    return overrides


def plan_experiment(
    experiment: ABExperiment, settings: PlanSettings, layout: AppLayout | None = None
) -> list[PlannedRun]:
    """Every job of the experiment, variant by variant (task by task in a suite of tasks), run 1..N."""
    if experiment.runs_per_variant > SEED_BLOCK:
        raise ExperimentError(f"runs_per_variant must be at most {SEED_BLOCK}, got {experiment.runs_per_variant}")
    runs: list[PlannedRun] = []
    prefixes: dict[str, str] = {}
    offsets = seed_offsets([v.name for v in experiment.variants], settings)
    for variant in experiment.variants:
        for task in experiment.tasks or [None]:
            shared, prefix = variant_overrides(experiment, variant, settings, layout, task)
            if task is None:
                if prefix in prefixes:
                    raise ExperimentError(
                        f"variants {prefixes[prefix]!r} and {variant.name!r} both name their runs {prefix!r}_run_<i>; "
                        "give them different `run` values"
                    )
                prefixes[prefix] = variant.name
            else:
                prefix = f"{prefix}_{task.name}"
            for index in range(1, experiment.runs_per_variant + 1):
                seed = run_seed(index, offsets[variant.name], settings)
                run_name = f"{prefix}_run_{index}"
                injected = _injected(experiment, variant, task, run_name, seed, settings)
                runs.append(
                    PlannedRun(
                        variant=variant.name,
                        index=index,
                        seed=seed if settings.inject.seed else None,
                        run_name=run_name,
                        job_dir=job_dir_name(variant.name, index, task.name if task else None),
                        overrides=tuple(shared + injected),
                        task=task.name if task else None,
                    )
                )
    _check_unique_names(runs)
    return runs


def _check_unique_names(runs: Sequence[PlannedRun]) -> None:
    """Run names and directories must be unique (`a_b` + task `c` and `a` + task `b_c` would collide)."""
    for attribute, what in (("run_name", "run name"), ("job_dir", "job directory")):
        seen: dict[str, PlannedRun] = {}
        for run in runs:
            value = getattr(run, attribute)
            if value in seen:
                other = seen[value]
                raise ExperimentError(
                    f"variant {other.variant!r} task {other.task!r} and variant {run.variant!r} task {run.task!r} "
                    f"get the same {what} {value!r}; rename a variant or a task (or give the variants `run` values)"
                )
            seen[value] = run


def definition_fingerprint(
    experiment: ABExperiment, settings: PlanSettings, layout: AppLayout | None = None
) -> dict[str, Any]:
    """What decides the outcome of a run: each variant's overrides (with the base config and the task
    overrides), the seeding, and where values are injected. Not descriptions, tags or W&B names, and not
    runs_per_variant: a rerun with more runs per variant resumes the same experiment."""
    return {
        "base_seed": settings.base_seed,
        "paired_seeds": settings.paired_seeds,
        "inject": settings.inject.targets(),
        "variants": {
            v.name if t is None else f"{v.name} on {t.name}": variant_overrides(experiment, v, settings, layout, t)[0]
            for v in experiment.variants
            for t in experiment.tasks or [None]
        },
    }


def fingerprint_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences that make a recorded experiment a different one (added variants are fine)."""
    changes = [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in ("base_seed", "paired_seeds", "inject")
        if old.get(key) != new.get(key)
    ]
    old_variants, new_variants = old.get("variants", {}), new.get("variants", {})
    for name, before in old_variants.items():
        after = new_variants.get(name)
        if after is None:
            changes.append(f"variant {name!r} was removed")
        elif after != before:
            removed = [o for o in before if o not in after]
            added = [o for o in after if o not in before]
            changes.append(f"variant {name!r}: " + ", ".join([*(f"-{o}" for o in removed), *(f"+{o}" for o in added)]))
    return changes


def format_look_schedule(experiment: ABExperiment) -> list[str]:
    """The looks of a sequential experiment and each look's boundary (two-sided nominal p and t), for plan.txt."""
    from metta_ab.records.looks import design_for

    seq = experiment.sequential
    assert seq is not None
    resolved = experiment.analysis.resolved()
    alpha = resolved.alpha
    design = design_for(experiment, alpha)
    spending = design.spending
    treatments = len(experiment.variants) - 1
    holm = f"; Holm across {treatments} comparisons (first level alpha / {treatments})" if treatments > 1 else ""
    lines = [
        f"Sequential: a look after every {seq.runs_per_look} runs per variant, at most {seq.max_runs_per_variant} "
        f"({design.looks} looks); alpha {alpha:g} over all looks, spending {spending}" + holm,
    ]
    times = resolved.curve_summary == "threshold"  # the log-rank test's p against the same levels: no t scale
    if times:
        lines.append("Each look: the log-rank test of the times to threshold so far, p from relabellings of the runs")
    t_head = "" if times else f" {'|t| paired >=':>13} {'df':>3}"
    lines.append(f"{'look':>4} {'runs/variant':>12} {'alpha spent':>11} {'reject if p <':>13}{t_head}")
    for row in design.schedule(paired=True):
        t_cells = "" if times else f" {row['t_bound']:>13.3f} {row['df']:>3}"
        lines.append(
            f"{row['look']:>4} {row['runs_per_variant']:>12} {row['alpha_spent']:>11.4f} {row['nominal_p']:>13.5f}"
            + t_cells
        )
    return lines


def format_suite(experiment: ABExperiment) -> list[str]:
    """What a suite's analysis will do: where the tasks come from and how scores are normalized."""
    if not experiment.is_suite:
        return []
    metric = experiment.analysis.metric or ""
    if experiment.tasks:
        source = f"tasks {', '.join(t.name for t in experiment.tasks)} (one per run, .add_task)"
    else:
        source = f"every logged key matching {metric!r} is a task (found after the runs)"
    normalize = experiment.analysis.normalize
    how = (
        "by the declared (low, high) per task"
        if normalize
        else "relative to the control's mean on each task (declare (low, high) with .set_metric(normalize=...))"
    )
    return [f"Suite: {source}; scores normalized {how}; aggregate: IQM and mean over tasks x runs"]


def format_plan(
    experiment: ABExperiment, runs: Sequence[PlannedRun], notes: Sequence[str] = (), warnings: Sequence[str] = ()
) -> str:
    """The human-readable plan a dry run prints and saves as plan.txt; `notes` say where injection went,
    `warnings` what may not work (a value of another type than the app's default)."""
    tasks = f"{len(experiment.tasks)} tasks x " if experiment.tasks else ""
    at_most = "at most " if experiment.sequential is not None else ""  # the looks may stop it early
    lines = [
        f"Experiment {experiment.name!r}: {len(experiment.variants)} variants x {tasks}"
        f"{at_most}{experiment.runs_per_variant} runs = {at_most}{len(runs)} jobs",
        *(f"WARNING: {warning}" for warning in warnings),
        *(f"Injection: {note}" for note in notes),
        *format_suite(experiment),
    ]
    if experiment.base_defaults:
        lines.append(f"Base config defaults: {', '.join(experiment.base_defaults)}")
    if experiment.sequential is not None:
        lines += ["", *format_look_schedule(experiment)]
    task_column = f"{'task':<16} " if experiment.tasks else ""
    header = f"{'variant':<20} {task_column}{'run':>4} {'seed':>11}  {'run name':<28} directory"
    lines += ["", header, "-" * len(header)]
    for run in runs:
        seed = "-" if run.seed is None else run.seed
        task = f"{run.task:<16} " if experiment.tasks else ""
        lines.append(f"{run.variant:<20} {task}{run.index:>4} {seed:>11}  {run.run_name:<28} {run.job_dir}")
    per = "variant and task" if experiment.tasks else "variant"
    lines += ["", f"Overrides per {per} (first run shown; later runs differ only in run name and seed):"]
    shown: set[tuple[str, str | None]] = set()
    for run in runs:
        if (run.variant, run.task) not in shown:
            shown.add((run.variant, run.task))
            lines.append(f"  {run.variant}:" if run.task is None else f"  {run.variant} on {run.task}:")
            lines += [f"    {override}" for override in run.overrides]
    return "\n".join(lines) + "\n"
