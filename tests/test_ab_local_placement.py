"""`hydra/launcher=ab_local`'s placement: which GPUs and cores each slot gets, and the settings it refuses.

A slot runs one job at a time, so these properties are what bounds the jobs on a device at any moment
(tests/test_ab_local_launcher.py checks the running jobs themselves on fake device lists)."""

from __future__ import annotations

from collections import Counter

import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hypothesis import given
from hypothesis import strategies as st

from hydra_plugins.ab_launcher._placement import (
    LauncherSettingsError,
    VisibleDevices,
    parse_cuda_visible_devices,
    parse_nvidia_smi,
    place,
)

FOUR = VisibleDevices(("0", "1", "2", "3"), "CUDA_VISIBLE_DEVICES")
NONE = VisibleDevices((), "CUDA_VISIBLE_DEVICES is unset and nvidia-smi is not on PATH")


def placed(visible=FOUR, cpus=range(8), **settings):
    defaults = {"devices": "auto", "gpus_per_job": None, "n_jobs": None, "cpus_per_job": None}
    return place(**{**defaults, **settings}, visible=visible, cpus=list(cpus))


def test_the_launcher_is_discovered_and_registered():
    launchers = [p.__module__ + "." + p.__name__ for p in Plugins.instance().discover(Launcher)]
    assert "hydra_plugins.ab_launcher.ab_local_launcher.ABLocalLauncher" in launchers
    assert "ab_local.yaml" in ConfigStore.instance().list("hydra/launcher")


@pytest.mark.parametrize(
    ("value", "ids"),
    [("0,1,2", ("0", "1", "2")), (" 2, 3 ", ("2", "3")), ("", ()), ("-1", ()), ("1,-1,2", ("1",)),
     ("GPU-8f3a,GPU-11bc", ("GPU-8f3a", "GPU-11bc"))],
)  # fmt: skip
def test_cuda_visible_devices_as_cuda_reads_it(value, ids):
    assert parse_cuda_visible_devices(value) == ids


def test_nvidia_smi_listing():
    listing = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-aaa)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-bbb)\n"
    assert parse_nvidia_smi(listing) == ("0", "1")
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the driver") == ()


def test_defaults_one_gpu_per_job_when_gpus_are_visible_else_cpu_jobs():
    gpu = placed()
    assert [s.gpus for s in gpu.slots] == [("0",), ("1",), ("2",), ("3",)]
    cpu = placed(visible=NONE, cpus=range(6))
    assert cpu.gpus_per_job == 0 and len(cpu.slots) == 6 and all(s.gpus == () for s in cpu.slots)
    assert cpu.environment(cpu.slots[0]) == {}  # a machine without GPUs is left as it is
    hidden = placed(gpus_per_job=0)
    assert hidden.environment(hidden.slots[0])["CUDA_VISIBLE_DEVICES"] == ""  # CPU jobs on a GPU machine


@given(
    ids=st.lists(st.integers(0, 15), min_size=1, max_size=8, unique=True),
    share=st.sampled_from([1, 2, 3, 4, 8]),
    data=st.data(),
)
def test_a_fraction_of_a_gpu_puts_at_most_its_share_of_jobs_on_each(ids, share, data):
    visible = VisibleDevices(tuple(map(str, ids)), "test")
    n_jobs = data.draw(st.none() | st.integers(1, len(ids) * share))
    placement = placed(visible=visible, gpus_per_job=1 / share, n_jobs=n_jobs)
    assert len(placement.slots) == (n_jobs or len(ids) * share)
    per_device = Counter(d for s in placement.slots for d in s.gpus)
    assert all(len(s.gpus) == 1 for s in placement.slots)
    assert max(per_device.values()) <= share
    # spread first: no device gets a second job while another has none
    assert max(per_device.values()) - min(per_device.get(str(d), 0) for d in ids) <= 1
    for slot in placement.slots:
        assert placement.environment(slot)["CUDA_VISIBLE_DEVICES"] == slot.gpus[0]


@given(ids=st.lists(st.integers(0, 15), min_size=1, max_size=9, unique=True), size=st.integers(1, 9))
def test_several_gpus_per_job_never_share_one(ids, size):
    visible = VisibleDevices(tuple(map(str, ids)), "test")
    if size > len(ids):
        with pytest.raises(LauncherSettingsError, match=r"gpus_per_job=\d+: more GPUs per job than devices"):
            placed(visible=visible, gpus_per_job=size)
        return
    placement = placed(visible=visible, gpus_per_job=size)
    used = [d for s in placement.slots for d in s.gpus]
    assert all(len(s.gpus) == size for s in placement.slots)
    assert len(used) == len(set(used)) and len(placement.slots) == len(ids) // size
    assert set(placement.unused_devices) == set(visible.ids) - set(used)


@given(cores=st.integers(1, 64), per_job=st.integers(1, 8), data=st.data())
def test_pinned_jobs_get_cores_of_their_own(cores, per_job, data):
    if per_job > cores:
        with pytest.raises(LauncherSettingsError, match="cpus_per_job"):
            placed(visible=NONE, cpus=range(cores), cpus_per_job=per_job)
        return
    n_jobs = data.draw(st.none() | st.integers(1, cores // per_job))
    placement = placed(visible=NONE, cpus=range(cores), cpus_per_job=per_job, n_jobs=n_jobs)
    assert len(placement.slots) == (n_jobs or cores // per_job)
    pinned = [c for s in placement.slots for c in s.cpus]
    assert all(len(s.cpus) == per_job for s in placement.slots) and len(pinned) == len(set(pinned))
    assert placement.environment(placement.slots[0]) == {"OMP_NUM_THREADS": str(per_job)}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"devices": [0, 7]}, r"hydra.launcher.devices=\[0,7\]: device 7 does not exist here \(visible: 0,1,2,3, "
         r"from CUDA_VISIBLE_DEVICES\); list visible GPUs only, or devices=auto"),
        ({"devices": [1, 1]}, r"devices=\[1,1\]: device 1 is listed twice"),
        ({"devices": "all"}, r"devices=all: give a list of GPU ids \(devices=\[0,1\]\) or devices=auto"),
        ({"devices": [0], "visible": NONE}, r"device 0 does not exist here \(CUDA_VISIBLE_DEVICES is unset and "
         r"nvidia-smi is not on PATH\)"),
        ({"gpus_per_job": 0.3}, r"gpus_per_job=0.3: a fraction of a GPU must divide 1"),
        ({"gpus_per_job": 1.5}, r"gpus_per_job=1.5: more than one GPU per job must be a whole number"),
        ({"gpus_per_job": 8}, r"gpus_per_job=8: more GPUs per job than devices \(4: 0,1,2,3\)"),
        ({"gpus_per_job": -1}, r"gpus_per_job=-1: must be >= 0"),
        ({"gpus_per_job": 1, "visible": NONE}, r"gpus_per_job=1: no GPU is visible \(.*\); set "
         r"hydra.launcher.gpus_per_job=0 to run CPU jobs"),
        ({"n_jobs": 5}, r"n_jobs=5: the devices hold 4 job\(s\) at a time \(4 GPU\(s\) at gpus_per_job=1\)"),
        ({"n_jobs": 0}, r"n_jobs=0: must be a whole number >= 1"),
        ({"cpus_per_job": 3, "n_jobs": 3}, r"cpus_per_job=3: 3 job\(s\) at a time need 9 cores, and this process "
         r"may use 8"),
    ],
)  # fmt: skip
def test_impossible_settings_are_one_error_naming_the_setting(settings, message):
    with pytest.raises(LauncherSettingsError, match=message):
        placed(**settings)
