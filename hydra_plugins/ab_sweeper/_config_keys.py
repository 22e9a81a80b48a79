"""Keys and values of a composed config as the checks before launch read them, and the keys to suggest
for a typo."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def override_key(override: str) -> str:
    """`++a.b='x'`, `+a.b={...}`, `~a.b` -> `a.b`."""
    return override.split("=", 1)[0].lstrip("+~")


def has_key(cfg: Any, dotted: str) -> bool:
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, DictConfig) or part not in node.keys():  # noqa: SIM118 (`in` hides ??? values)
            return False
        node = node._get_node(part)
    return True


def raw_value(cfg: DictConfig, dotted: str) -> Any:
    """The value at `dotted` as written, interpolations unresolved; None for a dict, a list or no key."""
    if not has_key(cfg, dotted):
        return None
    node: Any = cfg
    for part in dotted.split("."):
        node = node._get_node(part)
    if isinstance(node, DictConfig | ListConfig) and not node._is_interpolation():
        return None
    return node._value()


def app_value(cfg: DictConfig, dotted: str) -> Any:
    """The app's value at `dotted`, None where it has none it can give (no key, `???`, an interpolation that
    resolves only in a job)."""
    if not has_key(cfg, dotted):
        return None
    try:
        return OmegaConf.select(cfg, dotted, throw_on_missing=True)
    except Exception:
        return None


def value_kind(value: Any) -> str | None:
    """The kinds that a config value of the other kind does not stand in for (int and float are one)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple | ListConfig):
        return "list"
    if isinstance(value, Mapping | DictConfig):
        return "dict"
    return None


def short_repr(value: Any, limit: int = 60) -> str:
    return shortened(repr(value), limit)


def shortened(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_written(value: Any) -> str:
    """A value as the experiment file writes it (strings in double quotes), shortened."""
    return shortened(json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value))


def all_keys(cfg: DictConfig) -> list[str]:
    result: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, DictConfig):
            for key in node:
                path = f"{prefix}{key}"
                if path == "hydra":
                    continue
                result.append(path)
                walk(node._get_node(key), path + ".")
        elif isinstance(node, ListConfig):
            return

    walk(cfg, "")
    return result


def suggest_keys(key: str, candidates: Iterable[str]) -> list[str]:
    """Up to three keys meant instead of `key`; not its parents (`algo` for `algo.clp`)."""
    candidates = [c for c in candidates if not key.startswith(c + ".")]
    last = key.rsplit(".", 1)[-1]
    same_leaf = [c for c in candidates if c.rsplit(".", 1)[-1] == last and c != key]
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
    leaf_close = [
        c
        for c in candidates
        if c.rsplit(".", 1)[0] == key.rpartition(".")[0]
        and difflib.SequenceMatcher(None, c.rsplit(".", 1)[-1], last).ratio() >= 0.75
    ]
    return list(dict.fromkeys(same_leaf + close + leaf_close))[:3]
