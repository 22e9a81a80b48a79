"""TensorBoard event files (`events.out.tfevents.*`) anywhere under the job directory.

Every scalar tag is a metric with its curve: the event's step is the step, and the final value is the
value at the last step. Both encodings of a scalar are read: `simple_value` (torch's and tensorboardX's
`SummaryWriter.add_scalar`) and a rank-0 numeric tensor (torch's `new_style=True`, TensorFlow 2's
`tf.summary.scalar`); tensors that another plugin owns (text, histograms, hparams, ...) are not scalars.

- Several files in one directory (a restarted writer) make one series per tag; when a step was written
  twice, the later write counts (files in name order, which starts with the creation time).
- A tag written in more than one directory (TensorBoard shows those as separate runs; tensorboardX's
  `add_scalars` writes one directory per series) is named `<directory>/<tag>`, the directory relative to
  the job directory, e.g. `loss_train/loss`; a tag in only one directory is just the tag (`eval/return`).
- Files are read with TensorBoard's own loader (`LegacyEventFileLoader`: records and checksums, no
  compatibility rewriting, ~10 us an event without TensorFlow); a torn last record ends the file quietly.
  `tensorboard` is the optional extra `metta-ab[tensorboard]`, imported only when a job has event files;
  without it those jobs get a warning naming the extra. With TensorFlow installed, TensorBoard uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from metta_ab.sources.base import Curve, Found, Job

INSTALL_HINT = "pip install 'metta-ab[tensorboard]'"
SCALARS_PLUGIN = "scalars"


def read(job: Job, wanted: str | None) -> Iterator[Found]:
    files = sorted(job.files.tfevents, key=lambda p: (str(p.parent), p.name))
    if not files:
        return
    try:
        from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    except ImportError:
        job.warnings.append(
            f"TensorBoard event files ({_files_label(job, files)}) were not read: the `tensorboard` package "
            f"is not installed ({INSTALL_HINT})"
        )
        return
    except Exception as error:  # installed but broken, e.g. a TensorBoard older than 2.18 under numpy 2
        job.warnings.append(
            f"TensorBoard event files ({_files_label(job, files)}) were not read: importing `tensorboard` "
            f"failed ({type(error).__name__}: {error}); upgrade it ({INSTALL_HINT} --upgrade)"
        )
        return
    series: dict[Path, dict[str, tuple[list[float], list[float]]]] = {}
    for path in files:
        tags = series.setdefault(path.parent, {})
        plugins: dict[str, str] = {}
        try:
            for event in LegacyEventFileLoader(str(path)).Load():
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    number = _scalar(value, plugins)
                    if number is not None:
                        steps, values = tags.setdefault(value.tag, ([], []))
                        steps.append(event.step)
                        values.append(number)
        except Exception as error:  # a file that is not an event file: its points so far are kept
            job.warnings.append(f"the TensorBoard file {job.relative(path)} is not readable to the end ({error})")
    final: dict[str, float] = {}
    curves: dict[str, Curve] = {}
    seen_in: dict[str, int] = {}
    for tags in series.values():
        for tag in tags:
            seen_in[tag] = seen_in.get(tag, 0) + 1
    for directory, tags in series.items():
        prefix = job.relative(directory)
        for tag, (steps, values) in tags.items():
            name = tag if seen_in[tag] == 1 or prefix == "." else f"{prefix}/{tag}"
            curve = _series(steps, values)
            if len(curve.values):
                final[name] = float(curve.values[-1])
                if wanted is None or name == wanted:
                    curves[name] = curve
    if final:
        yield Found(final, curves, f"tensorboard events ({_files_label(job, files)})")


def _files_label(job: Job, files: list[Path]) -> str:
    more = f" and {len(files) - 1} more" if len(files) > 1 else ""
    return job.relative(files[0]) + more


def _scalar(value: Any, plugins: dict[str, str]) -> float | None:
    """A summary value's number when it is a scalar; None otherwise. `plugins` remembers each tag's plugin
    (writers often put the metadata on a tag's first value only)."""
    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
        plugins.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor" or plugins.get(value.tag, SCALARS_PLUGIN) != SCALARS_PLUGIN:
        return None
    tensor = value.tensor
    if any(dim.size != 1 for dim in tensor.tensor_shape.dim):
        return None
    if len(tensor.float_val) == 1:
        return float(tensor.float_val[0])
    if len(tensor.double_val) == 1:
        return float(tensor.double_val[0])
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
    except Exception:  # a dtype numpy cannot hold (strings, resources, variants)
        return None
    if array.size != 1 or array.dtype.kind not in "biuf":
        return None
    return float(array.reshape(-1)[0])


def _series(steps: list[float], values: list[float]) -> Curve:
    """Points ordered by step; of two points at one step the later-written one; NaN/inf points dropped."""
    step_array = np.asarray(steps, dtype=float)
    value_array = np.asarray(values, dtype=float)
    order = np.lexsort((np.arange(len(step_array)), step_array))  # by step, then by write order
    step_array, value_array = step_array[order], value_array[order]
    last_of_step = np.append(step_array[1:] != step_array[:-1], True)
    keep = last_of_step & np.isfinite(value_array)
    return Curve(step_array[keep], value_array[keep])
