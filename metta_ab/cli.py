"""The `metta-ab` command: run, plan, analyze, status, power.

`run` and `plan --app` go through the Hydra app with the ab sweeper (one engine); `plan` without an
app, `analyze` and `power` work on files alone.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metta_ab import exit_status
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment, AnalysisSettings
from metta_ab.records.ledger import LEDGER_FILE, read_json
from metta_ab.records.snapshot import PLAN_JSON
from metta_ab.report.figure_files import DEFAULT_PLOT_DPI, DEFAULT_PLOT_FORMAT, PLOT_FORMATS, FigureSettings
from metta_ab.runner import (
    ABRunError,
    SweepOptions,
    resolve_app,
    run_sweep_process,
    summary_verdict_lines,
    sweep_command,
)

if TYPE_CHECKING:
    from metta_ab.records.cost import CostEstimate
    from metta_ab.records.snapshot import Snapshot
    from metta_ab.stats import Comparison

EPILOG_RUN = """examples:
  metta-ab run my_experiment.py                      # tools/train.py, one run after another
  metta-ab run my_experiment.py --parallel --max-parallel 2
  metta-ab run my_experiment.py --app examples/train.py -- trainer.total_timesteps=1000
  metta-ab run my_experiment.py -- hydra/launcher=submitit_slurm hydra.launcher.partition=gpu
"""

EPILOG_POWER = """d is the difference / SD of one run's score in both designs. Paired, the test sees the pair
differences, whose effect is d_z = d / sqrt(2 (1 - R)) for a pair correlation R (a pilot prints its R).
  paired:      one-sample t on n differences; noncentral t, df = n - 1, noncentrality d_z sqrt(n)
  independent: Welch's t with n runs per variant; with equal n its statistic is Student's, and the power
               computed is Student's: noncentral t, df = 2n - 2, noncentrality d sqrt(n / 2) (Welch's df is
               at most 2n - 2, so its power is at most this)

examples:
  metta-ab power --effect-size 1 --paired --correlation 0.5    # 10 runs per variant
  metta-ab power --effect-size 1 --independent                 # 17 runs per variant
  metta-ab power --pilot ab_test_results/my_experiment
"""


JSON_HELP = "print one JSON document on stdout, {what}; messages go to stderr"
WATCH_SECONDS = 10.0


def _add_analysis_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis settings (override the experiment's set_metric)")
    group.add_argument("--metric", help="primary metric (a key the runs returned or logged)")
    group.add_argument("--direction", choices=["max", "min"], help="whether higher or lower is better")
    group.add_argument("--control", help="control variant (default: the first)")
    group.add_argument("--alpha", type=float, help="significance level, two-sided (default 0.05)")
    group.add_argument("--ci-level", type=float, help="confidence level of intervals (default 0.95)")
    group.add_argument("--resamples", type=int, dest="n_resamples", help="bootstrap resamples (default 10000)")
    group.add_argument(
        "--curve-summary",
        choices=["final", "auc", "threshold", "returned"],
        help="per-run score from a learning curve (default: final = mean of the last 10%% of evaluations)",
    )
    group.add_argument("--last-k", type=int, help="evaluations averaged by --curve-summary final")
    group.add_argument("--threshold", type=float, help="threshold for --curve-summary threshold")
    group.add_argument("--min-effect", type=float, help="smallest difference that matters (enables 'equivalent')")


def _add_cost_flags(parser: argparse.ArgumentParser, *, pilot: bool) -> None:
    group = parser.add_argument_group("cost, from a pilot's run durations")
    if pilot:
        group.add_argument("--pilot", help="an experiment directory (finished or running): its runs' durations")
    group.add_argument(
        "--parallel",
        type=int,
        dest="cost_parallel",
        metavar="N",
        help="runs at once (default: the launcher's setting, hydra.launcher.n_jobs, else 1)",
    )
    group.add_argument("--gpus-per-job", type=float, metavar="G", help="GPUs each run holds, for GPU-hours (default 1)")


def _analysis_settings(args: argparse.Namespace) -> AnalysisSettings:
    names = vars(AnalysisSettings())
    return AnalysisSettings(**{k: getattr(args, k, None) for k in names})


def installed_version() -> str:
    """The version of the installed distribution (a source checkout that was never installed says so)."""
    try:
        return importlib.metadata.version("metta-ab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metta-ab",
        description="A/B testing for training runs, through your Hydra app with the ab sweeper.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run an experiment through a Hydra app",
        description="Run every variant x run of EXPERIMENT as a Hydra multirun with the ab sweeper. "
        "Hydra overrides after `--` go to every job unchanged.",
        usage="metta-ab run [options] EXPERIMENT [-- HYDRA_OVERRIDES ...]",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("experiment", help="experiment file (.py, .py:NAME, or a saved experiment_config.yaml)")
    run.add_argument("--app", help="the Hydra training script (default: the experiment's set_app, else tools/train.py)")
    run.add_argument("--dry-run", action="store_true", help="validate and print the plan; launch nothing")
    run.add_argument("--output-dir", default="ab_test_results", help="results go to OUTPUT_DIR/<experiment name>")
    run.add_argument("--parallel", action="store_true", help="run jobs in parallel here (hydra/launcher=ab_local)")
    run.add_argument("--max-parallel", type=int, default=4, help="parallel jobs with --parallel (default 4)")
    run.add_argument("--no-retry", action="store_true", help="do not retry failed runs")
    run.add_argument("--max-retries", type=int, default=3, help="retries of a failed run (default 3)")
    run.add_argument("-v", "--verbose", action="store_true", help="print the Hydra command that is run")

    plan = commands.add_parser(
        "plan",
        help="show the jobs an experiment would launch (and, with --pilot, their cost)",
        usage="metta-ab plan [--app APP] EXPERIMENT [--pilot DIR [--parallel N] [--gpus-per-job G]] "
        "[-- HYDRA_OVERRIDES ...]",
    )
    plan.add_argument("experiment", help="experiment file")
    plan.add_argument("--app", help="validate the plan against this Hydra app's config")
    plan.add_argument(
        "--json", action="store_true", help=JSON_HELP.format(what='{"experiment", "runs": [...], "cost"}')
    )
    _add_cost_flags(plan, pilot=True)

    analyze = commands.add_parser(
        "analyze",
        help="re-analyze an experiment directory (or a W&B group); the sweep's own report is never changed",
        description="Recompute the verdict from the runs' files into EXPERIMENT_DIR/analyses/<what differs> "
        "(or --output-dir). Settings other than the declared ones make the analysis exploratory: its report "
        "opens saying so.",
        usage="metta-ab analyze EXPERIMENT_DIR [options] | metta-ab analyze --wandb ENTITY/PROJECT --group GROUP",
    )
    analyze.add_argument("experiment_dir", nargs="?", help="the directory a sweep wrote (ab_test_results/<name>)")
    analyze.add_argument("--wandb", metavar="ENTITY/PROJECT", help="fetch the runs from the W&B server instead")
    analyze.add_argument("--group", help="with --wandb: the experiment's W&B group (its name)")
    analyze.add_argument(
        "--wandb-dir", help="with --wandb: the group is written to WANDB_DIR/GROUP (default ab_test_results)"
    )
    analyze.add_argument(
        "--output-dir",
        help="where the report goes (default EXPERIMENT_DIR/analyses/<what differs from the declared analysis>); "
        "with --wandb and no --wandb-dir, its former meaning: where the group is written",
    )
    analyze.add_argument("--no-plots", action="store_true", help="skip the figures")
    analyze.add_argument(
        "--plot-format",
        default=DEFAULT_PLOT_FORMAT,
        help=f"the figures' format: {', '.join(PLOT_FORMATS)} (default %(default)s)",
    )
    analyze.add_argument(
        "--plot-dpi", type=int, default=DEFAULT_PLOT_DPI, help="the figures' dots per inch (default %(default)s)"
    )
    analyze.add_argument(
        "--json", action="store_true", help=JSON_HELP.format(what='{"report_directory", "summary": summary.json}')
    )
    _add_analysis_flags(analyze)

    status = commands.add_parser(
        "status",
        help="where a sweep stands: runs completed, running, failed, pending; errors; ETA",
        description="Read EXPERIMENT_DIR's records without its lock: it works while the sweep runs, from "
        "another shell or machine on the same filesystem. Exit status 0 when the directory could be read, "
        f"{exit_status.USAGE} when it is not an experiment directory.",
        usage="metta-ab status EXPERIMENT_DIR [--watch [SECONDS]] [--json]",
    )
    status.add_argument("experiment_dir", help="the directory a sweep writes (ab_test_results/<name>)")
    status.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=WATCH_SECONDS,
        metavar="SECONDS",
        help=f"redraw every SECONDS (default {WATCH_SECONDS:g}) until the sweep ends; Ctrl-C stops it",
    )
    status.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (with --watch: one per line, per redraw)"
    )

    power = commands.add_parser(
        "power",
        help="how many runs per variant are needed",
        description="Runs per variant the two-sided t-test needs to detect an effect with the given power, for "
        "the design the sweep runs: paired seeds (one-sample t on the pair differences) or independent runs "
        "(Welch's t). --pilot uses a finished experiment's own design and observed effects.",
        usage="metta-ab power --effect-size D (--paired --correlation R | --independent) [--alpha A] [--power P]\n"
        "       metta-ab power --pilot EXPERIMENT_DIR [--alpha A] [--power P]",
        epilog=EPILOG_POWER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = power.add_mutually_exclusive_group(required=True)
    source.add_argument("--effect-size", type=float, help="d = difference / SD of one run's score (> 0)")
    source.add_argument("--pilot", help="an experiment directory: its design and observed effects")
    design = power.add_mutually_exclusive_group()
    design.add_argument("--paired", action="store_true", help="paired seeds (the sweep's default); needs --correlation")
    design.add_argument("--independent", action="store_true", help="independent runs (ab.paired_seeds=false)")
    power.add_argument(
        "--correlation", type=float, help="with --paired: correlation of a pair's two scores, in (-1, 1)"
    )
    power.add_argument("--alpha", type=float, help="significance level, two-sided (default 0.05)")
    power.add_argument("--power", type=float, default=0.8, dest="target_power", help="power (default 0.8)")
    _add_cost_flags(power, pilot=False)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from metta_ab.definition.loading import load_experiment

    experiment = load_experiment(args.experiment)
    app = resolve_app(args.app, experiment, Path(args.experiment.split(":")[0]))
    options = SweepOptions(
        output_dir=args.output_dir,
        parallel_runs=args.parallel,
        max_parallel_runs=args.max_parallel,
        retry_failed_runs=not args.no_retry,
        max_retries=args.max_retries,
        dry_run=args.dry_run,
        overrides=tuple(args.overrides),
    )
    command = sweep_command(app, str(Path(args.experiment).absolute()), options)
    if args.verbose:
        print("$ " + " ".join(command), flush=True)
    proc = run_sweep_process(command, quiet=False)
    sys.stderr.write(proc.stderr)
    verdict = summary_verdict_lines(Path(args.output_dir) / experiment.name)
    if verdict and not args.dry_run:
        print("\n".join(verdict))
    return proc.returncode


def _cmd_plan(args: argparse.Namespace) -> int:
    from metta_ab.definition.loading import load_experiment
    from metta_ab.plan import PlanSettings, format_plan, plan_experiment

    experiment = load_experiment(args.experiment)
    pilot = _read_pilot(args)
    if args.app is None:
        runs = plan_experiment(experiment, PlanSettings())
        cost = _plan_cost(args, pilot, experiment, [(r.index, r.task) for r in runs], None)
        if args.json:
            runs_json = [r.to_dict() for r in runs]
            print(json.dumps({"experiment": experiment.name, "runs": runs_json, **_cost_json(cost)}, indent=1))
            return 0
        print(format_plan(experiment, runs), end="")
        if experiment.base_defaults:
            print("(base defaults are resolved against the app's config groups when run; pass --app to check)")
        _print_cost(cost)
        return 0
    args.dry_run, args.output_dir, args.parallel, args.max_parallel = True, "ab_test_results", False, 1
    args.no_retry, args.max_retries, args.verbose = True, 0, False
    if args.json:
        return _plan_json_through_app(args, experiment, pilot)
    status = _cmd_run(args)
    experiment_dir = Path(args.output_dir) / experiment.name
    if status == 0:
        _print_cost(_plan_cost(args, pilot, experiment, _dry_run_plan(experiment_dir), experiment_dir))
    return status


def _plan_json_through_app(args: argparse.Namespace, experiment: ABExperiment, pilot: Snapshot | None) -> int:
    """The dry run through the app, its text on stderr, then the plan.json it validated (a directory a sweep ran
    in keeps its own, which the dry run checked against the definition) on stdout."""
    app = resolve_app(args.app, experiment, Path(args.experiment.split(":")[0]))
    options = SweepOptions(dry_run=True, max_retries=0, overrides=tuple(args.overrides))
    proc = run_sweep_process(sweep_command(app, str(Path(args.experiment).absolute()), options), quiet=True)
    sys.stderr.write(proc.stderr)
    experiment_dir = Path(options.output_dir) / experiment.name
    plan = read_json(experiment_dir / PLAN_JSON)
    if proc.returncode != 0 or plan is None:
        return proc.returncode or exit_status.ERROR
    cost = _plan_cost(args, pilot, experiment, _dry_run_plan(experiment_dir), experiment_dir)
    print(json.dumps({"experiment": experiment.name, "runs": plan, **_cost_json(cost)}, indent=1))
    return 0


def _read_pilot(args: argparse.Namespace) -> Snapshot | None:
    """The pilot's records (before any job or dry run starts), or None without --pilot; one line for bad input."""
    from metta_ab.records.cost import read_pilot

    if args.cost_parallel is not None and args.cost_parallel < 1:
        raise ABRunError(f"--parallel takes the runs at once, a positive number, got {args.cost_parallel}")
    if args.gpus_per_job is not None and not (math.isfinite(args.gpus_per_job) and args.gpus_per_job >= 0):
        raise ABRunError(f"--gpus-per-job takes the GPUs each run holds, 0 or more, got {args.gpus_per_job:g}")
    if args.pilot is None:
        if args.cost_parallel is not None or args.gpus_per_job is not None:
            raise ABRunError("--parallel and --gpus-per-job cost the runs from a pilot's durations: add --pilot DIR")
        return None
    return read_pilot(Path(args.pilot))


def _dry_run_plan(experiment_dir: Path) -> list[tuple[int, str | None]]:
    """The runs (index, task) of the plan.json the dry run validated."""
    plan = read_json(experiment_dir / PLAN_JSON)
    runs = plan if isinstance(plan, list) else []
    return [(int(r["run_index"]), r.get("task")) for r in runs if isinstance(r, dict) and "run_index" in r]


def _plan_cost(
    args: argparse.Namespace,
    pilot: Snapshot | None,
    experiment: ABExperiment,
    runs: list[tuple[int, str | None]],
    dry_run_dir: Path | None,
) -> CostEstimate | None:
    """The cost of the plan's runs (None without a pilot). The parallelism: --parallel, the command's
    hydra.launcher overrides, the launcher the dry run resolved into `dry_run_dir` (when it saved its files
    there, not in a directory a sweep ran in), else 1."""
    if pilot is None:
        return None
    from metta_ab.records.cost import command_parallelism, estimate_cost, plan_launches
    from metta_ab.records.snapshot import read_launcher

    saved = dry_run_dir is not None and not (dry_run_dir / LEDGER_FILE).exists()
    launcher = read_launcher(dry_run_dir) if saved and dry_run_dir is not None else {}
    parallelism = command_parallelism(args.cost_parallel, args.overrides, launcher, "the dry run's launcher: ")
    launches = plan_launches(experiment, runs)
    gpus = 1.0 if args.gpus_per_job is None else args.gpus_per_job
    return estimate_cost(pilot, launches, parallelism, gpus, maximum=experiment.sequential is not None)


def _cost_json(cost: CostEstimate | None) -> dict[str, Any]:
    from metta_ab.report.cost import cost_dict

    return {"cost": cost_dict(cost) if cost is not None else None}


def _print_cost(cost: CostEstimate | None) -> None:
    if cost is not None:
        from metta_ab.report.cost import cost_lines

        print("\n".join(["", *cost_lines(cost)]))


def _fetch_wandb_group(args: argparse.Namespace) -> Path:
    """The W&B group as an experiment directory, WANDB_DIR/GROUP; never over a sweep's own directory."""
    if not args.group:
        raise ABRunError("--wandb needs --group GROUP (the experiment name the sweep used as W&B group)")
    if args.wandb_dir is None and args.output_dir is not None:  # the spelling before --wandb-dir
        args.wandb_dir, args.output_dir = args.output_dir, None
    experiment_dir = Path(args.wandb_dir or "ab_test_results") / args.group
    if _holds_a_sweep(experiment_dir):
        raise ABRunError(
            f"{experiment_dir} holds the runs of a sweep, which a W&B fetch would overwrite: analyze it directly "
            "(metta-ab analyze DIR), or fetch the group elsewhere with --wandb-dir DIR"
        )
    if importlib.util.find_spec("wandb") is None:
        raise ABRunError(
            "--wandb reads the W&B server through wandb, which is not installed: pip install 'metta-ab[wandb]'"
        )
    from metta_ab.sources.wandb_group import fetch_group, write_experiment_dir

    write_experiment_dir(fetch_group(args.wandb, args.group), args.group, experiment_dir)
    print(f"[ab] {args.wandb} group {args.group} written to {experiment_dir}", file=sys.stderr if args.json else None)
    return experiment_dir


def _holds_a_sweep(directory: Path) -> bool:
    """Whether a sweep ran in `directory` (its ledger.json), rather than a W&B fetch."""
    ledger = directory / LEDGER_FILE
    if not ledger.exists():
        return False
    header = read_json(ledger)  # unreadable: a sweep's all the same
    return not (isinstance(header, dict) and str(header.get("source", "")).startswith("wandb group"))


def _check_output_dir(experiment_dir: Path, output_dir: str | None) -> None:
    """A re-analysis never goes where a sweep's own report is: its directory, or any holding a sweep's ledger."""
    if output_dir is None:
        return
    directory = Path(output_dir)
    if directory.resolve() == experiment_dir.resolve() or (directory / LEDGER_FILE).exists():
        raise ABRunError(
            f"--output-dir {output_dir} holds a sweep's own report, which a re-analysis never replaces; choose "
            "another directory, or leave --output-dir out (EXPERIMENT_DIR/analyses/<what differs>)"
        )


def _cmd_analyze(args: argparse.Namespace) -> int:
    from metta_ab.analysis.results import analyze_directory
    from metta_ab.report.files import report_directory, write_report
    from metta_ab.report.summary import SUMMARY_JSON

    if args.wandb:
        experiment_dir = _fetch_wandb_group(args)
    elif args.experiment_dir:
        experiment_dir = Path(args.experiment_dir)
    else:
        raise ABRunError("give an experiment directory, or --wandb ENTITY/PROJECT --group GROUP")
    _check_output_dir(experiment_dir, args.output_dir)
    figures = FigureSettings(args.plot_format, args.plot_dpi)
    figures.check("--plot-format", "--plot-dpi")
    results = analyze_directory(experiment_dir, _analysis_settings(args))
    directory = Path(args.output_dir) if args.output_dir else report_directory(results)
    text = write_report(results, plots=not args.no_plots, directory=directory, figures=figures)
    written = f"[ab] analysis written to {directory} (the sweep's own report is unchanged)"
    if args.json:
        print(written, file=sys.stderr)
        summary = json.loads((directory / SUMMARY_JSON).read_text(encoding="utf-8"))
        print(json.dumps({"report_directory": str(directory), "summary": summary}, indent=1))
    else:
        print(text, end="")
        print(written)
    if results.no_verdict:
        print(f"metta-ab analyze: no verdict: {results.no_verdict}", file=sys.stderr)
        return exit_status.NO_VERDICT
    return exit_status.VERDICT


def _cmd_status(args: argparse.Namespace) -> int:
    """One snapshot, or (--watch) one per SECONDS until the sweep ends; Ctrl-C ends the watch quietly."""
    from metta_ab.records.snapshot import NotAnExperimentError, take_snapshot
    from metta_ab.report.status import status_dict, status_text

    directory = Path(args.experiment_dir)
    if args.watch is not None and args.watch <= 0:
        raise ABRunError(f"--watch takes the seconds between redraws, a positive number, got {args.watch:g}")
    redraw = args.watch is not None and not args.json and sys.stdout.isatty()
    try:
        while True:
            try:
                snapshot = take_snapshot(directory)
            except NotAnExperimentError as error:
                raise ABRunError(str(error)) from None
            if args.json:
                print(json.dumps(status_dict(snapshot), indent=None if args.watch is not None else 1), flush=True)
            else:
                print(("\033[H\033[2J" if redraw else "") + status_text(snapshot), end="", flush=True)
            if args.watch is None or not snapshot.in_progress:
                return 0
            time.sleep(args.watch)
            if not redraw and not args.json:
                print(flush=True)
    except KeyboardInterrupt:
        return 0


def _check_power_args(args: argparse.Namespace) -> None:
    """One line for each input the power figures have no meaning for."""
    for flag, value in (("--alpha", args.alpha), ("--power", args.target_power)):
        if not 0.0 < value < 1.0:
            raise ABRunError(f"{flag} must be between 0 and 1 (exclusive), got {value:g}")
    if args.correlation is not None and not -1.0 < args.correlation < 1.0:
        raise ABRunError(f"--correlation must be between -1 and 1 (exclusive), got {args.correlation:g}")
    if args.pilot is not None:
        if args.paired or args.independent or args.correlation is not None:
            raise ABRunError(
                "--pilot uses the pilot's own design; --paired, --independent, --correlation go with --effect-size"
            )
        return
    if not (math.isfinite(args.effect_size) and args.effect_size > 0):
        raise ABRunError(f"--effect-size must be a positive number (difference / SD), got {args.effect_size:g}")
    if not (args.paired or args.independent):
        raise ABRunError(
            "name the design: --paired --correlation R (seeds shared by variants, the sweep's "
            "default) or --independent (ab.paired_seeds=false)"
        )
    if args.paired and args.correlation is None:
        raise ABRunError(
            "--paired needs --correlation R, the correlation of a pair's two scores (a pilot's: "
            "metta-ab power --pilot DIR)"
        )
    if args.independent and args.correlation is not None:
        raise ABRunError("--correlation is the pair correlation of --paired; independent runs have no pairs")


def _test_name(paired: bool) -> str:
    if paired:
        return "one-sample t on the pair differences, df = n - 1"
    return "Welch's t with equal n and equal SDs: noncentral t, df = 2n - 2"


def _cmd_power(args: argparse.Namespace) -> int:
    from metta_ab import stats
    from metta_ab.stats.settings import DEFAULTS

    if args.alpha is None:
        args.alpha = DEFAULTS.alpha
    _check_power_args(args)
    goal = f"power {args.target_power:g} at alpha {args.alpha:g} (two-sided)"
    if args.effect_size is not None:
        d = args.effect_size
        if args.paired:
            d_test = stats.paired_effect(d, args.correlation)
            r = args.correlation
            design = f"paired seeds, d_z = d / sqrt(2 (1 - {r:g})) = {d_test:.3g} on the differences"
        else:
            d_test, design = d, "independent runs"
        needed = stats.power_runs_needed(d_test, alpha=args.alpha, power=args.target_power, paired=args.paired)
        print(f"To detect d = {d:g} with {goal}:")
        print(f"  design: {design}; {_test_name(args.paired)}")
        print(f"  {needed} runs per variant")
        for n in (3, 5, 10, 20, 50):
            power = stats.power_at(d_test, n, args.alpha, paired=args.paired)
            print(f"  with {n:>2} runs per variant: power {power:.2f}")
        return 0
    from metta_ab.analysis.results import analyze_directory
    from metta_ab.records.cost import PilotError

    try:
        pilot, no_cost = _read_pilot(args), None  # its durations, read before the analysis
    except PilotError as error:  # a pilot fetched from W&B records no durations: the power alone, then
        if args.cost_parallel is not None or args.gpus_per_job is not None:
            raise
        pilot, no_cost = None, str(error)
    results = analyze_directory(Path(args.pilot), AnalysisSettings(alpha=args.alpha))
    if results.no_verdict or results.analysis is None:
        reason = " ".join((results.no_verdict or "no metric to compute power from").split())
        raise ExperimentError(f"pilot {args.pilot} has no verdict to plan from: {reason}")
    print(f"Pilot {results.experiment.name}, metric {results.metric}, {goal}:")
    needed = {c.treatment: _runs_needed(c, args) for c in results.analysis.comparisons}
    for c in results.analysis.comparisons:
        print(f"  {c.treatment} vs {c.control}: {_pilot_plan(c, needed[c.treatment], args)}")
    most = max((n for n in needed.values() if n is not None), default=None)
    if most is not None and pilot is not None:
        _print_power_cost(args, pilot, results.experiment, most)
    elif most is not None:
        print(f"(no cost estimate: {no_cost})")
    return 0


def _print_power_cost(args: argparse.Namespace, pilot: Snapshot, experiment: ABExperiment, runs: int) -> None:
    """The cost of the runs per variant the power needs (the most any comparison needs), in a fixed design; the
    parallelism: --parallel, else the pilot's launcher, else 1."""
    from metta_ab.records.cost import command_parallelism, estimate_cost, fixed_launch
    from metta_ab.records.snapshot import read_launcher
    from metta_ab.report.cost import cost_lines

    launcher = read_launcher(pilot.experiment_dir)
    parallelism = command_parallelism(args.cost_parallel, (), launcher, "the pilot's launcher: ")
    gpus = 1.0 if args.gpus_per_job is None else args.gpus_per_job
    cost = estimate_cost(pilot, fixed_launch(experiment, runs), parallelism, gpus)
    print(f"\nAt {runs} runs per variant (the most any comparison needs), in a fixed design:")
    print("\n".join(cost_lines(cost)))


def _runs_needed(c: Comparison, args: argparse.Namespace) -> int | None:
    """The runs per variant a pilot comparison's effect needs in the pilot's own design (paired: its d_z); None
    without an effect to detect or a spread to scale it by."""
    from metta_ab import stats

    if not math.isfinite(c.effect_d) or c.effect_d == 0:
        return None
    return stats.power_runs_needed(c.effect_d, alpha=args.alpha, power=args.target_power, paired=c.paired)


def _pilot_plan(c: Comparison, needed: int | None, args: argparse.Namespace) -> str:
    """The runs needed for a pilot comparison's effect, and the effect they are needed for."""
    if c.paired:
        name, unit = "d_z", f"SD of the pair differences; pair correlation {c.pair_correlation:.2f}"
    else:
        name, unit = "Hedges' g", "pooled SD"
    if c.runs_needed_for == "min_effect":
        effect = f"declared min_effect {c.min_effect:g} ({name} = {c.effect_d:.3g}: min_effect / {unit})"
    else:
        effect = f"observed difference {c.difference:+.3g} ({name} = {c.effect_d:.3g}: |difference| / {unit})"
    if not math.isfinite(c.effect_d):
        return f"{effect}; no spread in the scores, so no runs needed can be computed"
    if needed is None:
        return f"{effect}; no effect to detect"
    return f"{effect}; {needed} runs per variant ({_test_name(c.paired)})"


COMMANDS = {"run": _cmd_run, "plan": _cmd_plan, "analyze": _cmd_analyze, "status": _cmd_status, "power": _cmd_power}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = build_parser()
    args = parser.parse_args(argv[: len(argv) - len(overrides) - (1 if "--" in argv else 0)])
    if args.command is None:  # bare `metta-ab`: what it can do, not an error
        parser.print_help()
        return 0
    args.overrides = overrides
    try:
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, in the handler below, not as a traceback at exit
        return status
    except (ExperimentError, ABRunError) as error:
        print(f"metta-ab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `metta-ab analyze DIR | head`: stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error flushing stdout at exit
        return exit_status.OUTPUT_CLOSED


if __name__ == "__main__":
    sys.exit(main())
