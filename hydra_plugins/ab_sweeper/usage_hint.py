"""Two commands that would run the app without the experiment, and what is missing in each.

1. `python app.py -m ab.experiment=exp.py` without `hydra/sweeper=ab`: Hydra fails with "Key 'ab' is not
   in struct" and advises `+ab.experiment=`, which then runs the app with the experiment silently ignored.
2. `python app.py hydra/sweeper=ab ab.experiment=exp.py` without `-m`: Hydra uses no sweeper, and runs the
   app once. The ab callback stops that before the app starts; this covers apps whose execution whitelist
   leaves the callback out (`config._callbacks`).

Hydra offers a plugin no hook before composition, but it runs every SearchPathPlugin at start; this one
changes no search path. It reads the command line and arranges to say, at exit, what was missing, unless
the ab sweeper did get composed and used after all (the app's own config may select it, or set
`hydra.mode=MULTIRUN`), which the ab callback and the ab sweeper record (`ab_sweeper.option_composed`).
"""

import atexit
import os
import re
import shlex
import shutil
import sys
from dataclasses import fields

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from hydra_plugins.ab_sweeper.config import ABSettings

_SETTING = re.compile(r"\+{0,2}ab\.(" + "|".join(f.name for f in fields(ABSettings)) + r")\b")
_SWEEPER = re.compile(r"\+{0,2}hydra/sweeper=")
_AB_SWEEPER = re.compile(r"\+{0,2}hydra/sweeper=ab$")
_EXPERIMENT = re.compile(r"\+{0,2}ab\.experiment=")
# Hydra's flags that run no job (and so no sweep), and its multirun flag
_NO_JOB = {"-h", "--help", "--hydra-help", "--version", "-c", "--cfg", "-i", "--info", "-sc", "--shell-completion"}
_MULTIRUN = {"-m", "--multirun"}


class ABSettingsNeedTheSweeper(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        args = sys.argv[1:]
        setting = next((a for a in args if _SETTING.match(a)), None)
        hint = None
        if setting is not None and not any(_SWEEPER.match(a) for a in args):
            hint = (
                f"{setting.lstrip('+')} is a setting of the ab sweeper, which this command does not select: "
                f"add hydra/sweeper=ab ({app_command()} -m hydra/sweeper=ab {setting.lstrip('+')} ...)"
            )
        experiment = next((a for a in args if _EXPERIMENT.match(a)), None)
        flags = {a.split("=", 1)[0] for a in args}
        if experiment and any(_AB_SWEEPER.match(a) for a in args) and not flags & (_MULTIRUN | _NO_JOB):
            hint = (
                f"{experiment.lstrip('+')} was not run: Hydra uses a sweeper only in multirun mode, so the app "
                f"ran once, as without it. Add -m ({app_command()} -m hydra/sweeper=ab {experiment.lstrip('+')} ...)"
            )
        if hint is not None:
            atexit.unregister(_hint_unless_composed)
            atexit.register(_hint_unless_composed, hint)


def app_command() -> str:
    """The command that started this app, as the user types it again: `python tools/train.py` (the script as
    given), `python -m my_pkg.train` (run with -m: sys.argv[0] is then the module's file), or an installed
    script (`train`, without `python`)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name.removesuffix('.__main__')}"
    script = sys.argv[0] if sys.argv and sys.argv[0] else "<app>"
    if not script.endswith(".py") and os.path.isfile(script) and os.access(script, os.X_OK):
        on_path = shutil.which(os.path.basename(script))
        same = on_path is not None and os.path.realpath(on_path) == os.path.realpath(script)
        return shlex.quote(os.path.basename(script) if same else script)
    return f"python {shlex.quote(script)}"


def _hint_unless_composed(hint: str) -> None:
    from hydra_plugins.ab_sweeper.ab_sweeper import option_composed

    if not option_composed():
        sys.stderr.write(f"metta-ab: {hint}\n")
