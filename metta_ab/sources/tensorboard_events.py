"""TensorBoard event files (`events.out.tfevents.*`) anywhere under the job directory, read with no dependency.

Every scalar tag is a metric with its curve: the event's step is the step, and the final value is the
value at the last step. Both encodings of a scalar are read: `simple_value` (torch's and tensorboardX's
`SummaryWriter.add_scalar`) and a rank-0 numeric tensor (torch's `new_style=True`, TensorFlow 2's
`tf.summary.scalar`); tensors that another plugin owns (text, histograms, hparams, ...) are not scalars.

- Several files in one directory (a restarted writer) make one series per tag; when a step was written
  twice, the later write counts (files in name order, which starts with the creation time).
- A tag written in more than one directory (TensorBoard shows those as separate runs; tensorboardX's
  `add_scalars` writes one directory per series) is named `<directory>/<tag>`, the directory relative to
  the job directory, e.g. `loss_train/loss`; a tag in only one directory is just the tag (`eval/return`).

The format, read here without TensorBoard, TensorFlow or protobuf (installing those into an app's
environment can upgrade its protobuf and break it): an event file is TFRecord framing around serialized
`Event` protobuf messages. Each record is a uint64 data length, the masked CRC-32C of those 8 bytes, the
data, and the masked CRC-32C of the data (all little-endian). `_Wire` decodes the protobuf wire format for
the few fields needed (tensorboard/compat/proto: event.proto, summary.proto, tensor.proto, types.proto).

Checksums: every record's length checksum is verified (it is what keeps the framing honest: a bad one ends
the file, with a warning), and the data checksum of every record a number was taken from (a bad one drops
that record, with a warning); records that hold no scalar (graphs, images, histograms) are not checksummed.
CRC-32C is computed with numpy across all records at once (~1 ms for a file of 6,000 scalar events; a
per-byte Python loop takes ~30 ms). A torn last record (the writer died mid-write) ends the file quietly.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from metta_ab.sources.base import Found, Job, Wanted, found_in_series
from metta_ab.text_format import fmt_list

SCALARS_PLUGIN = "scalars"
HEADER_BYTES = 12  # uint64 length, uint32 masked CRC-32C of the length
FOOTER_BYTES = 4  # uint32 masked CRC-32C of the data
_LENGTH = struct.Struct("<Q")
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")

# Event (event.proto): wall_time = 1, step = 2, then a oneof `what`, of which summary = 5.
EVENT_STEP, EVENT_SUMMARY = 2, 5
EVENT_WHAT = frozenset({3, 4, 5, 6, 7, 8, 9})  # file_version, graph_def, summary, log_message, ...
# Summary.Value (summary.proto): tag = 1, metadata = 9, and the oneof `value`: simple_value = 2, tensor = 8.
VALUE_TAG, VALUE_SIMPLE, VALUE_TENSOR, VALUE_METADATA = 1, 2, 8, 9
VALUE_KINDS = frozenset({2, 3, 4, 5, 6, 8})  # simple_value, obsolete histogram, image, histo, audio, tensor
# TensorProto (tensor.proto): dtype = 1, tensor_shape = 2, tensor_content = 4; the typed value fields below.
TENSOR_DTYPE, TENSOR_SHAPE, TENSOR_CONTENT = 1, 2, 4
FLOAT_VAL, DOUBLE_VAL, INT_VAL, INT64_VAL, BOOL_VAL, HALF_VAL, UINT32_VAL, UINT64_VAL = 5, 6, 7, 10, 11, 13, 16, 17
BFLOAT16 = 14
# DataType (types.proto) -> (layout of tensor_content, the field its values are in otherwise). Numeric only.
DTYPES: dict[int, tuple[str, int]] = {
    1: ("<f4", FLOAT_VAL),  # DT_FLOAT
    2: ("<f8", DOUBLE_VAL),  # DT_DOUBLE
    3: ("<i4", INT_VAL),  # DT_INT32
    4: ("u1", INT_VAL),  # DT_UINT8
    5: ("<i2", INT_VAL),  # DT_INT16
    6: ("i1", INT_VAL),  # DT_INT8
    9: ("<i8", INT64_VAL),  # DT_INT64
    10: ("?", BOOL_VAL),  # DT_BOOL
    BFLOAT16: ("<u2", HALF_VAL),  # DT_BFLOAT16: the top 16 bits of a float32
    17: ("<u2", INT_VAL),  # DT_UINT16
    19: ("<f2", HALF_VAL),  # DT_HALF (half_val holds the bits)
    22: ("<u4", UINT32_VAL),  # DT_UINT32
    23: ("<u8", UINT64_VAL),  # DT_UINT64
}
DTYPE_FIELDS = frozenset(value_field for _, value_field in DTYPES.values())
HALF_BITS = frozenset({19, BFLOAT16})  # DT_HALF, DT_BFLOAT16: their values are the bits of a 16-bit float
SIGNED_VARINTS = frozenset({INT_VAL, INT64_VAL})  # int32 / int64 on the wire: two's complement in 64 bits
TWO_63, TWO_64 = 1 << 63, 1 << 64


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    files = sorted(job.files.tfevents, key=lambda p: (str(p.parent), p.name))
    if not files:
        return
    series: dict[Path, dict[str, tuple[list[int], list[float]]]] = {}
    for path in files:
        tags = series.setdefault(path.parent, {})
        try:
            scalars = read_event_file(path)
        except OSError as error:
            job.warnings.append(f"the TensorBoard file {job.relative(path)} is not readable ({error})")
            continue
        for tag, (steps, values) in scalars.points.items():
            tag_steps, tag_values = tags.setdefault(tag, ([], []))
            tag_steps.extend(steps)
            tag_values.extend(values)
        if scalars.problems:
            job.warnings.append(f"the TensorBoard file {job.relative(path)}: " + "; ".join(scalars.problems))
    label = f"tensorboard events ({fmt_list([job.relative(f) for f in files], 1)})"
    found = found_in_series(job, series, wanted, label)
    if found is not None:
        yield found


@dataclass
class EventFileScalars:
    """The scalar points of one event file, by tag, in the order written; what could not be read."""

    points: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_event_file(path: Path) -> EventFileScalars:
    """Every scalar in one event file (see the module docstring). Raises OSError if it cannot be opened."""
    with open(path, "rb") as file:
        try:  # mapped, not read: the records that are not scalars (images, graphs) are never loaded
            data: bytes | mmap.mmap = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # an empty file, or a file system without mmap
            data = file.read()
    try:
        return _scalars(data)
    finally:
        if isinstance(data, mmap.mmap):
            with contextlib.suppress(BufferError):  # an error's traceback holds a view of it: closed when freed
                data.close()


def _scalars(data: bytes | mmap.mmap) -> EventFileScalars:
    result = EventFileScalars()
    view = np.frombuffer(data, dtype=np.uint8) if len(data) else np.zeros(0, dtype=np.uint8)
    starts, lengths, end = _frame(data)
    # The length checksums, all at once: the first bad one ends the framing there. After the whole records,
    # a header with a good checksum (or less than a header) is a torn last record: the writer died.
    bad = np.flatnonzero(~_length_checks(view, starts - HEADER_BYTES))
    if len(bad):
        end = int(starts[bad[0]]) - HEADER_BYTES
        starts, lengths = starts[: bad[0]], lengths[: bad[0]]
    if len(bad) or (end + HEADER_BYTES <= len(data) and not _length_checks(view, np.array([end]))[0]):
        result.problems.append(f"a record's length checksum is wrong at byte {end}: read up to there")

    taken: list[int] = []  # records with scalars
    steps: list[int] = []
    scalars: list[list[tuple[str, float]]] = []
    unreadable: list[int] = []
    plugins: dict[str, str] = {}
    wire = _Wire(data)
    for record, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        try:
            step, values = wire.event(start, start + length, plugins)
        except _Malformed:
            unreadable.append(record)
            continue
        if values:
            taken.append(record)
            steps.append(step)
            scalars.append(values)

    # The data checksums of the records numbers are taken from, and of those that did not decode.
    checked = np.array(taken + unreadable, dtype=np.int64)
    data_starts, data_lengths = starts[checked], lengths[checked]
    good = masked_crc32c(view, data_starts, data_lengths) == _uint32_at(view, data_starts + data_lengths)
    good_taken, good_unreadable = good[: len(taken)].tolist(), good[len(taken) :]
    for step, values, ok in zip(steps, scalars, good_taken, strict=True):
        if ok:
            for tag, value in values:
                tag_steps, tag_values = result.points.setdefault(tag, ([], []))
                tag_steps.append(step)
                tag_values.append(value)
    not_events = int(good_unreadable.sum())  # framed and checksummed, yet not an Event message
    corrupt = good_taken.count(False) + len(unreadable) - not_events
    if corrupt:
        result.problems.append(f"{corrupt} record(s) failed their data checksum and were skipped")
    if not_events:
        result.problems.append(f"{not_events} record(s) are not TensorBoard events and were skipped")
    return result


def _length_checks(view: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """Whether the record header at each offset has the right checksum of its length."""
    return masked_crc32c(view, heads, np.full(len(heads), 8)) == _uint32_at(view, heads + 8)


def _uint32_at(view: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The little-endian uint32 at each offset."""
    at = view[offsets[:, None] + np.arange(4)].astype(np.uint32)
    return at[:, 0] | (at[:, 1] << 8) | (at[:, 2] << 16) | (at[:, 3] << 24)


def _frame(data: bytes | mmap.mmap) -> tuple[np.ndarray, np.ndarray, int]:
    """The data offset and length of every whole record, and where the whole records end."""
    starts: list[int] = []
    lengths: list[int] = []
    position, size = 0, len(data)
    unpack = _LENGTH.unpack_from
    while position + HEADER_BYTES <= size:
        (length,) = unpack(data, position)
        end = position + HEADER_BYTES + length + FOOTER_BYTES
        if end > size:
            break  # a torn last record, or a wrong length: the caller checks which
        starts.append(position + HEADER_BYTES)
        lengths.append(length)
        position = end
    return np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64), position


# --- CRC-32C (Castagnoli), masked as TFRecord stores it ----------------------------------------------

CRC32C_POLYNOMIAL = 0x82F63B78  # reflected
MASK_DELTA = 0xA282EAD8
FEW = 24  # with this few records left to sum, a Python loop over their bytes is faster than numpy steps


@cache
def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(CRC32C_POLYNOMIAL), table >> 1).astype(np.uint32)
    return table


def crc32c(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC-32C of `data[start:start + length]` for every (start, length), as uint32: one numpy step per byte
    position across all the records still that long (longest first), a Python loop for the last few."""
    table = _crc_table()
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    starts, lengths = starts[order], lengths[order]
    crc = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    longest = int(lengths[0]) if len(lengths) else 0
    longer_than = np.searchsorted(-lengths, -np.arange(longest), side="left")  # records longer than j
    position = 0
    while position < longest and longer_than[position] > FEW:
        count = longer_than[position]
        current = crc[:count]
        crc[:count] = table[(current ^ data[starts[:count] + position]) & 0xFF] ^ (current >> 8)
        position += 1
    if position < longest:
        python_table = table.tolist()
        for index in range(int(longer_than[position])):
            value = int(crc[index])
            for byte in data[starts[index] + position : starts[index] + lengths[index]].tolist():
                value = python_table[(value ^ byte) & 0xFF] ^ (value >> 8)
            crc[index] = value
    result = np.empty_like(crc)
    result[order] = crc ^ np.uint32(0xFFFFFFFF)
    return result


def masked_crc32c(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    crc = crc32c(data, starts, lengths)
    return ((crc >> 15) | (crc << 17)) + np.uint32(MASK_DELTA)


# --- the protobuf wire format, for the fields above -------------------------------------------------


class _Malformed(Exception):
    """The bytes are not the message they should be."""


class _Wire:
    """Decodes messages in `data` between two offsets. Wire types: 0 varint, 1 fixed64, 2 length-delimited,
    5 fixed32; a key is (field number << 3) | wire type, itself a varint. For a field given twice the
    later one counts (for a message field: they merge), as protobuf's parsers do."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.data = data

    def varint(self, position: int) -> tuple[int, int]:
        """The varint at `position` and the position after it."""
        data = self.data
        byte = data[position]
        if byte < 0x80:
            return byte, position + 1
        result, shift = byte & 0x7F, 7
        while True:
            position += 1
            byte = data[position]
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, position + 1
            shift += 7
            if shift > 63:
                raise _Malformed

    def field(self, position: int) -> tuple[int, int, int, int]:
        """The field at `position`: (number, wire type, value, position after). The value is the number for
        wire type 0, else the offset where the field's bytes start (for wire type 2, after the length)."""
        key, position = self.varint(position)
        wire_type = key & 7
        if wire_type == 0:
            value, after = self.varint(position)
        elif wire_type == 2:
            length, value = self.varint(position)
            after = value + length
        elif wire_type == 5:
            value, after = position, position + 4
        elif wire_type == 1:
            value, after = position, position + 8
        else:  # groups (3, 4) are in none of these messages; 6 and 7 do not exist
            raise _Malformed
        return key >> 3, wire_type, value, after

    def fields(self, position: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """Every field of the message between `position` and `end` (see `field`)."""
        while position < end:
            number, wire_type, value, position = self.field(position)
            if position > end:
                raise _Malformed
            yield number, wire_type, value, position
        if position != end:
            raise _Malformed

    def event(self, position: int, end: int, plugins: dict[str, str]) -> tuple[int, list[tuple[str, float]]]:
        """An Event's step and the scalars of its summary. `plugins` remembers each tag's plugin (writers
        often put the metadata on a tag's first value only). The keys every scalar event has are read
        first, as single bytes; anything else goes through `field`."""
        data = self.data
        step = 0
        summaries: list[tuple[int, int]] = []
        scalars: list[tuple[str, float]] = []
        try:
            while position < end:
                key = data[position]
                if key == 0x09:  # wall_time (1, fixed64)
                    position += 9
                elif key == 0x10:  # step (2, varint)
                    step, position = self.varint(position + 1)
                elif key == 0x2A:  # summary (5, length-delimited)
                    length = data[position + 1]  # a one-byte length read here: a call less per event
                    start = position + 2
                    if length > 0x7F:
                        length, start = self.varint(position + 1)
                    position = start + length
                    summaries.append((start, position))
                else:
                    number, wire_type, value, position = self.field(position)
                    if number == EVENT_STEP and wire_type == 0:
                        step = value
                    elif number in EVENT_WHAT:
                        if number == EVENT_SUMMARY and wire_type == 2:
                            summaries.append((value, position))
                        else:
                            summaries.clear()  # another member of the oneof replaced the summary
            if position != end:
                raise _Malformed
            for position, end in summaries:
                while position < end:
                    if data[position] == 0x0A:  # Summary.value (1, repeated message)
                        length = data[position + 1]
                        start = position + 2
                        if length > 0x7F:
                            length, start = self.varint(position + 1)
                        position = start + length
                        if position > end:
                            raise _Malformed
                        scalar = self.value(start, position, plugins)
                        if scalar is not None:
                            scalars.append(scalar)
                    else:
                        position = self.field(position)[3]
                if position != end:
                    raise _Malformed
        except (IndexError, struct.error):
            raise _Malformed from None
        return (step - TWO_64 if step >= TWO_63 else step), scalars

    def value(self, position: int, end: int, plugins: dict[str, str]) -> tuple[str, float] | None:
        """A Summary.Value's (tag, number) when it is a scalar."""
        data = self.data
        tag = b""
        kind = 0
        simple = 0.0
        tensors: list[tuple[int, int]] = []
        plugin = ""
        while position < end:
            key = data[position]
            if key == 0x0A:  # tag (1, string)
                length = data[position + 1]
                start = position + 2
                if length > 0x7F:
                    length, start = self.varint(position + 1)
                position = start + length
                tag = data[start:position]
            elif key == 0x15:  # simple_value (2, float)
                (simple,) = _FLOAT.unpack_from(data, position + 1)
                kind = VALUE_SIMPLE
                position += 5
            else:
                number, wire_type, start, position = self.field(position)
                if number in VALUE_KINDS:
                    if number == VALUE_TENSOR and wire_type == 2:
                        if kind != VALUE_TENSOR:
                            tensors = []
                        tensors.append((start, position))
                    elif number == VALUE_SIMPLE and wire_type == 5:
                        (simple,) = _FLOAT.unpack_from(data, start)
                    kind = number
                elif number == VALUE_METADATA and wire_type == 2:
                    plugin = self.plugin_name(start, position) or plugin
        if position != end:
            raise _Malformed
        name = tag.decode("utf-8", "replace")
        if plugin:
            plugins.setdefault(name, plugin)
        if kind == VALUE_SIMPLE:
            return name, simple
        if kind != VALUE_TENSOR or plugins.get(name, SCALARS_PLUGIN) != SCALARS_PLUGIN:
            return None
        number = self.tensor(tensors)
        return None if number is None else (name, number)

    def plugin_name(self, position: int, end: int) -> str:
        """SummaryMetadata.plugin_data (1) . plugin_name (1)."""
        name = ""
        for number, wire_type, value, after in self.fields(position, end):
            if number == 1 and wire_type == 2:
                for inner, inner_type, start, stop in self.fields(value, after):
                    if inner == 1 and inner_type == 2:
                        name = self.data[start:stop].decode("utf-8", "replace")
        return name

    def tensor(self, parts: list[tuple[int, int]]) -> float | None:
        """A TensorProto's one number, when it is a numeric tensor of one element (rank 0, or every
        dimension 1); None otherwise. Its typed values, tensor_content, or none (TensorFlow's zero)."""
        data = self.data
        dtype = 0
        sizes: list[int] = []
        content = b""
        values: dict[int, list[float]] = {}
        for position, end in parts:  # a tensor given twice merges: repeated fields add up
            for number, wire_type, value, after in self.fields(position, end):
                if number == TENSOR_DTYPE and wire_type == 0:
                    dtype = value
                elif number == TENSOR_SHAPE and wire_type == 2:
                    for shape_field, shape_type, start, stop in self.fields(value, after):
                        if shape_field == 2 and shape_type == 2:  # TensorShapeProto.dim: its Dim.size (1)
                            size = 1
                            for dim_field, dim_type, dim_value, _ in self.fields(start, stop):
                                if dim_field == 1 and dim_type == 0:
                                    size = dim_value
                            sizes.append(size)
                        elif shape_field == 3 and shape_type == 0 and start:  # unknown_rank: true
                            return None
                elif number == TENSOR_CONTENT and wire_type == 2:
                    content = data[value:after]
                elif number in DTYPE_FIELDS:
                    values.setdefault(number, []).extend(self.numbers(number, wire_type, value, after))
        if dtype not in DTYPES or any(size != 1 for size in sizes):
            return None
        layout, value_field = DTYPES[dtype]
        if content:
            if len(content) != np.dtype(layout).itemsize:
                return None
            number = np.frombuffer(content, dtype=layout)[0]
        else:
            found = values.get(value_field, [])
            if len(found) > 1:
                return None
            number = found[0] if found else 0  # no values: TensorFlow reads a zero
        if dtype in HALF_BITS:
            bits = int(number) & 0xFFFF
            if dtype == BFLOAT16:  # the top half of a float32
                return float(np.array([bits << 16], dtype=np.uint32).view(np.float32)[0])
            return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])
        return float(number)

    def numbers(self, number: int, wire_type: int, value: int, after: int) -> list[float]:
        """A repeated numeric field's values: packed (wire type 2) or one by one."""
        data = self.data
        if number == FLOAT_VAL:
            if wire_type == 5:
                return [_FLOAT.unpack_from(data, value)[0]]
            if wire_type == 2 and (after - value) % 4 == 0:
                return list(struct.unpack_from(f"<{(after - value) // 4}f", data, value))
            raise _Malformed
        if number == DOUBLE_VAL:
            if wire_type == 1:
                return [_DOUBLE.unpack_from(data, value)[0]]
            if wire_type == 2 and (after - value) % 8 == 0:
                return list(struct.unpack_from(f"<{(after - value) // 8}d", data, value))
            raise _Malformed
        if wire_type == 0:
            integers = [value]
        elif wire_type == 2:
            integers = []
            position = value
            while position < after:
                integer, position = self.varint(position)
                integers.append(integer)
            if position != after:
                raise _Malformed
        else:
            raise _Malformed
        if number in SIGNED_VARINTS:
            return [i - TWO_64 if i >= TWO_63 else i for i in integers]
        return integers
