"""What the benchmarks share: the project's paths, subprocess timing with peak RSS, options, output.

Every benchmark runs its commands against THIS tree: the project root goes first on the children's
PYTHONPATH, so a stale editable install elsewhere (the venv's `.pth` may point at another checkout)
cannot change what is measured (in-process imports likewise). Each benchmark prints its ratio on its
LAST line, in the form

    ratio 1.04: <what over what> (target <= 1.10, met)

which `tests/test_benchmarks_smoke.py` checks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
PROJECT_ROOT = BENCHMARKS.parent
APPS = BENCHMARKS / "apps"
TRIVIAL_APP = APPS / "trivial" / "app.py"
EXAMPLE_APP = PROJECT_ROOT / "examples" / "train.py"
PYTHON = sys.executable
if str(PROJECT_ROOT) not in sys.path:  # in-process imports of metta_ab come from this tree as well
    sys.path.insert(1, str(PROJECT_ROOT))


def parse_options(
    description: str,
    argv: Sequence[str] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """--smoke, --full, --keep, and what `add_arguments` adds (a benchmark's own options)."""
    parser = argparse.ArgumentParser(description=description)
    if add_arguments is not None:
        add_arguments(parser)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI)")
    size.add_argument("--full", action="store_true", help="the large sizes as well")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    return parser.parse_args(argv)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a measured command: this tree first on the path, no W&B network, quiet."""
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update({"WANDB_MODE": "disabled", "WANDB_SILENT": "true", "PYTHONHASHSEED": "0"})
    env.update(extra)
    return env


@dataclass
class Timed:
    seconds: float
    returncode: int
    max_rss_mb: float  # peak resident set size of the child (and the children it waited for)
    cpu: float  # user + system CPU seconds of the child (less sensitive to a busy machine than wall time)
    output: Path  # stdout and stderr together

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def check(self, what: str) -> Timed:
        if self.returncode != 0:
            tail = "\n".join(self.text().splitlines()[-30:])
            raise SystemExit(f"{what} failed with exit code {self.returncode}; its output ends:\n{tail}")
        return self


def run_timed(
    cmd: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, output: Path | None = None, timeout=600.0
) -> Timed:
    """Wall time and peak RSS of one command (os.wait4 gives this child's own resource usage)."""
    output = output or cwd / f"output-{time.monotonic_ns()}.log"
    with open(output, "wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env or child_env(), stdout=sink, stderr=subprocess.STDOUT)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return Timed(seconds, proc.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, output)


@contextmanager
def scratch_dir(keep: bool, prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"metta_ab_{prefix}_"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def fresh_dir(parent: Path, name: str) -> Path:
    """A new, empty directory under `parent` (every sweep starts in its own: no resume between runs)."""
    for i in range(1000):
        path = parent / f"{name}-{i}"
        if not path.exists():
            path.mkdir(parents=True)
            return path
    raise RuntimeError(f"too many directories named {name} in {parent}")


def summarize(samples: Sequence[float]) -> str:
    if len(samples) == 1:
        return f"{samples[0]:.2f} s"
    return f"min {min(samples):.2f} s, median {statistics.median(samples):.2f} s (n={len(samples)})"


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {load:.1f} at start"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A Markdown table (ready for the README's Performance section)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def ratio_line(value: float, what: str, target: str, met: bool | None) -> str:
    verdict = "" if met is None else (", met" if met else ", MISSED")
    return f"ratio {value:.2f}: {what} (target {target}{verdict})"


def write_experiment(path: Path, name: str, variants: dict[str, dict], runs: int, calls: Sequence[str] = ()) -> Path:
    """An experiment file with one `create_*` function, as a researcher would write it; `calls` are more
    builder calls such as `.set_metric('score')`."""
    lines = [
        "from metta_ab import create_experiment",
        "",
        "",
        "def create_benchmark_experiment():",
        "    return (",
        f"        create_experiment({name!r}, 'benchmark')",
    ]
    lines += [f"        .add_variant(name={v!r}, **{overrides!r})" for v, overrides in variants.items()]
    lines.append(f"        .set_runs_per_variant({runs})")
    lines += [f"        {call}" for call in calls]
    lines += ["        .build()", "    )", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
