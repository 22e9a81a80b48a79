"""Hydra's own launcher test suites, run with `hydra/sweeper=ab` and no experiment: without
`ab.experiment` the ab sweeper must behave exactly like Hydra's BasicSweeper, on any launcher."""

from __future__ import annotations

import pytest
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, IntegrationTestSuite, LauncherTestSuite

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")


@pytest.mark.parametrize("launcher_name, overrides", [("basic", ["hydra/sweeper=ab"])])
class TestBasicLauncherWithAbSweeper(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    "launcher_name, overrides", [("basic", ["hydra/sweeper=ab", "hydra.sweeper.max_batch_size=2"])]
)
class TestBatchedWithAbSweeper(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({}, ["-m", "hydra/sweeper=ab", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])],
)
class TestJoblibIntegrationWithAbSweeper(IntegrationTestSuite):
    pass


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [("ab_local", ["hydra.launcher.n_jobs=2"]), ("ab_local", ["hydra/sweeper=ab", "hydra.launcher.n_jobs=2"])],
    ids=["basic_sweeper", "ab_sweeper"],
)
class TestAbLocalLauncher(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    "launcher_name, overrides", [("ab_local", ["hydra/sweeper=ab", "hydra.sweeper.max_batch_size=2"])]
)
class TestBatchedOnAbLocal(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({}, ["-m", "hydra/launcher=ab_local", "hydra.launcher.n_jobs=2"])],
)
class TestAbLocalIntegration(IntegrationTestSuite):
    pass
