"""Read an offline W&B run back from its ``.wandb`` transaction log.

In offline mode wandb (0.31) writes neither ``config.yaml`` nor ``wandb-summary.json``: the
``run-<id>.wandb`` file under ``<dir>/wandb/offline-run-<time>-<id>/`` is the only record of
the run. This module reads that file without any W&B server.

File format (checked against files written by wandb-core 0.31, whose Go package
``core/pkg/leveldb`` writes them; the Python package has neither writer nor reader):

* a 7-byte file header: the magic ``b":W&B"``, the number 0xBEE1 as a little-endian uint16,
  and a version byte (0);
* then LevelDB-log framing in 32 KiB blocks, the first block counting the file header. Each
  chunk is a 7-byte header -- checksum (uint32 LE), payload length (uint16 LE), chunk type
  (1 = full, 2 = first, 3 = middle, 4 = last) -- followed by the payload. A chunk never
  crosses a block boundary; when fewer than 7 bytes are left in a block the writer fills them
  with zeros and continues in the next block;
* the checksum is the **plain** CRC-32 (IEEE, ``zlib.crc32``) of the type byte followed by the
  payload, *not* LevelDB's masked CRC-32C;
* each reassembled payload is one serialized ``wandb_internal_pb2.Record``.

wandb-core buffers the log: it writes whole 32 KiB blocks as they fill, and flushes the rest
every ``x_transaction_log_flush_interval`` seconds (15 s by default) and at the end of the run.
A process that dies without ``run.finish()`` therefore leaves a file that may hold only the
header, or end in the middle of a record. Such files read back with ``complete=False``: every
record before the tear is used, and the tear itself never raises.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["WandbLogError", "WandbRun", "find_wandb_logs", "read_wandb_log", "wandb_logs_in"]

_FILE_HEADER = b":W&B" + struct.pack("<H", 0xBEE1)  # followed by one version byte
_FILE_HEADER_LEN = 7
_SUPPORTED_VERSION = 0
_BLOCK_SIZE = 32 * 1024
_CHUNK = struct.Struct("<IHB")  # checksum, payload length, chunk type
_CHUNK_HEADER_LEN = _CHUNK.size  # 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4

# Summary keys starting with "_" are wandb bookkeeping; these two are kept because they say
# how far the run got (last step) and how long it ran (seconds).
_KEPT_PRIVATE_SUMMARY_KEYS = frozenset({"_step", "_runtime"})

_RUN_DIR_TIME = re.compile(r"^(?:offline-)?run-(\d{8}_\d{6})-")


class WandbLogError(ValueError):
    """A file is not a W&B transaction log, or holds a record that cannot be decoded."""


class WandbNotInstalledError(WandbLogError):
    """The log's records are wandb's protobuf messages: reading them needs wandb (the `wandb` extra)."""


@dataclass(frozen=True)
class WandbRun:
    """What an offline run's ``.wandb`` log says about the run.

    String fields are ``None`` when the log does not set them (or holds no run record yet).
    ``history`` maps each column (nested metric keys joined with ``"."``, e.g. ``"nest.a"``)
    to one value per logged step, ``None`` where the column was not logged at that step; the
    ``_step`` column is always present when there is at least one row, and wandb's own
    ``_runtime`` and ``_timestamp`` columns are kept. ``summary`` holds the final summary,
    nested dicts as wandb stores them, without wandb's ``_``-prefixed bookkeeping keys except
    ``_step`` and ``_runtime``. ``complete`` is true only when the log holds the run's exit
    record and its framing is intact to the end; ``problem`` says why reading stopped early
    (a torn or corrupt tail), ``None`` when the whole file was read.
    """

    run_id: str | None
    name: str | None
    project: str | None
    entity: str | None
    group: str | None
    tags: tuple[str, ...]
    job_type: str | None
    notes: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    history: dict[str, list[Any]]
    exit_code: int | None
    complete: bool
    problem: str | None = field(default=None, compare=False)


# --------------------------------------------------------------------------------------------
# Framing


def _split_records(data: bytes, path: Path) -> tuple[list[bytes], str | None]:
    """Reassemble the record payloads of a whole ``.wandb`` file.

    Returns the payloads read before any problem, and a description of the problem (``None``
    when the framing is intact to the end of the file). Raises :class:`WandbLogError` only if
    the file does not start like a W&B log.
    """
    size = len(data)
    if size < _FILE_HEADER_LEN:
        # wandb-core creates the file and then writes the header: an empty file, or a prefix
        # of the header, is a log torn before its first record.
        if data == _FILE_HEADER[:size]:
            return [], f"file ends after {size} bytes, inside the {_FILE_HEADER_LEN}-byte file header"
        raise WandbLogError(f"{path}: not a W&B transaction log (the file header is missing)")
    if data[:6] != _FILE_HEADER:
        raise WandbLogError(f"{path}: not a W&B transaction log (starts with {data[:6]!r}, expected {_FILE_HEADER!r})")
    if data[6] != _SUPPORTED_VERSION:
        raise WandbLogError(
            f"{path}: unsupported W&B transaction log version {data[6]} "
            f"(this reader knows version {_SUPPORTED_VERSION})"
        )

    view = memoryview(data)
    unpack = _CHUNK.unpack_from
    crc32 = zlib.crc32
    records: list[bytes] = []
    parts: list[bytes] | None = None  # chunks of a record begun by a FIRST chunk
    part_start = 0
    problem: str | None = None
    pos = _FILE_HEADER_LEN
    while True:
        block_left = _BLOCK_SIZE - pos % _BLOCK_SIZE
        if block_left < _CHUNK_HEADER_LEN:  # zero padding at the end of a block
            pos += block_left
            continue
        if pos >= size:
            break
        if size - pos < _CHUNK_HEADER_LEN:
            problem = f"file ends inside the chunk header at offset {pos}"
            break
        checksum, length, chunk_type = unpack(data, pos)
        end = pos + _CHUNK_HEADER_LEN + length
        if length > block_left - _CHUNK_HEADER_LEN:
            problem = f"chunk at offset {pos} claims {length} bytes, past the end of its block"
            break
        if end > size:
            problem = f"file ends inside the chunk at offset {pos} ({end - size} bytes missing)"
            break
        # The checksum covers the type byte (the last header byte) and the payload.
        if crc32(view[pos + 6 : end]) != checksum:
            problem = f"checksum mismatch in the chunk at offset {pos}"
            break
        if chunk_type == _FULL:
            if parts is not None:
                problem = f"record begun at offset {part_start} is cut off by a new one at {pos}"
                break
            records.append(data[pos + _CHUNK_HEADER_LEN : end])
        elif chunk_type == _FIRST:
            if parts is not None:
                problem = f"record begun at offset {part_start} is cut off by a new one at {pos}"
                break
            parts = [data[pos + _CHUNK_HEADER_LEN : end]]
            part_start = pos
        elif chunk_type in (_MIDDLE, _LAST):
            if parts is None:
                problem = f"continuation chunk at offset {pos} without a first chunk"
                break
            parts.append(data[pos + _CHUNK_HEADER_LEN : end])
            if chunk_type == _LAST:
                records.append(b"".join(parts))
                parts = None
        else:
            problem = f"unknown chunk type {chunk_type} at offset {pos}"
            break
        pos = end
    if problem is None and parts is not None:
        problem = f"file ends inside the record begun at offset {part_start}"
    return records, problem


# --------------------------------------------------------------------------------------------
# Values


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON after all: keep the text rather than lose the value


# Summary and config trees: dicts for nested keys, leaves kept as the JSON text from the log.
# Decoding only the values that survive to the end saves most of the work, as every logged
# step writes a summary record.


def _tree_set(tree: dict[str, Any], keys: list[str], text: str) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if isinstance(child, str):  # a leaf: becomes a dict, keeping what it held if a dict
            decoded = _loads(child)
            child = {k: json.dumps(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {}
            node[key] = child
        elif child is None:
            child = node[key] = {}
        node = child
    node[keys[-1]] = text


def _tree_remove(tree: dict[str, Any], keys: list[str]) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if isinstance(child, str):
            decoded = _loads(child)
            if not isinstance(decoded, dict):
                return
            child = node[key] = {k: json.dumps(v) for k, v in decoded.items()}
        elif child is None:
            return
        node = child
    node.pop(keys[-1], None)


def _tree_decode(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _tree_decode(v) if isinstance(v, dict) else _loads(v) for k, v in node.items()}


def _apply_items(tree: dict[str, Any], updates: Any, removes: Any = ()) -> None:
    """Apply a summary or config record's items (``key`` or ``nested_key``, ``value_json``)."""
    for item in updates:
        nested = item.nested_key
        if len(nested) == 1:  # the common case, kept cheap
            tree[nested[0]] = item.value_json
        elif nested:
            _tree_set(tree, list(nested), item.value_json)
        else:
            tree[item.key] = item.value_json
    for item in removes:
        _tree_remove(tree, list(item.nested_key) or [item.key])


def _typed_value(item: Any) -> Any:
    """A history item's value when it has no ``value_json`` (wandb's typed encoding)."""
    kind = item.WhichOneof("value")
    if kind is None or kind == "none":
        return None
    if kind == "json":
        return _loads(item.json)
    return getattr(item, kind)


class _History:
    """Collects history rows; decodes all their JSON values with one parse at the end."""

    def __init__(self) -> None:
        self.columns: list[list[str]] = []  # per row: the column names
        self.texts: list[list[str]] = []  # per row: the values' JSON texts ([] if decoded)
        self.decoded: dict[int, list[Any]] = {}  # row -> values, for rows decoded on the spot

    def add(self, history: Any) -> None:
        columns: list[str] = []
        texts: list[str] = []
        add_column = columns.append
        add_text = texts.append
        items = history.item
        for item in items:
            nested = item.nested_key
            if len(nested) == 1:
                add_column(nested[0])
            elif nested:
                add_column(".".join(nested))
            else:
                add_column(item.key)
            add_text(item.value_json)
        if "_step" not in columns:
            columns.append("_step")
            texts.append(str(history.step.num))
        if not all(texts):  # wandb's typed encoding, without the JSON form
            # texts may end with the _step added above, which has no item (and is never empty).
            self.decoded[len(self.columns)] = [
                _loads(text) if text else _typed_value(item) for text, item in zip(texts, [*items, None], strict=False)
            ]
            texts = []
        self.columns.append(columns)
        self.texts.append(texts)

    def _rows(self) -> list[list[Any]]:
        if not self.decoded:
            joined = ",".join(f"[{','.join(texts)}]" for texts in self.texts)
            try:
                rows = json.loads(f"[{joined}]")
            except ValueError:
                pass
            else:
                # A value_json holding more or less than one JSON value (wandb never writes
                # one) would shift values between columns: check before trusting this.
                if len(rows) == len(self.columns) and all(
                    len(row) == len(columns) for row, columns in zip(rows, self.columns, strict=True)
                ):
                    return rows
        return [
            self.decoded[index] if index in self.decoded else [_loads(text) for text in texts]
            for index, texts in enumerate(self.texts)
        ]

    def table(self) -> dict[str, list[Any]]:
        if not self.columns:
            return {}
        rows = [
            dict(zip(columns, values, strict=True)) for columns, values in zip(self.columns, self._rows(), strict=True)
        ]
        names: dict[str, None] = {"_step": None}
        for columns in self.columns:
            names.update(dict.fromkeys(columns))
        return {name: [row.get(name) for row in rows] for name in names}


def _unwrap_config(config: dict[str, Any]) -> dict[str, Any]:
    """Undo wandb's ``{"value": ...}`` / ``{"desc": ..., "value": ...}`` wrapping.

    Only when *every* entry is wrapped, as in a ``config.yaml`` dump: a user's own
    ``{"value": 1}`` among plain entries stays as it is. The ``.wandb`` log of wandb 0.31
    stores plain values, so this rarely applies.
    """
    wrapped = {"value"}, {"desc", "value"}
    if config and all(isinstance(v, dict) and set(v) in wrapped for v in config.values()):
        return {k: v["value"] for k, v in config.items()}
    return config


def _text(value: str) -> str | None:
    return value or None


# --------------------------------------------------------------------------------------------
# Public API


def read_wandb_log(path: str | os.PathLike[str]) -> WandbRun:
    """Read the run recorded in a ``run-<id>.wandb`` file.

    Never raises because the file is torn or cut short (a crashed run): what was written
    before the tear is returned with ``complete=False``. Raises :class:`WandbLogError` (a
    ``ValueError`` naming the file) if the file is not a W&B transaction log, and ``OSError``
    if it cannot be read.
    """
    path = Path(path)
    payloads, problem = _split_records(path.read_bytes(), path)

    # Imported here: importing wandb takes about half a second.
    try:
        from google.protobuf.message import DecodeError
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError as exc:
        raise WandbNotInstalledError(
            f"{path.name}: reading a W&B run log needs wandb ({exc}); install it: pip install 'metta-ab[wandb]'"
        ) from exc

    run_record = None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history = _History()
    exit_code: int | None = None

    record = pb.Record()
    for index, payload in enumerate(payloads):
        try:
            record.ParseFromString(payload)
        except DecodeError as exc:
            raise WandbLogError(f"{path}: record #{index} is not a wandb Record ({exc})") from exc
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.add(record.history)
        elif kind == "summary":
            _apply_items(summary, record.summary.update, record.summary.remove)
        elif kind == "run":
            # Each run record carries the run's full state at that time (wandb-core re-sends
            # it when the name, tags, notes ... change), so the last one wins.
            run_record = pb.RunRecord()
            run_record.CopyFrom(record.run)
            _apply_items(config, record.run.config.update)
        elif kind == "config":
            _apply_items(config, record.config.update, record.config.remove)
        elif kind == "exit":
            exit_code = record.exit.exit_code

    config.pop("_wandb", None)
    summary = {
        key: value for key, value in summary.items() if not key.startswith("_") or key in _KEPT_PRIVATE_SUMMARY_KEYS
    }
    run = run_record
    return WandbRun(
        run_id=_text(run.run_id) if run else None,
        name=_text(run.display_name) if run else None,
        project=_text(run.project) if run else None,
        entity=_text(run.entity) if run else None,
        group=_text(run.run_group) if run else None,
        tags=tuple(run.tags) if run else (),
        job_type=_text(run.job_type) if run else None,
        notes=_text(run.notes) if run else None,
        config=_unwrap_config(_tree_decode(config)),
        summary=_tree_decode(summary),
        history=history.table(),
        exit_code=exit_code,
        complete=exit_code is not None and problem is None,
        problem=problem,
    )


def find_wandb_logs(directory: str | os.PathLike[str]) -> list[Path]:
    """The ``.wandb`` logs of the runs under a job directory, oldest first, newest last.

    Looks for ``**/wandb/offline-run-*/run-*.wandb`` (offline runs) and
    ``**/wandb/run-*/run-*.wandb`` (online runs). Runs are ordered by the start time in their
    directory name, then by the file's modification time.
    """
    root = Path(directory)
    return _newest_last(candidate for pattern in _LOG_PATTERNS for candidate in root.glob(f"**/wandb/{pattern}"))


def wandb_logs_in(wandb_dirs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The ``.wandb`` logs directly inside the given ``wandb/`` directories, ordered as `find_wandb_logs`."""
    directories = [Path(directory) for directory in wandb_dirs]
    return _newest_last(candidate for d in directories for pattern in _LOG_PATTERNS for candidate in d.glob(pattern))


_LOG_PATTERNS = ("offline-run-*/run-*.wandb", "run-*/run-*.wandb")


def _newest_last(candidates: Iterable[Path]) -> list[Path]:
    found: dict[Path, Path] = {}
    for candidate in candidates:
        if candidate.is_file():
            found.setdefault(candidate.resolve(), candidate)

    def newest_last(candidate: Path) -> tuple[str, int, str]:
        match = _RUN_DIR_TIME.match(candidate.parent.name)
        return (match.group(1) if match else "", candidate.stat().st_mtime_ns, str(candidate))

    return sorted(found.values(), key=newest_last)
