"""Test-session setup shared by every test module."""

import os
import subprocess

import pytest
from hydra.core.plugins import Plugins
from hypothesis import settings

# Scan Hydra's plugins once, before any test snapshots Hydra's singletons. Hydra's `hydra_restore_singletons`
# fixture (used by `hydra_sweep_runner`) restores the ConfigStore to its state before the test; from Hydra 1.4
# the plugin scan imports each plugin module only once (1.3 re-executed them, re-registering their configs),
# so a snapshot taken before the first scan would drop `hydra/sweeper/basic` & co. for the rest of the process.
Plugins.instance()

# CI gates a submission on the same property examples every time (HYPOTHESIS_PROFILE=ci, set by .ci/run);
# anywhere else each run draws new ones, which is where property tests find what nobody thought of.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _only_slow_tests_start_processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """`-m "not slow"` is the quick subset (README): a test that starts a process (an app, a sweep, a venv) must
    say so with the `slow` mark, or it fails here."""
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{request.node.nodeid} starts a process: mark it @pytest.mark.slow")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
