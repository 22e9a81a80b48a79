"""Reading the `ab:` node back into `ABSettings`: unknown settings get a did-you-mean, wrong types name
the setting. The schema and the defaults are in config.py; this is only the check."""

from __future__ import annotations

import difflib
import typing
from dataclasses import fields, is_dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.ab_sweeper.config import ABSettings
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import NumberRange
from metta_ab.plan import SEED_MODULUS
from metta_ab.report.figure_files import FigureSettings


class SettingsError(ValueError):
    pass


def _unknown_keys(node: DictConfig, schema: type, prefix: str) -> None:
    hints = typing.get_type_hints(schema)
    known = [f.name for f in fields(schema)]
    for key in node:
        path = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
            hint = f"; did you mean ab.{prefix}{close[0]}?" if close else f"; the settings are: {', '.join(known)}"
            raise SettingsError(f"ab.{path} is not a setting of the ab sweeper{hint}")
        child = node._get_node(key)
        if isinstance(child, DictConfig) and is_dataclass(hints[key]):
            _unknown_keys(child, hints[key], f"{path}.")


#: The sweeper's own numeric settings and what they may hold (None, where allowed, is not checked).
RANGES = {
    "max_retries": NumberRange(whole=True, low=0),
    "run_timeout": NumberRange(low=0, low_open=True),
    "settle_timeout": NumberRange(low=0),
    "base_seed": NumberRange(whole=True, low=0, high=SEED_MODULUS, high_open=True),
    "progress_interval": NumberRange(low=0, low_open=True),
}


def _one_path_key_as_list(node: DictConfig) -> DictConfig:
    """`ab.inject.paths=log_root` means `[log_root]`: one key is the common case."""
    paths = OmegaConf.select(node, "inject.paths")
    if not isinstance(paths, str):
        return node
    return OmegaConf.merge(node, {"inject": {"paths": [paths]}})


def figure_settings(settings: ABSettings) -> FigureSettings:
    return FigureSettings(settings.plot_format, settings.plot_dpi)


def read_settings(node: DictConfig) -> ABSettings:
    _unknown_keys(node, ABSettings, "")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ABSettings), _one_path_key_as_list(node))
        settings: ABSettings = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as error:
        message = str(error).splitlines()[0]
        raise SettingsError(f"ab.{getattr(error, 'full_key', '') or ''}: {message}") from None
    for name, allowed in RANGES.items():
        value = getattr(settings, name)
        if value is not None and not allowed.accepts(value):
            raise SettingsError(f"ab.{name}={value}: must be {allowed.describe()}")
    try:
        settings.analysis.validate("ab.analysis")
        figure_settings(settings).check("ab.plot_format", "ab.plot_dpi")
        if settings.sequential.is_set:
            settings.sequential.check_given("ab.sequential")
    except ExperimentError as error:
        raise SettingsError(str(error)) from None
    return settings
