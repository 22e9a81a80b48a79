"""Checks of one A/B sweep of a real third-party Hydra app (run by scripts/real_app.sh with the app's venv).

    python real_app_check.py --experiment exp.py --sweep-dir DIR --app-config app_cfg.yaml
        [--seed-key seed] [--log-glob 'a2c_snake/events.*'] [--metric NAME] [--search-root DIR]

Prints one `PASS <check>` or `FAIL <check>: <what was found>` line per check (and `INFO` lines saying where
things went), exits 1 if any check failed. Reads only files: the job dirs' `.hydra/config.yaml` and
`.hydra/overrides.yaml`, the sweep's `summary.json`, the app's log files.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from metta_ab.definition.loading import load_experiment

failures = 0


def report(ok: bool, check: str, detail: str = "") -> bool:
    global failures
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'} {check}" + ("" if ok or not detail else f": {detail}"))
    return ok


def info(text: str) -> None:
    print(f"INFO {text}")


def lookup(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(cfg, dict) or part not in cfg:
            raise KeyError(dotted)
        cfg = cfg[part]
    return cfg


def job_dirs(root: Path) -> list[Path]:
    return sorted(p.parent.parent for p in root.glob("**/.hydra/config.yaml") if "attempts" not in p.parts)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--sweep-dir", required=True, type=Path)
    parser.add_argument("--app-config", required=True, type=Path, help="the app's own config (`--cfg job`)")
    parser.add_argument("--seed-key", default="")
    parser.add_argument("--log-glob", default="")
    parser.add_argument("--metric", default="")
    parser.add_argument("--search-root", type=Path, help="where else to look for the files (the app's working dir)")
    args = parser.parse_args()

    experiment = load_experiment(args.experiment)
    expected = {(v.name, i) for v in experiment.variants for i in range(1, experiment.runs_per_variant + 1)}
    app_cfg = yaml.safe_load(args.app_config.read_text()) or {}

    jobs = job_dirs(args.sweep_dir) if args.sweep_dir.is_dir() else []
    if not report(
        len(jobs) == len(expected),
        f"{len(expected)} job dirs inside hydra.sweep.dir ({args.sweep_dir})",
        f"found {len(jobs)}",
    ):
        elsewhere = job_dirs(args.search_root) if args.search_root else []
        if elsewhere:
            info(f"{len(elsewhere)} job dirs went elsewhere, e.g. {elsewhere[0]}")
            jobs = elsewhere
    if not jobs:
        return 1

    # Which job is which: each job's own override list, matched against the variants' overrides.
    seeds: dict[tuple[str, int], Any] = {}
    matched: dict[str, int] = {}
    override_ok = True
    added_keys: set[str] = set()
    for job in jobs:
        cfg = yaml.safe_load((job / ".hydra" / "config.yaml").read_text()) or {}
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or []
        added_keys |= set(cfg) - set(app_cfg)
        variant = next(
            (v for v in experiment.variants if job.name.startswith(f"{v.name}_run_")),
            None,
        )
        if variant is None:
            override_ok = False
            info(f"{job}: job dir name names no variant; overrides {overrides}")
            continue
        matched[variant.name] = matched.get(variant.name, 0) + 1
        for key, value in variant.overrides.items():
            dotted = key.replace("__", ".")
            try:
                got = lookup(cfg, dotted)
            except KeyError:
                got = "<missing>"
            # A config group choice (db=postgresql) shows as the chosen option's content, not as a value.
            chosen = (yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text()) or {}).get("hydra", {})
            choice = chosen.get("runtime", {}).get("choices", {}).get(dotted)
            if got != value and choice != value:
                override_ok = False
                info(f"{job.name}: {dotted} is {got!r}, the variant sets {value!r}")
        if args.seed_key:
            try:
                index = int(job.name.rsplit("_run_", 1)[1])
                seeds[(variant.name, index)] = lookup(cfg, args.seed_key)
            except (KeyError, ValueError, IndexError):
                seeds[(variant.name, -1)] = "<missing>"
    report(override_ok and len(matched) == len(experiment.variants), "each job's config has its variant's overrides")
    if app_cfg:
        # A key the experiment itself adds (`**{"+w": 0.5}`) is the user's, not the sweeper's.
        written = [*(experiment.base_config or {}), *(k for v in experiment.variants for k in v.overrides)]
        own = {"ab"} | {k.lstrip("+").replace("__", ".").split(".")[0] for k in written if k.startswith("+")}
        report(
            not (added_keys - own),
            "no root keys added to the app's config but `ab` (and the experiment's own `+` keys)",
            f"added {sorted(added_keys - own)}",
        )
    else:
        info("the app's own config is unknown (--cfg job failed): no check of added keys")
    if args.seed_key:
        by_run: dict[int, set[Any]] = {}
        for (_, index), seed in seeds.items():
            by_run.setdefault(index, set()).add(json.dumps(seed))
        paired = all(len(s) == 1 for s in by_run.values())
        distinct = len({next(iter(s)) for s in by_run.values()}) == len(by_run)
        report(
            paired and distinct and "<missing>" not in json.dumps(sorted(map(str, seeds.values()))),
            f"the app's seed ({args.seed_key}) is paired across variants and differs between runs",
            f"seeds {dict(sorted((f'{v}_run_{i}', s) for (v, i), s in seeds.items()))}",
        )
    else:
        info("the app has no seed key: no seed check")

    if args.log_glob:
        missing = [job.name for job in jobs if not glob.glob(str(job / args.log_glob))]
        report(not missing, f"every job dir holds the app's own log ({args.log_glob})", f"missing in {missing}")

    summary_path = args.sweep_dir / "summary.json"
    if not summary_path.is_file() and args.search_root:
        found = sorted(args.search_root.glob(f"**/{experiment.name}/summary.json"))
        if found:
            info(f"summary.json went to {found[0]}")
            summary_path = found[0]
    if not report(summary_path.is_file(), "summary.json written in hydra.sweep.dir", "not found"):
        return 1
    summary = json.loads(summary_path.read_text())
    if args.metric:
        values = {name: v.get("values") for name, v in summary.get("variants", {}).items()}
        complete = all(vals and all(x is not None for x in vals) for vals in values.values())
        verdicts = [c.get("verdict") for c in summary.get("comparisons", [])]
        report(
            summary.get("metric") == args.metric and complete and bool(verdicts) and all(verdicts),
            f"summary.json has a verdict on the app's own metric {args.metric!r}",
            f"metric {summary.get('metric')!r}, values {values}, verdicts {verdicts}, "
            f"warnings {summary.get('warnings')}",
        )
    else:
        info(f"the app logs no metric; summary metric {summary.get('metric')!r}, warnings {summary.get('warnings')}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
