"""The `metta-ab` command: run, plan, analyze, power.

`run` and `plan --app` go through the Hydra app with the ab sweeper (one engine); `plan` without an
app, `analyze` and `power` work on files alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from metta_ab import exit_status
from metta_ab.experiment import AnalysisSettings, ExperimentError
from metta_ab.ledger import LEDGER_FILE, read_json
from metta_ab.runner import (
    ABRunError,
    SweepOptions,
    resolve_app,
    run_sweep_process,
    summary_verdict_lines,
    sweep_command,
)

EPILOG_RUN = """examples:
  metta-ab run my_experiment.py                      # tools/train.py, one run after another
  metta-ab run my_experiment.py --parallel --max-parallel 2
  metta-ab run my_experiment.py --app examples/train.py -- trainer.total_timesteps=1000
  metta-ab run my_experiment.py -- hydra/launcher=submitit_slurm hydra.launcher.partition=gpu
"""


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


def _analysis_settings(args: argparse.Namespace) -> AnalysisSettings:
    names = vars(AnalysisSettings())
    return AnalysisSettings(**{k: getattr(args, k, None) for k in names})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metta-ab",
        description="A/B testing for training runs, through your Hydra app with the ab sweeper.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    run.add_argument("--parallel", action="store_true", help="run jobs in parallel with Hydra's joblib launcher")
    run.add_argument("--max-parallel", type=int, default=4, help="parallel jobs with --parallel (default 4)")
    run.add_argument("--no-retry", action="store_true", help="do not retry failed runs")
    run.add_argument("--max-retries", type=int, default=3, help="retries of a failed run (default 3)")
    run.add_argument("-v", "--verbose", action="store_true", help="print the Hydra command that is run")

    plan = commands.add_parser(
        "plan",
        help="show the jobs an experiment would launch",
        usage="metta-ab plan [--app APP] EXPERIMENT [-- HYDRA_OVERRIDES ...]",
    )
    plan.add_argument("experiment", help="experiment file")
    plan.add_argument("--app", help="validate the plan against this Hydra app's config")

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
    analyze.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    _add_analysis_flags(analyze)

    power = commands.add_parser("power", help="how many runs per variant are needed")
    source = power.add_mutually_exclusive_group(required=True)
    source.add_argument("--effect-size", type=float, help="standardized effect size d (difference / SD)")
    source.add_argument("--pilot", help="an experiment directory: use its observed effects")
    power.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    power.add_argument("--power", type=float, default=0.8, dest="target_power", help="power (default 0.8)")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from metta_ab.loading import load_experiment

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
    from metta_ab.loading import load_experiment
    from metta_ab.plan import PlanSettings, format_plan, plan_experiment

    experiment = load_experiment(args.experiment)
    if args.app is None:
        print(format_plan(experiment, plan_experiment(experiment, PlanSettings())), end="")
        if experiment.base_defaults:
            print("(base defaults are resolved against the app's config groups when run; pass --app to check)")
        return 0
    args.dry_run, args.output_dir, args.parallel, args.max_parallel = True, "ab_test_results", False, 1
    args.no_retry, args.max_retries, args.verbose = True, 0, False
    return _cmd_run(args)


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
    from metta_ab.wandb_api import fetch_group, write_experiment_dir

    write_experiment_dir(fetch_group(args.wandb, args.group), args.group, experiment_dir)
    print(f"[ab] {args.wandb} group {args.group} written to {experiment_dir}")
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
    from metta_ab.analysis import analyze_directory
    from metta_ab.report import report_directory, write_report

    if args.wandb:
        experiment_dir = _fetch_wandb_group(args)
    elif args.experiment_dir:
        experiment_dir = Path(args.experiment_dir)
    else:
        raise ABRunError("give an experiment directory, or --wandb ENTITY/PROJECT --group GROUP")
    _check_output_dir(experiment_dir, args.output_dir)
    results = analyze_directory(experiment_dir, _analysis_settings(args))
    directory = Path(args.output_dir) if args.output_dir else report_directory(results)
    print(write_report(results, plots=not args.no_plots, directory=directory), end="")
    print(f"[ab] analysis written to {directory} (the sweep's own report is unchanged)")
    if results.no_verdict:
        print(f"metta-ab analyze: no verdict: {results.no_verdict}", file=sys.stderr)
        return exit_status.NO_VERDICT
    return exit_status.VERDICT


def _cmd_power(args: argparse.Namespace) -> int:
    from metta_ab import stats

    if args.effect_size is not None:
        d = abs(args.effect_size)
        needed = stats.power_runs_needed(d, alpha=args.alpha, power=args.target_power)
        print(f"To detect d = {d:g} with power {args.target_power:g} at alpha {args.alpha:g} (two-sided Welch):")
        print(f"  {needed} runs per variant")
        for n in (3, 5, 10, 20, 50):
            print(f"  with {n:>2} runs per variant: power {stats.power_at(d, n, args.alpha):.2f}")
        return 0
    from metta_ab.analysis import analyze_directory

    results = analyze_directory(Path(args.pilot), AnalysisSettings(alpha=args.alpha))
    if results.analysis is None:
        raise ExperimentError(f"{args.pilot}: no metric to compute power from")
    print(f"Pilot {results.experiment.name}, metric {results.metric}:")
    for c in results.analysis.comparisons:
        d = abs(c.effect_d)
        needed = stats.power_runs_needed(d, alpha=args.alpha, power=args.target_power) if d > 0 else None
        print(
            f"  {c.treatment} vs {c.control}: observed difference {c.difference:+.3g} (d = {d:.2f}); "
            + (f"{needed} runs per variant for power {args.target_power:g}" if needed else "no effect observed")
        )
    return 0


COMMANDS = {"run": _cmd_run, "plan": _cmd_plan, "analyze": _cmd_analyze, "power": _cmd_power}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = build_parser().parse_args(argv[: len(argv) - len(overrides) - (1 if "--" in argv else 0)])
    args.overrides = overrides
    try:
        return COMMANDS[args.command](args)
    except (ExperimentError, ABRunError) as error:
        print(f"metta-ab {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
