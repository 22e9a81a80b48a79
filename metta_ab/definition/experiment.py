"""The experiment definition: variants along one axis, N runs each, a base config, optionally a suite of tasks.

`ABVariant` and `ABExperiment` are plain values with a `validate()` that states every mistake a
researcher can make before anything runs; `create_experiment` is the fluent builder the seed README
documents. Nothing here knows about Hydra.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.overrides import OverrideValueError, format_value, plain_value

if TYPE_CHECKING:
    from metta_ab.definition.metric_reader import MetricReader

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
#: Experiment, variant and task names become directory names (`<variant>_<task>_run_<i>`, the lock file
#: `.<experiment>.lock`, W&B project `ab_test_<experiment>_<date>`): this keeps every one under file systems' 255.
MAX_NAME_LENGTH = 100
_KEY_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")


def check_safe_name(name: object, what: str) -> None:
    """Names become directory names and run names: letters, digits, `-`, `_`, `.`, no path tricks."""
    if not isinstance(name, str) or not name:
        raise ExperimentError(f"{what} must be a non-empty string, got {name!r}")
    if not SAFE_NAME.match(name) or ".." in name:
        raise ExperimentError(
            f"{what} {name!r} is not usable as a directory name: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (no spaces, no '/', no '..')"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ExperimentError(
            f"{what} {name[:40]!r}... is {len(name)} characters long; names become directory names, "
            f"so they may have at most {MAX_NAME_LENGTH}"
        )


def check_tags(tags: object, where: str) -> None:
    if isinstance(tags, str) or not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ExperimentError(f"{where}: tags must be a list of strings (e.g. ['baseline']), got {tags!r}")


def normalize_key(key: str) -> tuple[str, bool]:
    """`trainer__learning_rate` -> (`trainer.learning_rate`, False); a leading `+` means "add this key"."""
    adds = key.startswith("+")
    dotted = key.lstrip("+").replace("__", ".")
    return dotted, adds


def check_override_key(key: object, where: str) -> None:
    if not isinstance(key, str):
        raise ExperimentError(f"{where}: override key {key!r} must be a string")
    dotted, _ = normalize_key(key)
    if key.startswith("++") or not all(_KEY_SEGMENT.match(part) for part in dotted.split(".")):
        raise ExperimentError(
            f"{where}: override key {key!r} is not a config key; write nested keys as "
            "'trainer__learning_rate' or 'trainer.learning_rate' (a leading '+' adds a new key)"
        )
    root = dotted.split(".")[0]
    if root == "hydra":
        raise ExperimentError(
            f"{where}: key {key!r} is Hydra's setting {dotted}, which an experiment cannot set (the sweep would "
            f"ignore it or apply it to some runs only); set {dotted} on the command line, where it applies to every run"
        )
    if root == "ab":
        raise ExperimentError(
            f"{where}: key {key!r} is the ab sweeper's setting {dotted}, not a setting of a run; "
            f"set {dotted} on the command line"
        )


def checked_values(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """`values` with every value as plain Python data (numpy numbers as int/float/bool), so it is saved and
    passed as a number; a value no override can carry is refused here, naming the key."""
    result = {}
    for key, value in values.items():
        try:
            result[key] = plain_value(value)
            format_value(result[key])  # dict keys the override grammar cannot write
        except OverrideValueError as error:
            raise ExperimentError(f"{where}, key {key!r}: {error}") from None
    return result


def _plain_setting(value: Any) -> Any:
    """A setting's numpy number as a Python one; anything else as it is, for validate() to judge."""
    try:
        return plain_value(value)
    except OverrideValueError:
        return value


@dataclass(frozen=True)
class NumberRange:
    """The numbers a setting may hold; `describe()` says it in an error."""

    whole: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is refused
    high_open: bool = False

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if self.whole else int | float):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or (value < self.high or (not self.high_open and value == self.high))

    def describe(self) -> str:
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        kind = "a whole number" if self.whole else "a finite number"
        return f"{kind} {' and '.join(bounds)}".rstrip()


@dataclass
class ABVariant:
    """One arm of the comparison: a name, what it changes (`overrides`) and W&B tags. A task of a suite
    (`.add_task`) is the same kind of value: what every variant's runs on that task change."""

    name: str
    description: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tags is None:
            self.tags = []

    def validate(self, kind: str = "variant") -> None:
        check_safe_name(self.name, f"{kind} name")
        where = f"{kind} {self.name!r}"
        if not isinstance(self.overrides, Mapping):
            raise ExperimentError(f"{where}: overrides must be a dict, got {type(self.overrides).__name__}")
        seen: dict[str, str] = {}
        for key in self.overrides:
            check_override_key(key, where)
            dotted, _ = normalize_key(key)
            if dotted in seen:
                raise ExperimentError(f"{where}: {seen[dotted]!r} and {key!r} set the same key {dotted!r}")
            seen[dotted] = key
        self.overrides = checked_values(self.overrides, where)
        check_tags(self.tags, where)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ExperimentError(f"{where} must be a mapping of key: value, got {value!r}")
    return dict(value)


def _today() -> str:
    return _dt.date.today().isoformat()


CURVE_SUMMARIES = ("final", "auc", "threshold", "returned")
#: In a metric name, the task's place: "eval/{task}/reward" (a suite's metric template).
TASK_FIELD = "{task}"


def _arm_dict(arm: ABVariant) -> dict[str, Any]:
    return {
        "name": arm.name,
        "description": arm.description,
        "overrides": plain_value(arm.overrides),
        "tags": list(arm.tags),
    }


def _arm_from_dict(raw: Any, where: str) -> ABVariant:
    if not isinstance(raw, Mapping) or "name" not in raw or set(raw) - {"name", "description", "overrides", "tags"}:
        raise ExperimentError(
            f"{where} must be a mapping with 'name' and optionally 'description', 'overrides', 'tags', got {raw!r}"
        )
    return ABVariant(
        name=raw["name"],
        description=raw.get("description") or "",
        overrides=_mapping(raw.get("overrides"), f"{where} overrides"),
        tags=raw.get("tags") or [],
    )


@dataclass
class AnalysisSettings:
    """How the verdict is computed; declared with the experiment, before any run (see stats-spec).

    Every field may be None, meaning "not said here": layers (experiment file < sweeper config `ab.analysis`
    < `metta-ab analyze` flags) are merged with `over`, and `resolved()` fills the defaults: the statistics'
    own (`metta_ab.stats.settings.DEFAULTS`, the one place they are written) and `DEFAULTS` for the rest.
    """

    metric: str | None = None  # the primary metric; default: the first numeric value the runs reported
    direction: str | None = None  # "max" (default) or "min"
    control: str | None = None  # default: the first variant
    alpha: float | None = None  # 0.05, two-sided
    ci_level: float | None = None  # 0.95
    n_resamples: int | None = None  # bootstrap resamples, 10,000
    seed: int | None = None  # bootstrap / permutation seed, 0
    curve_summary: str | None = None  # final (mean of the last K evaluations), auc, threshold, returned
    last_k: int | None = None  # evaluations averaged by "final"; default the last 10%, at least 1
    threshold: float | None = None  # for curve_summary="threshold": first step at or past it
    min_effect: float | None = None  # smallest difference that matters (enables "equivalent")
    normalize: dict[str, Any] | None = None  # suites: task -> [low, high]; default: by the control's task mean
    target: float | None = None  # suites: the normalized score that counts as solved (the optimality gap)

    RANGES = {
        "alpha": NumberRange(low=0, high=0.5, low_open=True, high_open=True),  # two-sided: 0.5 rejects nothing
        "ci_level": NumberRange(low=0.5, high=1, low_open=True, high_open=True),
        "n_resamples": NumberRange(whole=True, low=100),  # fewer gives CIs that change from seed to seed
        "seed": NumberRange(whole=True, low=0),  # numpy's generators take no negative seed
        "last_k": NumberRange(whole=True, low=1),
        "threshold": NumberRange(),
        "min_effect": NumberRange(low=0),
        "target": NumberRange(),
    }
    DEFAULTS = {"curve_summary": "final"}  # the defaults of the settings the statistics do not take

    def over(self, other: AnalysisSettings | None) -> AnalysisSettings:
        """These settings with `other`'s non-None values on top."""
        if other is None:
            return self
        mine = dict(vars(self))
        mine.update({k: v for k, v in vars(other).items() if v is not None})
        return AnalysisSettings(**mine)

    def resolved(self) -> AnalysisSettings:
        # deferred: importing the statistics loads numpy and scipy, which Hydra's app start must not pay for
        from metta_ab.stats.settings import DEFAULTS as STATS_DEFAULTS

        defaults = {**vars(STATS_DEFAULTS), **self.DEFAULTS}
        filled = {k: (defaults.get(k) if v is None else v) for k, v in vars(self).items()}
        return AnalysisSettings(**filled)

    def validate(self, where: str, variants: Iterable[str] = ()) -> None:
        if self.direction not in (None, "max", "min"):
            raise ExperimentError(f"{where}: direction must be 'max' or 'min', got {self.direction!r}")
        if self.curve_summary not in (None, *CURVE_SUMMARIES):
            raise ExperimentError(
                f"{where}: curve summary must be one of {CURVE_SUMMARIES}, got {self.curve_summary!r}"
            )
        if self.curve_summary == "threshold" and self.threshold is None:
            raise ExperimentError(f"{where}: curve summary 'threshold' needs a threshold value")
        if self.metric is not None and not isinstance(self.metric, str):
            raise ExperimentError(f"{where}: metric must be a metric name (a string), got {self.metric!r}")
        for name, allowed in self.RANGES.items():
            value = getattr(self, name)
            if value is not None and not allowed.accepts(value):
                raise ExperimentError(f"{where}: {name} must be {allowed.describe()}, got {value!r}")
        if self.normalize is not None:
            if not isinstance(self.normalize, Mapping):
                raise ExperimentError(f"{where}: normalize must map task -> (low, high), got {self.normalize!r}")
            for task, bounds in self.normalize.items():
                ok = isinstance(bounds, list | tuple) and len(bounds) == 2
                if not ok or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds):
                    raise ExperimentError(
                        f"{where}: normalize[{task!r}] must be (low, high), e.g. the random and expert scores, "
                        f"got {bounds!r}"
                    )
                if bounds[0] == bounds[1]:
                    raise ExperimentError(f"{where}: normalize[{task!r}] has low == high ({bounds[0]!r})")
        names = list(variants)
        if self.control is not None and names and self.control not in names:
            raise ExperimentError(f"{where}: control {self.control!r} is not a variant; variants: {', '.join(names)}")


@dataclass(frozen=True)
class SecondaryMetric:
    """A metric reported beside the verdict (`.add_metric`): wall-clock, success rate, ... Each is analyzed as the
    primary one is, with the control, alpha and CI level of the primary analysis; together they form one Holm
    family of their own, and they never change the verdict."""

    name: str
    direction: str = "max"
    curve_summary: str | None = None  # final (the default), auc or returned; time to a threshold needs its own T
    last_k: int | None = None

    def settings(self, primary: AnalysisSettings) -> AnalysisSettings:
        """The primary analysis's settings (control, alpha, CI level, resamples, seed) with this metric's own;
        `min_effect` is in the primary metric's units, so it does not carry over."""
        own = AnalysisSettings(
            metric=self.name,
            direction=self.direction,
            curve_summary=self.curve_summary or "final",
            last_k=self.last_k,
        )
        shared = replace(primary, min_effect=None, last_k=None, threshold=None, normalize=None, target=None)
        return shared.over(own)

    def validate(self, where: str, primary_metric: str | None) -> None:
        if not isinstance(self.name, str) or not self.name or TASK_FIELD in self.name:
            raise ExperimentError(
                f"{where}: a secondary metric needs a plain name (no {TASK_FIELD}), got {self.name!r}"
            )
        where = f"{where} {self.name!r}"
        if self.name == primary_metric:
            raise ExperimentError(f"{where} is the primary metric (.set_metric); a secondary metric is another one")
        if self.curve_summary not in (None, "final", "auc", "returned"):
            raise ExperimentError(
                f"{where}: curve_summary must be 'final', 'auc' or 'returned', got {self.curve_summary!r} (time to "
                "a threshold is for the primary metric)"
            )
        AnalysisSettings(direction=self.direction, last_k=self.last_k).validate(where)


@dataclass
class SequentialSettings:
    """A sequential design (metta_ab.stats.sequential): a look after every `runs_per_look` runs per variant, up
    to `max_runs_per_variant`; `spending` is the alpha-spending function. None means "not said here" (the
    sweeper's `ab.sequential.*` settings are layered over the experiment's with `over`)."""

    max_runs_per_variant: int | None = None
    runs_per_look: int | None = None
    spending: str | None = None  # default metta_ab.stats.sequential.DEFAULT_SPENDING

    def over(self, other: SequentialSettings | None) -> SequentialSettings:
        if other is None:
            return self
        mine = dict(vars(self))
        mine.update({k: v for k, v in vars(other).items() if v is not None})
        return SequentialSettings(**mine)

    @property
    def is_set(self) -> bool:
        return any(v is not None for v in vars(self).values())

    def check_given(self, where: str) -> None:
        """Each value that is set, on its own (`ab.sequential.*` may complete the experiment's design)."""
        from metta_ab.stats.sequential import _spending_kind

        runs = NumberRange(whole=True, low=2)  # a t-test at a look needs 2 runs per variant
        for name in ("max_runs_per_variant", "runs_per_look"):
            value = getattr(self, name)
            if value is not None and not runs.accepts(value):
                raise ExperimentError(f"{where}: {name} must be {runs.describe()}, got {value!r}")
        try:
            if self.spending is not None:
                _spending_kind(self.spending)
        except ValueError as error:
            raise ExperimentError(f"{where}: {error}") from None

    def validate(self, where: str) -> None:
        from metta_ab.stats.sequential import check_schedule

        self.check_given(where)
        if self.max_runs_per_variant is None or self.runs_per_look is None:
            raise ExperimentError(
                f"{where}: a sequential design needs both max_runs_per_variant and runs_per_look, got {vars(self)}; "
                "set them with .set_sequential(max_runs_per_variant=N, runs_per_look=k) or "
                "ab.sequential.max_runs_per_variant=N ab.sequential.runs_per_look=k"
            )
        try:
            check_schedule(self.max_runs_per_variant, self.runs_per_look)
        except ValueError as error:
            raise ExperimentError(f"{where}: {error}") from None


@dataclass
class ABExperiment:
    """A whole A/B experiment. Subclass it (the seed's "custom experiment class") or use the builder."""

    name: str
    description: str = ""
    date: str = ""
    variants: list[ABVariant] = field(default_factory=list)
    # .add_task(...): a suite trained one task per run (jobs: variants x tasks x runs); empty: no such suite
    tasks: list[ABVariant] = field(default_factory=list)
    runs_per_variant: int = 5
    base_config: dict[str, Any] = field(default_factory=dict)
    wandb_project: str | None = None
    wandb_entity: str | None = None
    wandb_tags: list[str] = field(default_factory=list)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    # .set_sequential(...): looks after every k runs per variant up to N (None: a fixed design)
    sequential: SequentialSettings | None = None
    app: str | None = None  # the Hydra training script `metta-ab run` launches (default: tools/train.py)
    # .set_metric(name, reader=fn): a function that reads the metric from a job directory (a plain function
    # until validate() records it as a MetricReader; experiment_config.yaml holds it as analysis.reader)
    metric_reader: MetricReader | Any = None
    # .add_metric(name, direction): reported beside the verdict, one Holm family of their own, never deciding
    secondary_metrics: list[SecondaryMetric] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.date:
            self.date = _today()
        if self.wandb_project is None:
            self.wandb_project = f"ab_test_{self.name}_{self.date}"

    def add_variant(self, variant: ABVariant) -> ABExperiment:
        self.variants.append(variant)
        return self

    def with_changes(self, **changes: Any) -> ABExperiment:
        """A copy of this experiment, of the same class, with `changes` set. The copy is made without calling
        `__init__`: a subclass's own `__init__` (the custom experiment class pattern) takes no field arguments,
        so `dataclasses.replace` cannot copy it."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {unknown}")
        changed = copy.copy(self)
        for name, value in changes.items():
            setattr(changed, name, value)
        return changed

    def variant(self, name: str) -> ABVariant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)

    @property
    def base_defaults(self) -> list[str]:
        return list(self.base_config.get("defaults", []))

    @property
    def base_values(self) -> dict[str, Any]:
        return {k: v for k, v in self.base_config.items() if k != "defaults"}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `experiment_config.yaml`; `from_dict` reads it back into an equal experiment."""
        return {
            "name": self.name,
            "description": self.description,
            "date": self.date,
            "runs_per_variant": self.runs_per_variant,
            "base_config": plain_value(self.base_config),
            "wandb_project": self.wandb_project,
            "wandb_entity": self.wandb_entity,
            "wandb_tags": list(self.wandb_tags),
            "analysis": {
                **{k: v for k, v in vars(self.analysis).items() if v is not None},
                **({"reader": self.metric_reader.spec} if self.metric_reader is not None else {}),
            },
            "app": self.app,
            **({"sequential": dict(vars(self.sequential))} if self.sequential is not None else {}),
            "variants": [_arm_dict(v) for v in self.variants],
            **({"tasks": [_arm_dict(t) for t in self.tasks]} if self.tasks else {}),
            **({"secondary_metrics": [asdict(m) for m in self.secondary_metrics]} if self.secondary_metrics else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "experiment") -> ABExperiment:
        """Build from `to_dict()` output (a saved experiment), rejecting unknown or missing fields."""
        if not isinstance(data, Mapping):
            raise ExperimentError(f"{source}: expected a mapping with 'name' and 'variants', got {type(data).__name__}")
        fields = {
            "analysis",
            "app",
            "name",
            "description",
            "date",
            "runs_per_variant",
            "base_config",
            "wandb_project",
            "wandb_entity",
            "wandb_tags",
            "variants",
            "tasks",
            "sequential",
            "secondary_metrics",
        }
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ExperimentError(f"{source}: unknown field(s) {unknown}; allowed: {sorted(fields)}")
        if "name" not in data or "variants" not in data:
            raise ExperimentError(f"{source}: 'name' and 'variants' are required")
        variants = [_arm_from_dict(raw, f"{source}: variants[{i}]") for i, raw in enumerate(data["variants"] or [])]
        tasks = [_arm_from_dict(raw, f"{source}: tasks[{i}]") for i, raw in enumerate(data.get("tasks") or [])]
        skipped = {"variants", "tasks", "analysis", "sequential", "secondary_metrics"}
        kwargs = {k: data[k] for k in fields - skipped if data.get(k) is not None}
        sequential = data.get("sequential")
        if sequential is not None:
            if not isinstance(sequential, Mapping) or set(sequential) - set(vars(SequentialSettings())):
                raise ExperimentError(
                    f"{source}: 'sequential' must be a mapping with keys among {sorted(vars(SequentialSettings()))}"
                )
            kwargs["sequential"] = SequentialSettings(**sequential)
        secondary = data.get("secondary_metrics") or []
        known_secondary = set(vars(SecondaryMetric("")))
        if not isinstance(secondary, list) or not all(
            isinstance(m, Mapping) and "name" in m and set(m) <= known_secondary for m in secondary
        ):
            raise ExperimentError(
                f"{source}: 'secondary_metrics' must be a list of mappings with 'name' and keys among "
                f"{sorted(known_secondary)}"
            )
        kwargs["secondary_metrics"] = [SecondaryMetric(**m) for m in secondary]
        if isinstance(kwargs.get("date"), _dt.date):  # YAML reads an unquoted 2024-03-01 as a date
            kwargs["date"] = kwargs["date"].isoformat()
        analysis = data.get("analysis") or {}
        known = set(vars(AnalysisSettings()))
        if not isinstance(analysis, Mapping) or set(analysis) - known - {"reader"}:
            raise ExperimentError(
                f"{source}: 'analysis' must be a mapping with keys among {sorted([*known, 'reader'])}"
            )
        analysis = dict(analysis)
        reader = analysis.pop("reader", None)
        kwargs["analysis"] = AnalysisSettings(**analysis)
        if reader is not None:
            from metta_ab.definition.metric_reader import MetricReader

            kwargs["metric_reader"] = MetricReader.from_spec(reader, analysis.get("metric"), source)
        return ABExperiment(variants=variants, tasks=tasks, **kwargs).validate()

    def validate(self) -> ABExperiment:
        """Raise ExperimentError naming the first problem; return self so calls chain."""
        check_safe_name(self.name, "experiment name")
        check_tags(self.wandb_tags, f"experiment {self.name!r} W&B")
        if len(self.variants) < 2:
            raise ExperimentError(
                f"experiment {self.name!r} has {len(self.variants)} variant(s); an A/B test needs at least 2: "
                "add them with .add_variant(name=..., <key>=<value>)"
            )
        names: set[str] = set()
        for variant in self.variants:
            if not isinstance(variant, ABVariant):
                raise ExperimentError(f"experiment {self.name!r}: {variant!r} is not an ABVariant")
            variant.validate()
            if variant.name in names:
                raise ExperimentError(
                    f"experiment {self.name!r}: two variants are named {variant.name!r}; variant names must be unique"
                )
            names.add(variant.name)
        self._validate_tasks()
        self.runs_per_variant = runs = _plain_setting(self.runs_per_variant)
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            raise ExperimentError(
                f"experiment {self.name!r}: runs_per_variant must be a whole number >= 1, got {runs!r}; "
                "set it with .set_runs_per_variant(n)"
            )
        if self.sequential is not None:
            self.sequential = SequentialSettings(**{k: _plain_setting(v) for k, v in vars(self.sequential).items()})
            self.sequential.validate(f"experiment {self.name!r} sequential design")
            self.runs_per_variant = self.sequential.max_runs_per_variant
        self._validate_base_config()
        self.analysis = AnalysisSettings(**{k: _plain_setting(v) for k, v in vars(self.analysis).items()})
        self.analysis.validate(f"experiment {self.name!r} metric settings", [v.name for v in self.variants])
        self._validate_secondary_metrics()
        if self.metric_reader is not None:
            from metta_ab.definition.metric_reader import MetricReader

            if not isinstance(self.metric_reader, MetricReader):
                try:
                    self.metric_reader = MetricReader.from_callable(self.metric_reader, self.analysis.metric)
                except ExperimentError as error:
                    raise ExperimentError(f"experiment {self.name!r}: {error}") from None
        return self

    def _validate_secondary_metrics(self) -> None:
        where = f"experiment {self.name!r} secondary metric"
        names = [m.name for m in self.secondary_metrics if isinstance(m, SecondaryMetric)]
        for metric in self.secondary_metrics:
            if not isinstance(metric, SecondaryMetric):
                raise ExperimentError(f"{where}: {metric!r} is not a SecondaryMetric (use .add_metric)")
            metric.validate(where, self.analysis.metric)
            if names.count(metric.name) > 1:
                raise ExperimentError(f"{where} {metric.name!r} is declared twice")
        if self.secondary_metrics and self.is_suite:
            raise ExperimentError(
                f"{where}s are analyzed per run, and a suite's runs are scored per task: declare them in an "
                "experiment without tasks, or analyze one with `metta-ab analyze DIR --metric NAME --direction ...`"
            )

    def _validate_tasks(self) -> None:
        names: set[str] = set()
        for task in self.tasks:
            if not isinstance(task, ABVariant):
                raise ExperimentError(f"experiment {self.name!r}: task {task!r} is not an ABVariant (use .add_task)")
            task.validate("task")
            if task.name in names:
                raise ExperimentError(f"experiment {self.name!r}: two tasks are named {task.name!r}")
            names.add(task.name)
            task_keys = {normalize_key(k)[0]: k for k in task.overrides}
            for variant in self.variants:
                both = [k for k in variant.overrides if normalize_key(k)[0] in task_keys]
                if both:
                    raise ExperimentError(
                        f"experiment {self.name!r}: variant {variant.name!r} and task {task.name!r} both set "
                        f"{both[0]!r}; a variant changes what is compared and a task where it is measured, so a key "
                        "belongs to one of them"
                    )
        if self.tasks and len(self.tasks) < 2:
            raise ExperimentError(
                f"experiment {self.name!r} has one task ({self.tasks[0].name!r}); a suite needs at least 2 "
                "(with one task, put its overrides in .set_base_config)"
            )
        normalize = self.analysis.normalize or {}
        unknown = sorted(set(normalize) - names) if self.tasks else []
        if unknown:
            raise ExperimentError(
                f"experiment {self.name!r} metric settings: normalize names task(s) {unknown} that are not tasks; "
                f"tasks: {', '.join(sorted(names))}"
            )

    @property
    def is_suite(self) -> bool:
        """Scores per task: tasks trained separately (.add_task) or a metric template naming `{task}` (the
        analysis also treats a template given later, e.g. `metta-ab analyze --metric`, as one)."""
        return bool(self.tasks) or TASK_FIELD in (self.analysis.metric or "")

    def _validate_base_config(self) -> None:
        where = f"experiment {self.name!r} base config"
        if not isinstance(self.base_config, Mapping):
            raise ExperimentError(f"{where} must be a dict, got {type(self.base_config).__name__}")
        defaults = self.base_config.get("defaults", [])
        if isinstance(defaults, str) or not all(isinstance(d, str) and d.strip("/") for d in defaults):
            raise ExperimentError(
                f"{where}: defaults must be a list of config paths such as ['/common', '/agent/fast'], got {defaults!r}"
            )
        hydra_entries = [d for d in defaults if d.strip("/").split("/")[0] == "hydra"]
        if hydra_entries:
            group, _, option = hydra_entries[0].strip("/").rpartition("/")
            raise ExperimentError(
                f"{where}: defaults entry {hydra_entries[0]!r} selects a Hydra setting, which an experiment cannot "
                f"set; select it on the command line ({group}={option}), where it applies to every run"
            )
        for key in self.base_values:
            check_override_key(key, where)
        values = checked_values(self.base_values, where)
        self.base_config = {key: values.get(key, value) for key, value in self.base_config.items()}


class ExperimentBuilder:
    """Fluent builder: `create_experiment(name, description).add_variant(...)...build()`."""

    def __init__(self, name: str, description: str = "", date: str = "") -> None:
        self._experiment = ABExperiment(name=name, description=description, date=date)
        self._project_set = False

    def add_variant(
        self, name: str, description: str = "", tags: Iterable[str] | None = None, **overrides: Any
    ) -> ExperimentBuilder:
        variant = ABVariant(name=name, description=description, overrides=dict(overrides), tags=tags)  # type: ignore[arg-type]
        self._experiment.add_variant(variant)
        return self

    def add_task(
        self, name: str, description: str = "", tags: Iterable[str] | None = None, **overrides: Any
    ) -> ExperimentBuilder:
        """A task of a suite, trained separately: every variant runs on it (jobs: variants x tasks x runs,
        `<variant>_<task>_run_<i>`), with these overrides; seeds are paired across variants within a task."""
        self._experiment.tasks.append(
            ABVariant(name=name, description=description, overrides=dict(overrides), tags=tags)
        )  # type: ignore[arg-type]
        return self

    def set_runs_per_variant(self, runs: int) -> ExperimentBuilder:
        self._experiment.runs_per_variant = runs
        return self

    def set_sequential(
        self, max_runs_per_variant: int, runs_per_look: int, *, spending: str | None = None
    ) -> ExperimentBuilder:
        """A sequential experiment: `runs_per_look` (k >= 2) runs per variant, a look (the group-sequential
        decision of metta_ab.stats.sequential), then the next k, up to `max_runs_per_variant` (a multiple of k).
        The false-positive rate over all looks stays at alpha; `runs_per_variant` becomes the maximum."""
        self._experiment.sequential = SequentialSettings(max_runs_per_variant, runs_per_look, spending)
        if isinstance(max_runs_per_variant, int) and not isinstance(max_runs_per_variant, bool):
            self._experiment.runs_per_variant = max_runs_per_variant
        return self

    def set_base_config(self, defaults: Iterable[str] | None = None, **values: Any) -> ExperimentBuilder:
        base: dict[str, Any] = dict(values)
        if defaults is not None:
            base["defaults"] = list(defaults) if not isinstance(defaults, str) else defaults
        self._experiment.base_config = base
        return self

    def set_wandb_config(
        self, project: str | None = None, entity: str | None = None, tags: Iterable[str] | None = None
    ) -> ExperimentBuilder:
        if project is not None:
            self._experiment.wandb_project = project
        if entity is not None:
            self._experiment.wandb_entity = entity
        if tags is not None:
            self._experiment.wandb_tags = tags  # type: ignore[assignment]
        return self

    def set_app(self, path: str) -> ExperimentBuilder:
        """The Hydra training script `metta-ab run` uses when --app is not given."""
        self._experiment.app = str(path)
        return self

    def set_metric(
        self,
        name: str,
        direction: str = "max",
        *,
        control: str | None = None,
        curve_summary: str | None = None,
        last_k: int | None = None,
        threshold: float | None = None,
        min_effect: float | None = None,
        alpha: float | None = None,
        normalize: Mapping[str, tuple[float, float]] | None = None,
        target: float | None = None,
        reader: Callable[[Path], Any] | None = None,
    ) -> ExperimentBuilder:
        """Declare the primary metric and how it is judged, before the runs (good practice).

        `reader(job_dir)`, a module-level function, reads the metric from a job directory when the app
        leaves it where no built-in source looks: it returns the metric's final value, a dict of numbers,
        the metrics.json layout or None (see `metta_ab.sources.reader`).

        Suites: a `name` with `{task}` (`"eval/{task}/reward"`) is a template, matched against every logged
        key (each match is a task); `normalize` maps a task to (low, high), e.g. its random and expert scores
        (default: relative to the control's mean on the task); `target` is the normalized score that counts
        as solved (for the optimality gap)."""
        self._experiment.analysis = AnalysisSettings(
            metric=name,
            direction=direction,
            control=control,
            curve_summary=curve_summary,
            last_k=last_k,
            threshold=threshold,
            min_effect=min_effect,
            alpha=alpha,
            normalize=None if normalize is None else {k: list(v) for k, v in normalize.items()},
            target=target,
        )
        self._experiment.metric_reader = reader
        return self

    def add_metric(
        self, name: str, direction: str = "max", *, curve_summary: str | None = None, last_k: int | None = None
    ) -> ExperimentBuilder:
        """A secondary metric (wall-clock, success rate, ...), reported beside the verdict in a section of its own:
        analyzed with the primary analysis's control, alpha and CI level, one Holm family across all secondary
        metrics and treatments, never changing the verdict."""
        self._experiment.secondary_metrics.append(SecondaryMetric(name, direction, curve_summary, last_k))
        return self

    def build(self) -> ABExperiment:
        return self._experiment.validate()


def create_experiment(name: str, description: str = "", date: str = "") -> ExperimentBuilder:
    """Start an experiment definition (see the README's quick start)."""
    return ExperimentBuilder(name, description, date)
