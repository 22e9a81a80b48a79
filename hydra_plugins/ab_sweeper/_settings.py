"""Reading the `ab:` node back into `ABSettings`: unknown settings get a did-you-mean, wrong types name
the setting. The schema and the defaults are in config.py; this is only the check."""

from __future__ import annotations

import difflib
import typing
from dataclasses import fields, is_dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.ab_sweeper.config import ABSettings


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


def read_settings(node: DictConfig) -> ABSettings:
    _unknown_keys(node, ABSettings, "")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ABSettings), node)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as error:
        message = str(error).splitlines()[0]
        raise SettingsError(f"ab.{getattr(error, 'full_key', '') or ''}: {message}") from None
