"""Where each job may run: `hydra.launcher.*` settings -> a fixed list of slots (the GPUs and cores of one job).

A slot runs one job at a time, so a device is never given to more jobs than the settings allow (two per GPU at
gpus_per_job=0.5), whatever order jobs end in. Everything here is checked before any job starts: impossible
settings are one error naming the setting, what is there, and the fix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra.errors import CompactHydraException

AUTO = "auto"


class LauncherSettingsError(CompactHydraException):
    """Settings of hydra/launcher=ab_local that no machine state can satisfy here; raised before any job starts."""


@dataclass(frozen=True)
class VisibleDevices:
    """The GPUs this process may give to jobs, and where that list came from (said in errors and the log)."""

    ids: tuple[str, ...]
    source: str
    pci_order: bool = False  # the ids are nvidia-smi's (PCI bus order): jobs get CUDA_DEVICE_ORDER=PCI_BUS_ID


@dataclass(frozen=True)
class Slot:
    gpus: tuple[str, ...]  # the job's CUDA_VISIBLE_DEVICES; () for a CPU job
    cpus: tuple[int, ...]  # the cores it is pinned to; () when not pinned


@dataclass(frozen=True)
class Placement:
    slots: tuple[Slot, ...]  # one per job that may run at once (n_jobs)
    devices: VisibleDevices
    gpus_per_job: float
    unused_devices: tuple[str, ...]  # devices no slot uses (5 GPUs at gpus_per_job=2)

    def environment(self, slot: Slot) -> dict[str, str]:
        """The variables a job in `slot` starts with. A CPU job gets an empty CUDA_VISIBLE_DEVICES only when the
        launcher places GPU jobs too, never otherwise: a machine without GPUs is left as it is."""
        if not slot.gpus and self.gpus_per_job == 0:
            env = {"CUDA_VISIBLE_DEVICES": ""} if self.devices.ids else {}
        else:
            env = {"CUDA_VISIBLE_DEVICES": ",".join(slot.gpus)}
        if self.devices.pci_order and "CUDA_DEVICE_ORDER" not in os.environ:
            env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        if slot.cpus and "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = str(len(slot.cpus))
        return env

    def describe(self) -> str:
        """One line for the log: how many jobs at once, on what."""
        if self.gpus_per_job:
            plural = "s" if self.gpus_per_job > 1 else ""
            devices = ",".join(self.devices.ids)
            where = f"{self.gpus_per_job:g} GPU{plural} per job on devices {devices} ({self.devices.source})"
        else:
            where = "CPU jobs"
        pinned = f", {len(self.slots[0].cpus)} cores each (pinned)" if self.slots and self.slots[0].cpus else ""
        unused = f"; devices {','.join(self.unused_devices)} unused" if self.unused_devices else ""
        return f"{len(self.slots)} job(s) at a time, {where}{pinned}{unused}"


def parse_cuda_visible_devices(value: str) -> tuple[str, ...]:
    """CUDA_VISIBLE_DEVICES as CUDA reads it: comma-separated ids, enumeration stopping at the first invalid
    (negative) one, so `-1` (a common way to hide every GPU) means none."""
    ids: list[str] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        ids.append(entry)
    return tuple(ids)


def parse_nvidia_smi(listing: str) -> tuple[str, ...]:
    """The indices of `nvidia-smi -L` lines ("GPU 0: NVIDIA A100 (UUID: GPU-...)")."""
    return tuple(re.findall(r"^GPU (\d+):", listing, re.M))


def visible_devices(environ: Mapping[str, str]) -> VisibleDevices:
    """CUDA_VISIBLE_DEVICES if set, else the GPUs `nvidia-smi -L` lists, else none."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        return VisibleDevices(parse_cuda_visible_devices(environ["CUDA_VISIBLE_DEVICES"]), "CUDA_VISIBLE_DEVICES")
    smi = shutil.which("nvidia-smi", path=environ.get("PATH"))
    if smi is None:
        return VisibleDevices((), "CUDA_VISIBLE_DEVICES is unset and nvidia-smi is not on PATH")
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return VisibleDevices((), f"nvidia-smi -L failed: {error}")
    ids = parse_nvidia_smi(listing.stdout)
    source = "nvidia-smi -L" if ids else f"nvidia-smi -L lists no GPU (exit code {listing.returncode})"
    return VisibleDevices(ids, source, pci_order=bool(ids))


def usable_cpus() -> list[int]:
    """The cores this process may run on (its affinity; every core where the system has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _chosen_devices(devices: Any, visible: VisibleDevices) -> tuple[str, ...]:
    if devices == AUTO or devices is None:
        return visible.ids
    if isinstance(devices, str | int) or not isinstance(devices, Sequence):
        raise LauncherSettingsError(
            f"hydra.launcher.devices={devices}: give a list of GPU ids (devices=[0,1]) or devices=auto"
        )
    chosen = tuple(str(d) for d in devices)
    doubled = sorted({d for d in chosen if chosen.count(d) > 1})
    if doubled:
        raise LauncherSettingsError(
            f"hydra.launcher.devices=[{','.join(chosen)}]: device {', '.join(doubled)} is listed twice; list each "
            "GPU once (gpus_per_job=0.5 puts two jobs on each)"
        )
    missing = [d for d in chosen if d not in visible.ids]
    if missing:
        here = f"visible: {','.join(visible.ids)}, from {visible.source}" if visible.ids else visible.source
        raise LauncherSettingsError(
            f"hydra.launcher.devices=[{','.join(chosen)}]: device {', '.join(missing)} does not exist here ({here}); "
            "list visible GPUs only, or devices=auto"
        )
    return chosen


def _device_slots(devices: tuple[str, ...], gpus_per_job: float, visible: VisibleDevices) -> list[tuple[str, ...]]:
    """The GPU sets of the slots, spread over the devices first (the first n_jobs slots use distinct devices)."""
    setting = f"hydra.launcher.gpus_per_job={gpus_per_job:g}"
    if not devices:
        raise LauncherSettingsError(
            f"{setting}: no GPU is visible ({visible.source}); set hydra.launcher.gpus_per_job=0 to run CPU jobs"
        )
    if gpus_per_job < 1:
        share = round(1 / gpus_per_job)
        if abs(share * gpus_per_job - 1) > 1e-9:
            raise LauncherSettingsError(
                f"{setting}: a fraction of a GPU must divide 1 (0.5, 0.25, 1/3 = 0.3333333333333333); "
                f"{gpus_per_job:g} puts {1 / gpus_per_job:.3g} jobs on a GPU"
            )
        return [(device,) for _ in range(share) for device in devices]
    if gpus_per_job != int(gpus_per_job):
        raise LauncherSettingsError(f"{setting}: more than one GPU per job must be a whole number (2, not 1.5)")
    size = int(gpus_per_job)
    if size > len(devices):
        raise LauncherSettingsError(
            f"{setting}: more GPUs per job than devices ({len(devices)}: {','.join(devices)}); "
            f"lower gpus_per_job to at most {len(devices)}"
        )
    return [devices[start : start + size] for start in range(0, len(devices) - size + 1, size)]


def place(
    *,
    devices: Any,
    gpus_per_job: float | None,
    n_jobs: int | None,
    cpus_per_job: int | None,
    visible: VisibleDevices,
    cpus: Sequence[int],
) -> Placement:
    """The slots for these settings on a machine with GPUs `visible` and cores `cpus` (this process's affinity).

    gpus_per_job=None: one GPU per job when GPUs are visible, else CPU jobs. n_jobs=None: every slot the devices
    hold, or (CPU jobs) one job per core, or per `cpus_per_job` cores."""
    chosen = _chosen_devices(devices, visible)
    if gpus_per_job is None:
        gpus_per_job = 1.0 if chosen else 0.0
    if gpus_per_job < 0:
        raise LauncherSettingsError(f"hydra.launcher.gpus_per_job={gpus_per_job:g}: must be >= 0 (0: CPU jobs)")
    if cpus_per_job is not None and cpus_per_job < 1:
        raise LauncherSettingsError(f"hydra.launcher.cpus_per_job={cpus_per_job}: must be a whole number >= 1")
    if n_jobs is not None and n_jobs < 1:
        raise LauncherSettingsError(f"hydra.launcher.n_jobs={n_jobs}: must be a whole number >= 1")
    gpu_sets = _device_slots(chosen, gpus_per_job, visible) if gpus_per_job > 0 else []
    if gpu_sets:
        if n_jobs is not None and n_jobs > len(gpu_sets):
            raise LauncherSettingsError(
                f"hydra.launcher.n_jobs={n_jobs}: the devices hold {len(gpu_sets)} job(s) at a time "
                f"({len(chosen)} GPU(s) at gpus_per_job={gpus_per_job:g}); lower n_jobs, or share GPUs with "
                "gpus_per_job=0.5"
            )
        count = n_jobs or len(gpu_sets)
    else:
        count = n_jobs or max(len(cpus) // (cpus_per_job or 1), 1)
    core_sets: list[tuple[int, ...]] = [()] * count
    if cpus_per_job is not None:
        if count * cpus_per_job > len(cpus):
            raise LauncherSettingsError(
                f"hydra.launcher.cpus_per_job={cpus_per_job}: {count} job(s) at a time need {count * cpus_per_job} "
                f"cores, and this process may use {len(cpus)}; lower cpus_per_job or n_jobs"
            )
        ordered = sorted(cpus)
        core_sets = [tuple(ordered[i * cpus_per_job : (i + 1) * cpus_per_job]) for i in range(count)]
    used = {d for gpus in gpu_sets[:count] for d in gpus}
    slots = tuple(Slot(gpu_sets[i] if gpu_sets else (), core_sets[i]) for i in range(count))
    unused = tuple(d for d in chosen if d not in used) if gpus_per_job > 0 else ()
    return Placement(slots, VisibleDevices(chosen, visible.source, visible.pci_order), gpus_per_job, unused)
