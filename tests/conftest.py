"""Test-session setup shared by every test module."""

from hydra.core.plugins import Plugins

# Scan Hydra's plugins once, before any test snapshots Hydra's singletons. Hydra's `hydra_restore_singletons`
# fixture (used by `hydra_sweep_runner`) restores the ConfigStore to its state before the test; from Hydra 1.4
# the plugin scan imports each plugin module only once (1.3 re-executed them, re-registering their configs),
# so a snapshot taken before the first scan would drop `hydra/sweeper/basic` & co. for the rest of the process.
Plugins.instance()
