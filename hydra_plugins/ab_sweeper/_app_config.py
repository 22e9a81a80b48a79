"""What the app's config repository says about an experiment, and the checks made before any launch.

Resolves base-config `defaults` entries to group selections or root configs, finds variant keys that
are config groups, and composes each variant's config once so that a typo, an unknown option or a
value the schema rejects is reported with the variant, the key and a suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import keyword
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.ab_sweeper._config_keys import (
    all_keys,
    app_value,
    as_written,
    has_key,
    override_key,
    short_repr,
    suggest_keys,
    value_kind,
)
from hydra_plugins.ab_sweeper._progress import STATUS_LOGGER
from metta_ab.definition.experiment import ABExperiment, normalize_key
from metta_ab.plan import AppLayout, InjectionKeys, PlannedRun

BASE_GROUP = "ab_base"
DROP_AB_NODE = "~ab"  # every job is composed with the master's `hydra/sweeper=ab`, minus the `ab:` settings node


VALIDATION_HEARTBEAT = 10.0  # seconds between progress lines while the experiment is checked
VALIDATION_ANNOUNCED = 50  # this many variants and tasks or more: say at once what the wait is for


class ABConfigError(CompactHydraException):
    """An experiment that does not fit the app's config; raised before any job is launched."""


class AppConfig:
    """The app's config repository as seen by the sweeper (Hydra's config loader + master config)."""

    def __init__(self, config_loader: Any, master_config: DictConfig) -> None:
        self.loader = config_loader
        self.master = master_config
        self.selected_groups = set(master_config.hydra.runtime.choices.keys())  # incl. mandatory `???` ones

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        """A job's config, composed as the launcher will compose it."""
        return self.loader.load_sweep_config(self.master, [*overrides, DROP_AB_NODE])

    # --- layout ------------------------------------------------------------------------------------

    def layout(self, experiment: ABExperiment, task_overrides: Sequence[str]) -> AppLayout:
        """Resolve base defaults and group keys; register the `ab_base` node for root configs."""
        group_overrides: list[str] = []
        root_configs: list[str] = []
        loaded = self._loaded_configs(task_overrides)
        for entry in experiment.base_defaults:
            kind, value = self._resolve_default(entry, experiment.name)
            if kind == "group":
                group_overrides.append(value)
            elif value not in loaded:
                root_configs.append(value)
        node_name = None
        if root_configs:
            node_name = experiment.name
            ConfigStore.instance().store(
                group=BASE_GROUP,
                name=node_name,
                node={"defaults": [f"/{c}" for c in root_configs] + ["_self_"]},
                package="_global_",
                provider="metta_ab",
            )
        keys = {normalize_key(k)[0] for k in experiment.base_values}
        keys |= {normalize_key(k)[0] for v in (*experiment.variants, *experiment.tasks) for k in v.overrides}
        groups = frozenset(k for k in keys if self._is_group(k.replace(".", "/")))
        base = [*group_overrides, *([f"+{BASE_GROUP}={node_name}"] if node_name else []), *task_overrides]
        return AppLayout(
            group_keys=groups,
            base_group_overrides=tuple(group_overrides),
            base_config_node=node_name,
            dict_keys=self._dict_keys(experiment, base, groups),
        )

    def _dict_keys(self, experiment: ABExperiment, base: list[str], groups: frozenset[str]) -> frozenset[str]:
        """Keys the experiment gives a dict and the app holds a dict at: the value replaces the app's dict."""
        wanted = {
            dotted
            for values in (experiment.base_values, *(v.overrides for v in (*experiment.variants, *experiment.tasks)))
            for key, value in values.items()
            for dotted, adds in [normalize_key(key)]
            if isinstance(value, Mapping) and not adds and dotted not in groups
        }
        if not wanted:
            return frozenset()
        try:
            cfg = self.compose(base)
        except Exception:
            return frozenset()  # validation reports why the app's config does not compose
        return frozenset(k for k in wanted if isinstance(OmegaConf.select(cfg, k, throw_on_missing=False), DictConfig))

    def base_node_yaml(self, layout: AppLayout) -> str | None:
        if not layout.base_config_node:
            return None
        node = ConfigStore.instance().load(f"{BASE_GROUP}/{layout.base_config_node}.yaml").node
        selections = list(layout.base_group_overrides)
        return f"# @package _global_\n# group selections applied as overrides: {selections}\n" + OmegaConf.to_yaml(node)

    def _loaded_configs(self, task_overrides: Sequence[str]) -> set[str]:
        defaults = self.loader.compute_defaults_list(
            config_name=self.master.hydra.job.config_name,
            overrides=[*OmegaConf.to_container(self.master.hydra.overrides.hydra, resolve=False), *task_overrides],
            run_mode=RunMode.MULTIRUN,
        )
        return {d.config_path for d in defaults.defaults if d.config_path}

    def _is_group(self, path: str) -> bool:
        return bool(path) and self.loader.repository.group_exists(path)

    def _config_exists(self, path: str) -> bool:
        return self.loader.repository.config_exists(path)

    def _resolve_default(self, entry: str, experiment: str) -> tuple[str, str]:
        """`/agent/fast` -> ("group", "agent=fast" or "+agent=fast"); `/common` -> ("config", "common")."""
        path = entry.strip().strip("/")
        parts = path.split("/")
        splits = [("/".join(parts[:k]), "/".join(parts[k:])) for k in range(len(parts) - 1, 0, -1)]
        for group, option in splits:  # a group the app already selects wins (even a mandatory `???` one)
            if group in self.selected_groups and self._config_exists(f"{group}/{option}"):
                return "group", f"{group}={option}"
        for group, option in splits:
            if self._is_group(group) and self._config_exists(f"{group}/{option}"):
                return "group", f"+{group}={option}"
        if self._config_exists(path):
            return "config", path
        raise ABConfigError(
            f"experiment {experiment!r}: base config defaults entry {entry!r} names no config group option or "
            f"config of the app.{self._what_exists(parts)}"
        )

    def _what_exists(self, parts: list[str]) -> str:
        for k in range(len(parts) - 1, 0, -1):
            group = "/".join(parts[:k])
            if self._is_group(group):
                options = self.loader.get_group_options(group)
                close = difflib.get_close_matches("/".join(parts[k:]), options, n=1)
                hint = f" Did you mean '/{group}/{close[0]}'?" if close else ""
                return f" Group '{group}' has options: {', '.join(options)}.{hint}"
        groups = [g for g in self.loader.list_groups("") if g not in ("hydra", BASE_GROUP)]
        roots = [c for c in self.loader.get_group_options("") if not c.startswith("_")]
        return f" Groups: {', '.join(sorted(groups))}; root configs: {', '.join(sorted(roots))}."

    # --- injection ---

    def resolve_injection(
        self, overrides: Sequence[str], requested: InjectionKeys, explicit: set[str]
    ) -> tuple[InjectionKeys, list[str]]:
        """Where injected values go in this app. `overrides` compose a job without injected values.

        A target the user set (`explicit`) is kept, and checked later like a variant key. A default target
        (Metta's key map) is kept only where the app has it: the key itself, or for W&B keys the `wandb`
        node. The seed goes to the root `seed`, else to the one key named `seed` anywhere. Returns the
        targets and one note per default that could not be followed, for the plan and the summary.
        """
        try:
            cfg = self.compose(overrides)
        except Exception:
            return dataclasses.replace(requested, wandb_env=bool(requested.wandb_env)), []  # validation reports it
        resolved = dict(vars(requested))
        notes: list[str] = []
        wandb_skipped: list[str] = []
        for name, key in requested.targets().items():
            if name in explicit or _accepts_injection(cfg, name, key):
                continue
            resolved[name] = None
            if name == "seed":
                resolved[name], note = _discover_seed(cfg)
                notes.append(note)
            elif name.startswith("wandb_"):
                wandb_skipped.append(f"{name} -> {key}")
            else:
                notes.append(f"not injected: {name} -> {key} (the app's config has no key {key!r})")
        targets = InjectionKeys(**resolved)
        if targets.wandb_env is None:  # W&B's variables when the app's config takes no W&B value
            targets.wandb_env = not any(name.startswith("wandb_") for name in targets.targets())
        if wandb_skipped:
            via = (
                "W&B gets them from WANDB_* variables (a value the app passes to wandb.init itself, such as its own "
                "project or run name, wins over its variable)"
                if targets.wandb_env
                else "and ab.inject.wandb_env=false"
            )
            notes.append(f"not injected: {', '.join(wandb_skipped)} (the app's config has no W&B node); {via}")
        return targets, notes

    # --- validation ----------------------------------------------------------------------------------

    def validate(
        self,
        experiment: ABExperiment,
        layout: AppLayout,
        runs: Sequence[PlannedRun],
        inject: InjectionKeys,
        each_config: Callable[[PlannedRun, DictConfig], None] | None = None,
    ) -> list[str]:
        """Compose each variant's first job once (and each task's); on failure, say in the experiment file's
        terms which value of which variant, task or base config the app's config does not take, and the fix.
        Each config composed is shown to `each_config` (JobPathSearch.see: one composition per variant serves
        both). Returns a warning per value whose type differs from the app's default for its key."""
        first_runs: dict[tuple[str, str], PlannedRun] = {}
        for run in runs:
            first_runs.setdefault(("variant", run.variant), run)
            if run.task is not None:
                first_runs.setdefault(("task", run.task), run)
        said = started = time.monotonic()
        if len(first_runs) >= VALIDATION_ANNOUNCED:
            logging.getLogger(STATUS_LOGGER).info(
                "[ab] checking the experiment against the app's config: composing the first job of each of its %d "
                "variants and tasks (progress every %.0f s)", len(first_runs), VALIDATION_HEARTBEAT,
            )  # fmt: skip
        for done, (arm, run) in enumerate(first_runs.items()):
            if time.monotonic() - said >= VALIDATION_HEARTBEAT:  # thousands of variants take minutes
                said = time.monotonic()
                logging.getLogger(STATUS_LOGGER).info(
                    "[ab] checking the experiment against the app's config: %d of %d variants and tasks composed "
                    "(%.0f s)", done, len(first_runs), said - started,
                )  # fmt: skip
            try:
                cfg = self.compose(list(run.overrides))
            except Exception as error:
                message = _message(error)
                check = _Check(experiment, layout, first_runs, inject)
                self._explain_unselected_group(check, arm, message)
                self._explain_missing_key(check, arm)
                raise ABConfigError(f"{_Scope(*arm).where}: the app's config does not accept it:\n{message}") from None
            if each_config is not None:
                each_config(run, cfg)
        self._check_injection_targets(list(runs[0].overrides), inject)
        return self._value_type_warnings(experiment, layout, list(runs[0].overrides))

    def _value_type_warnings(self, experiment: ABExperiment, layout: AppLayout, overrides: list[str]) -> list[str]:
        """Values of another kind than the app's default for the key (a str where the app has a float). An
        untyped config takes them, and the app may convert them or not: said before launch, not refused."""
        scopes = [
            (_Scope(BASE_SCOPE, experiment.name), experiment.base_values),
            *((_Scope("variant", v.name), v.overrides) for v in experiment.variants),
            *((_Scope("task", t.name), t.overrides) for t in experiment.tasks),
        ]
        values = [
            (scope.where, dotted, value)
            for scope, arm_values in scopes
            for dotted, (_, value) in _app_values(arm_values, layout).items()
        ]
        if not values:
            return []
        keys = {dotted for _, dotted, _ in values}
        try:
            cfg = self.compose([o for o in overrides if override_key(o) not in keys])  # the app's own values
        except Exception:
            return []
        warnings = []
        for where, dotted, value in values:
            default = app_value(cfg, dotted)
            kind, default_kind = value_kind(value), value_kind(default)
            if kind and default_kind and kind != default_kind:
                shown = (
                    f"a {default_kind}"
                    if default_kind in ("list", "dict")
                    else f"{short_repr(default)} ({type(default).__name__})"
                )
                warnings.append(
                    f"{where} sets {dotted}={short_repr(value)} ({type(value).__name__}), where the app's default is "
                    f"{shown}; the app may not accept it"
                )
        return warnings

    def _check_injection_targets(self, overrides: list[str], inject: InjectionKeys) -> None:
        """Injected values must land on keys the app reads: `++` would silently add a typo."""
        targets = inject.targets()
        skeleton = [o for o in overrides if override_key(o) not in targets.values()]
        cfg = self.compose(skeleton)
        for name, key in targets.items():
            if not _accepts_injection(cfg, name, key):
                suggestions = suggest_keys(key, all_keys(cfg))
                hint = f" (did you mean {' or '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
                raise ABConfigError(
                    f"ab.inject.{name}={key}: the app's config has no key {key!r}{hint}; point it at the key the "
                    f"app reads, or set ab.inject.{name}=null to not inject it"
                )

    def _explain_unselected_group(self, check: _Check, arm: tuple[str, str], message: str) -> None:
        """A group key (`schedule="long"`) for a config group the app's defaults list does not select: Hydra's
        advice (`+schedule=long`) is for the command line; say the experiment file's form instead."""
        if "No match in the defaults list" not in message:
            return
        selected = self.selected_groups | {override_key(o) for o in check.layout.base_group_overrides}
        for scope, values in check.scopes(arm):
            for key, value in values.items():
                dotted, adds = normalize_key(key)
                group = dotted.replace(".", "/")
                if adds or dotted not in check.layout.group_keys or group in selected:
                    continue
                every_run = f'set_base_config(defaults=[..., "/{group}/{value}"])'
                fix = (
                    every_run if scope.kind == BASE_SCOPE else f"{scope.setting('+' + dotted, value)} (or {every_run})"
                )
                raise ABConfigError(
                    f"{scope.where}: {key!r} selects an option of the config group {group!r}, which the app's "
                    f"defaults list does not select, so there is no choice to replace; add the group: {fix}"
                )

    def _explain_missing_key(self, check: _Check, arm: tuple[str, str]) -> None:
        """Raise a one-line error if a value of the base config or of the failed variant (or task) sets a key
        its config, composed without the experiment's values, does not have. When the configs of other
        variants (their config-group options) do have it, say so: the key belongs in them, and a `+key` would
        add an unused key to this one. Else a did-you-mean from the app's own keys."""
        cfg = self._app_keys_config(check, arm)
        if cfg is None:
            return  # the problem is not a missing key; the caller reports Hydra's own message
        kind, name = arm
        for dotted, (scope, key, value) in check.settings(arm).items():
            if has_key(cfg, dotted):
                continue
            shown = f"key {key!r}" + (f" ({dotted})" if dotted != key else "")
            having = self._arms_with_key(check, arm, dotted)
            selects = check.selection_text(arm)
            if having:
                more = f" and {len(having) - SHOWN_NAMES} more" if len(having) > SHOWN_NAMES else ""
                listed = ", ".join(f"{n!r} ({selection})" for n, selection in having[:SHOWN_NAMES]) + more
                have = f"{kind} {listed} has it" if len(having) == 1 else f"{kind}s {listed} have it"
                if scope.kind == BASE_SCOPE:
                    others = ", ".join(repr(n) for n, _ in having[1:SHOWN_NAMES]) + more
                    likewise = f" (and likewise in {others})" if len(having) > 1 else ""
                    raise ABConfigError(
                        f"{scope.where}: {shown} is not in the config of {kind} {name!r}, which selects "
                        f"{selects}; {have}. Set it in the {kind}s that have it, not in the base config: "
                        f"{_Scope(kind, having[0][0]).setting(key, value)}{likewise}"
                    )
                raise ABConfigError(
                    f"{scope.where}: {shown} is not in its config: the option it selects ({selects}) does not have "
                    f"it; {have}. Remove it from {scope.setting(key, value)}, or select an option that has it"
                )
            suggestions = suggest_keys(dotted, all_keys(cfg))
            hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
            options = f" (with the options {kind} {name!r} selects: {selects})" if check.selections(arm) else ""
            raise ABConfigError(
                f"{scope.where}: {shown} does not exist in the app's config{options}.{hint} To add a new key on "
                f"purpose, write it with a leading '+': {scope.setting('+' + dotted, value)}"
            )

    def _app_keys_config(self, check: _Check, arm: tuple[str, str]) -> DictConfig | None:
        """The first job config of a variant (or task) with its group selections but without the experiment's
        values and the sweeper's injected ones: the app's own keys, where a did-you-mean looks."""
        dropped = check.value_keys | check.injected_keys
        try:
            return self.compose([o for o in check.first_runs[arm].overrides if override_key(o) not in dropped])
        except Exception:
            return None

    def _arms_with_key(self, check: _Check, arm: tuple[str, str], dotted: str) -> list[tuple[str, str]]:
        """The other variants (or tasks, as `arm` is one) whose config has `dotted`, each with its group
        selections; one composition per set of selections that differs from `arm`'s."""
        kind = arm[0]
        by_selection: dict[tuple[str, ...], list[str]] = {}
        for other in check.first_runs:
            if other[0] == kind:
                by_selection.setdefault(check.selections(other), []).append(other[1])
        having: list[tuple[str, str]] = []
        for selection, names in by_selection.items():
            if selection == check.selections(arm):
                continue
            cfg = self._app_keys_config(check, (kind, names[0]))
            if cfg is not None and has_key(cfg, dotted):
                having += [(n, check.selection_text((kind, n))) for n in names]
        return having


BASE_SCOPE = "base config"
SHOWN_NAMES = 5  # variants named in one error line; the rest are counted


@dataclasses.dataclass(frozen=True)
class _Scope:
    """Where the experiment file sets values: its base config (`name`: the experiment's), a variant or a task."""

    kind: str  # BASE_SCOPE, "variant" or "task"
    name: str

    @property
    def where(self) -> str:
        return f"experiment {self.name!r} base config" if self.kind == BASE_SCOPE else f"{self.kind} {self.name!r}"

    def setting(self, key: str, value: Any) -> str:
        """How the experiment file sets `key` to `value` here: `add_variant(name="a", ..., lr=0.1)`, with
        `**{"+algo.extra": 1}` for a key that is no Python name."""
        reserved = {"defaults"} if self.kind == BASE_SCOPE else {"name", "description", "tags"}
        if key.isidentifier() and not keyword.iskeyword(key) and key not in reserved:
            argument = f"{key}={as_written(value)}"
        else:
            argument = f"**{{{json.dumps(key)}: {as_written(value)}}}"
        call = "set_base_config(" if self.kind == BASE_SCOPE else f"add_{self.kind}(name={as_written(self.name)}, "
        return f"{call}..., {argument})"


class _Check:
    """What the explanations of a failed composition read: the experiment's values by scope, each variant's
    and task's group selections and first run, and the keys the sweeper injects."""

    def __init__(
        self,
        experiment: ABExperiment,
        layout: AppLayout,
        first_runs: Mapping[tuple[str, str], PlannedRun],
        inject: InjectionKeys,
    ) -> None:
        self.experiment = experiment
        self.layout = layout
        self.first_runs = first_runs
        self.arms = {("variant", v.name): v for v in experiment.variants} | {
            ("task", t.name): t for t in experiment.tasks
        }
        self.value_keys = {
            dotted
            for values in (experiment.base_values, *(a.overrides for a in self.arms.values()))
            for dotted in _app_values(values, layout)
        }
        self.injected_keys = set(inject.targets().values())

    def scopes(self, arm: tuple[str, str]) -> list[tuple[_Scope, Mapping[str, Any]]]:
        """The base config's values and the variant's (or task's) own."""
        return [
            (_Scope(BASE_SCOPE, self.experiment.name), self.experiment.base_values),
            (_Scope(*arm), self.arms[arm].overrides),
        ]

    def settings(self, arm: tuple[str, str]) -> dict[str, tuple[_Scope, str, Any]]:
        """dotted key -> (scope, key as written, value) of the values the first run of `arm` sets on keys of
        the app (not `+` keys, not group selections); the variant's own win over the base config's."""
        return {
            dotted: (scope, key, value)
            for scope, values in self.scopes(arm)
            for dotted, (key, value) in _app_values(values, self.layout).items()
        }

    def selections(self, arm: tuple[str, str]) -> tuple[str, ...]:
        """The config-group options a variant (or task) selects: `exp=ppo`."""
        return tuple(
            f"{dotted}={value}"
            for key, value in self.arms[arm].overrides.items()
            for dotted, _ in [normalize_key(key)]
            if dotted in self.layout.group_keys
        )

    def selection_text(self, arm: tuple[str, str]) -> str:
        return ", ".join(self.selections(arm)) or "the app's default options"


def _app_values(values: Mapping[str, Any], layout: AppLayout) -> dict[str, tuple[str, Any]]:
    """dotted key -> (key as written, value) of the values an experiment sets on keys of the app's config: not
    the `+` keys it adds, not config-group selections."""
    return {
        dotted: (key, value)
        for key, value in values.items()
        for dotted, adds in [normalize_key(key)]
        if not adds and dotted not in layout.group_keys
    }


def _message(error: BaseException) -> str:
    message = str(error).strip()
    if error.__cause__ is not None and str(error.__cause__) not in message:
        message += f"\n{error.__cause__}"
    return message


def _discover_seed(cfg: DictConfig) -> tuple[str | None, str]:
    """The one key named `seed` anywhere in the app's config (e.g. `experiment.seed`), and a note on it."""
    candidates = [k for k in all_keys(cfg) if k.rsplit(".", 1)[-1] == "seed"]
    if len(candidates) == 1:
        return candidates[0], f"seed -> {candidates[0]} (the only key named 'seed' in the app's config)"
    found = f"several keys are named 'seed' ({', '.join(candidates)})" if candidates else "no key is named 'seed'"
    return None, (
        f"WARNING: the sweeper could not seed the runs: in the app's config {found}. Runs of a variant may be "
        "identical, and the analysis does not pair them. Point ab.inject.seed at the key the app seeds with "
        f"(e.g. ab.inject.seed={candidates[0] if candidates else 'trainer.seed'})."
    )


def _accepts_injection(cfg: DictConfig, name: str, key: str) -> bool:
    """The key exists; a W&B key may also be new inside an existing node (Metta's `wandb: off` has only
    `enabled`), which `++` then adds."""
    if has_key(cfg, key):
        return True
    parent = key.rpartition(".")[0]
    return name.startswith("wandb_") and bool(parent) and isinstance(OmegaConf.select(cfg, parent), DictConfig)
