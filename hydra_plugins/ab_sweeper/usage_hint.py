"""`python app.py -m ab.experiment=exp.py` without `hydra/sweeper=ab`: Hydra fails with "Key 'ab' is not in
struct" and advises `+ab.experiment=`, which then runs the app with the experiment silently ignored.

Hydra offers a plugin no hook before composition, but it runs every SearchPathPlugin at start; this one
changes no search path. When the command line holds an `ab.<setting>` and selects no sweeper, it arranges
to say, at exit, what was missing, unless the ab sweeper's option did get composed (the app's own config
may select it), which its ABCallback records.
"""

import atexit
import re
import sys
from dataclasses import fields

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from hydra_plugins.ab_sweeper.config import ABSettings

_SETTING = re.compile(r"\+{0,2}ab\.(" + "|".join(f.name for f in fields(ABSettings)) + r")\b")
_SWEEPER = re.compile(r"\+{0,2}hydra/sweeper=")


class ABSettingsNeedTheSweeper(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        args = sys.argv[1:]
        setting = next((a for a in args if _SETTING.match(a)), None)
        if setting is not None and not any(_SWEEPER.match(a) for a in args):
            atexit.unregister(_hint_unless_selected)
            atexit.register(_hint_unless_selected, setting)


def _hint_unless_selected(setting: str) -> None:
    from hydra_plugins.ab_sweeper.ab_sweeper import ABCallback

    if not ABCallback.composed:
        sys.stderr.write(
            f"metta-ab: {setting.lstrip('+')} is a setting of the ab sweeper, which this command does not select: "
            f"add hydra/sweeper=ab (python <app> -m hydra/sweeper=ab {setting.lstrip('+')} ...)\n"
        )
