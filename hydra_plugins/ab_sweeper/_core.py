"""One A/B sweep: load -> plan -> validate -> launch all jobs at once -> retry failures -> record -> report."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import configure_log
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hydra_plugins.ab_sweeper._app_config import DROP_AB_NODE, ABConfigError, AppConfig
from hydra_plugins.ab_sweeper._experiment_dir import load_once, locate, publish
from hydra_plugins.ab_sweeper._inflight import wait_for_runs_to_end
from hydra_plugins.ab_sweeper._progress import STATUS_LOGGER, ProgressWatcher, pin_status_logging
from hydra_plugins.ab_sweeper._settings import SettingsError, read_settings
from hydra_plugins.ab_sweeper._task import RecordingTask
from metta_ab import exit_status
from metta_ab.design_checks import check_sequential, check_suite
from metta_ab.experiment import ABExperiment, ExperimentError, SequentialSettings
from metta_ab.ledger import (
    COMPLETED,
    EXPERIMENT_CONFIG,
    FAILED,
    LEDGER_FILE,
    ExperimentLock,
    ExperimentLockedError,
    Ledger,
    RunRecord,
    move_attempt_aside,
    read_status,
    write_text_atomic,
)
from metta_ab.loading import save_experiment
from metta_ab.looks import Looks, completed_per_variant, decision_rule, design_for, runs_needed
from metta_ab.overrides import format_value
from metta_ab.plan import (
    InjectionKeys,
    PlannedRun,
    PlanSettings,
    definition_fingerprint,
    fingerprint_changes,
    format_plan,
    plan_experiment,
    seeds_are_paired,
    variant_overrides,
)

log = logging.getLogger(STATUS_LOGGER)

PLAN_TXT, PLAN_JSON, BASE_YAML = "plan.txt", "plan.json", "ab_base.yaml"


def _raise_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM (a scheduler's stop, `kill`) ends the sweep like Ctrl-C does."""
    raise KeyboardInterrupt


def _no_launcher_retries(config: DictConfig) -> list[str]:
    """Ray retries a crashed task itself, into the same job directory, hiding the crash from ab.max_retries:
    retries are the sweeper's job. The master's launcher config and every job's must stay equal (Hydra 1.4
    refuses a job whose `hydra.launcher` differs), so the change is made in both: returns the job override."""
    launcher = config.hydra.launcher
    if "ray" not in str(launcher.get("_target_", "")).lower() or "ray" not in launcher:
        return []
    remote = launcher.ray.get("remote")
    if remote is not None and "max_retries" in remote:
        return []
    with read_write(config.hydra), open_dict(config.hydra):
        if remote is None:
            launcher.ray.remote = {}
        launcher.ray.remote.max_retries = 0
    return ["++hydra.launcher.ray.remote.max_retries=0"]


class ABSweepFailed(ABConfigError):
    """Some runs still failed after the retries; the message names them and their logs."""


class ABSweep:
    def __init__(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        pin_status_logging()
        try:
            self.settings = read_settings(config.ab)
        except SettingsError as error:
            raise ABConfigError(str(error)) from None
        try:
            self.experiment: ABExperiment = load_once(self.settings.experiment)
            if self.settings.sequential.is_set:  # ab.sequential.* over the experiment's .set_sequential(...)
                base = self.experiment.sequential or SequentialSettings()
                sequential = base.over(self.settings.sequential)
                self.experiment = dataclasses.replace(self.experiment, sequential=sequential).validate()
        except ExperimentError as error:
            raise ABConfigError(f"ab.experiment={self.settings.experiment}: {error}") from None
        try:
            where = f"ab.experiment={self.settings.experiment}"
            check_sequential(self.experiment, self.settings.analysis, where)
            check_suite(self.experiment, self.settings.analysis, where)
        except ExperimentError as error:
            raise ABConfigError(str(error)) from None
        self.experiment_dir, self.dir_setting = locate(config, self.settings.output_dir, self.experiment)
        self._check_writable(self.experiment_dir.parent)
        self.job_overrides = [DROP_AB_NODE, f"hydra.sweep.dir={format_value(str(self.experiment_dir))}"]
        self.job_overrides += _no_launcher_retries(config)
        publish(config, self.experiment_dir)
        self.task = RecordingTask(task_function, self.settings.run_timeout)  # what it injects: set in run()
        self.injection_notes: list[str] = []
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context,
            task_function=self.task,
            config=config,
        )
        self.app = AppConfig(hydra_context.config_loader, config)
        self.launcher_errors: list[str] = []  # in full, for when no run could even start
        self.metric_checked = False  # whether a completed run was asked for the declared metric yet

    def _check_writable(self, parent: Path) -> None:
        if parent.exists() and not parent.is_dir():
            raise ABConfigError(f"{self.dir_setting}: {parent} is a file, not a directory")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ABConfigError(
                f"{self.dir_setting}: cannot create {parent} ({error.strerror}); choose a writable directory"
            ) from None
        if not os.access(parent, os.W_OK):
            raise ABConfigError(f"{self.dir_setting}: {parent} is not writable; choose a writable directory")

    # --- the flow ------------------------------------------------------------------------------------

    def run(self, arguments: list[str]) -> list[Any]:
        task_overrides, ab_keys = self._split_arguments(arguments)
        layout = self.app.layout(self.experiment, task_overrides)
        named = {key.removeprefix("ab.inject.") for key in ab_keys if key.startswith("ab.inject.")}
        inject, self.injection_notes = self._injection(named, task_overrides, layout)
        settings = PlanSettings(
            base_seed=self.settings.base_seed,
            paired_seeds=self.settings.paired_seeds,
            inject=inject,
            task_overrides=tuple(task_overrides),
        )
        try:
            runs = plan_experiment(self.experiment, settings, layout)
            fingerprint = definition_fingerprint(self.experiment, settings, layout)
        except ExperimentError as error:
            raise ABConfigError(f"{self.settings.experiment}: {error}") from None
        self.app.validate(self.experiment, layout, runs, inject)
        self.tasks_by_job_dir = {r.job_dir: r.task for r in runs}
        self.task.seed_key = inject.seed
        self.task.wandb_env = inject.wandb_env
        lock_path = self.experiment_dir.parent / f".{self.experiment_dir.name}.lock"
        try:
            with ExperimentLock(lock_path):
                previous = self._previous_ledger(fingerprint)
                if self.settings.dry_run:
                    self._dry_run(runs, layout)
                    return []
                self._write_definition(runs, layout)
                if self.experiment.sequential is None:
                    ledger = self._ledger(runs, previous, fingerprint)
                    returns = self._launch_with_retries(runs, ledger)
                else:
                    looks = self._sequential_looks(runs)
                    ledger = self._ledger(runs, previous, fingerprint)
                    returns = self._launch_by_looks(runs, ledger, looks)
                self._finish(ledger)
                return returns
        except ExperimentLockedError as error:
            raise ABConfigError(f"{self.experiment_dir}: {error}") from None

    def _injection(
        self, explicit: set[str], task_overrides: Sequence[str], layout: Any
    ) -> tuple[InjectionKeys, list[str]]:
        """The injection targets this app can take (see AppConfig.resolve_injection), and notes on them;
        `explicit` are the ones the command line set (`ab.inject.<name>=`)."""
        off = InjectionKeys(**{name: None for name in self.settings.inject.targets()})
        probe = PlanSettings(inject=off, task_overrides=tuple(task_overrides))
        try:
            overrides, _ = variant_overrides(self.experiment, self.experiment.variants[0], probe, layout)
        except ExperimentError as error:
            raise ABConfigError(f"{self.settings.experiment}: {error}") from None
        return self.app.resolve_injection(overrides, self.settings.inject, explicit)

    def _plan_text(self, runs: Sequence[PlannedRun]) -> str:
        """The plan as it will be analysed: the experiment's analysis settings with `ab.analysis.*` on top."""
        analysis = self.experiment.analysis.over(self.settings.analysis)
        return format_plan(dataclasses.replace(self.experiment, analysis=analysis), runs, self.injection_notes)

    def _previous_ledger(self, fingerprint: dict[str, Any]) -> Ledger | None:
        """Resume what this directory holds, refuse a changed definition, or (ab.resume=false) start over."""
        previous = Ledger.load(self.experiment_dir)
        if previous is None:
            return None
        if not self.settings.resume and not self.settings.dry_run:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.experiment_dir.with_name(f"{self.experiment_dir.name}.old-{stamp}")
            self.experiment_dir.rename(aside)
            log.info("[ab] ab.resume=false: the previous experiment directory was moved to %s", aside)
            return None
        changes = fingerprint_changes(previous.header.get("fingerprint", {}), fingerprint)
        if changes:
            raise ABConfigError(
                f"{self.experiment_dir} holds runs of a different definition of {self.experiment.name!r}:\n  "
                + "\n  ".join(changes)
                + "\nRerun the original definition to resume it, or start over with ab.resume=false "
                "(the old directory is moved aside, never deleted)."
            )
        return previous

    def _ledger(self, runs: Sequence[PlannedRun], previous: Ledger | None, fingerprint: dict[str, Any]) -> Ledger:
        """New records for planned runs; runs an earlier sweep completed are kept and not run again."""
        old = previous.runs if previous else {}
        records = [
            old.get(r.job_dir) or RunRecord(r.variant, r.index, r.seed, r.run_name, r.job_dir, task=r.task)
            for r in runs
        ]
        if previous is not None:  # a killed sweeper's ledger lags: the jobs' own status records are the truth
            unfinished = [self.experiment_dir / r.job_dir for r in records if r.status != COMPLETED]
            # Workers of a killed sweeper (joblib, submitit, SLURM) may still be finishing a run: let them.
            wait_for_runs_to_end(unfinished, self.settings.progress_interval, self.settings.settle_timeout)
            for record in records:
                status = read_status(self.experiment_dir / record.job_dir)
                if record.status != COMPLETED and status and status.get("status") == COMPLETED:
                    record.absorb_status(status)
        planned = {run.job_dir for run in runs}
        extra = [r for job_dir, r in old.items() if job_dir not in planned]
        ledger = Ledger.create(
            self.experiment_dir,
            records + extra,
            experiment=self.experiment.name,
            fingerprint=fingerprint,
            injection_notes=self.injection_notes,
        )
        done = [r for r in records if r.status == COMPLETED]
        if done:
            of = "" if self.experiment.sequential else f" of {len(runs)}"  # a sequential one may need fewer
            log.info("[ab] resuming: %d%s runs already completed; they are not run again", len(done), of)
        ledger.save()
        return ledger

    def _split_arguments(self, arguments: Sequence[str]) -> tuple[list[str], set[str]]:
        """The command line's task overrides, which go to every job, and the keys of the sweeper's own
        `ab.*` settings it set, which go to no job."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        task_overrides, ab_keys = [], set()
        for override in parser.parse_overrides(list(arguments)):
            if override.is_sweep_override():
                raise ABConfigError(
                    f"'{override.input_line}' is a sweep; with the ab sweeper, define what varies as variants "
                    "in the experiment file (command-line overrides apply to every run)"
                )
            key = override.get_key_element().lstrip("+~")
            if key.split(".")[0] == "ab":
                ab_keys.add(key)
            else:
                task_overrides.append(override.input_line)
        return task_overrides, ab_keys

    def _dry_run(self, runs: Sequence[PlannedRun], layout: Any) -> None:
        """Print the plan; save it only into a directory no sweep ran in, whose files a dry run must not touch."""
        print(self._plan_text(runs), end="")
        if (self.experiment_dir / LEDGER_FILE).exists():
            print(
                f"Dry run: nothing launched, nothing saved: {self.experiment_dir} holds a sweep's runs, which a "
                "dry run leaves as they are"
            )
            return
        self._write_definition(runs, layout)
        print(f"Dry run: nothing launched. Plan saved in {self.experiment_dir / PLAN_TXT}")

    def _write_definition(self, runs: Sequence[PlannedRun], layout: Any) -> None:
        self.experiment_dir.mkdir(parents=True, exist_ok=True)
        save_experiment(self.experiment, self.experiment_dir / EXPERIMENT_CONFIG)
        write_text_atomic(self.experiment_dir / PLAN_TXT, self._plan_text(runs))
        write_text_atomic(self.experiment_dir / PLAN_JSON, json.dumps([r.to_dict() for r in runs], indent=1))
        base_yaml = self.app.base_node_yaml(layout)
        if base_yaml:
            write_text_atomic(self.experiment_dir / BASE_YAML, base_yaml)
        OmegaConf.save(self.config, self.experiment_dir / "multirun.yaml")

    def _sequential_looks(self, runs: Sequence[PlannedRun]) -> Looks:
        """The looks decided so far; refused (before anything launches) when they were decided by other rules."""
        looks = Looks.load(self.experiment_dir)
        settings = self.experiment.analysis.over(self.settings.analysis).resolved()
        paired = seeds_are_paired((r.index, r.seed) for r in runs)
        rule = decision_rule(self.experiment, settings, paired=paired)
        if looks.rule is not None and looks.rule != rule:
            changed = [f"{k} {looks.rule.get(k)!r} -> {v!r}" for k, v in rule.items() if looks.rule.get(k) != v]
            raise ABConfigError(
                f"{looks.path}: the {len(looks.history())} look(s) decided so far used other settings ("
                + "; ".join(changed)
                + "). Rerun with the original settings to resume, or start over with ab.resume=false."
            )
        looks.rule = rule
        looks.save()
        return looks

    def _launch_by_looks(self, runs: Sequence[PlannedRun], ledger: Ledger, looks: Looks) -> list[Any]:
        """A sequential experiment: per look, ONE launch (and its retries) of the next runs of the variants still
        open, then the look's decision, saved before the next look starts, so a rerun continues after the last
        decision saved and never decides a look twice. A look with a failed run is not decided."""
        from metta_ab.analysis import analyze_runs  # scipy: imported only once there are results
        from metta_ab.stats.sequential import decide_look

        rule = looks.rule or {}
        design = design_for(self.experiment, rule["alpha"])
        names = [v.name for v in self.experiment.variants]
        history = looks.history()
        returns: list[Any] = []
        while not (history and history[-1].stop):
            look, needed = len(history) + 1, runs_needed(design, history, names)
            batch = [r for r in runs if r.index <= needed[r.variant]]
            open_variants = [v for v in names if needed[v] == design.runs_at_look[look - 1]]
            log.info(
                "[ab] look %d of %d: runs %d-%d of %s",
                look, design.looks, design.runs_at_look[look - 1] - design.runs_per_look + 1,
                design.runs_at_look[look - 1], ", ".join(open_variants),
            )  # fmt: skip
            returns += self._launch_with_retries(batch, ledger, progress_total=len(batch))
            failed = [r.job_dir for r in batch if ledger.runs[r.job_dir].status != COMPLETED]
            if failed:
                log.warning("[ab] look %d is not decided: %d run(s) failed; rerun to retry them", look, len(failed))
                break
            results = analyze_runs(
                self.experiment, list(ledger.runs.values()), self.experiment_dir, self.settings.analysis
            )
            if results.no_verdict:  # the summary says why, and the sweep exits with NO_VERDICT
                log.warning("[ab] look %d cannot be decided: %s", look, results.no_verdict)
                break
            decision = decide_look(
                results.scores, design, look, control=results.analysis.control, paired=rule["paired"],
                direction=rule["direction"], min_effect=rule["min_effect"], history=history,
            )  # fmt: skip
            history.append(decision)
            looks.record_decision(decision, completed_per_variant(ledger.runs.values()))
            looks.save()
            verdicts = ", ".join(f"{c.treatment} {c.decision}" for c in decision.comparisons)
            log.info(
                "[ab] look %d decided: %s%s", look, verdicts, f"; stop ({decision.reason})" if decision.stop else ""
            )
        return returns

    def _launch_with_retries(
        self, runs: Sequence[PlannedRun], ledger: Ledger, progress_total: int | None = None
    ) -> list[Any]:
        """Launch every pending run in ONE launch() call per round, so parallel launchers stay busy.

        Each run may use `max_retries + 1` attempts in this sweep; a run that never started (the launcher
        gave up after another job crashed) has used none and is simply launched again. SIGINT and SIGTERM
        stop the sweep cleanly: the ledger and the summary of what completed are written. The progress line
        counts `progress_total` runs (a sequential look: the runs up to it), else every run of the ledger.
        """
        total = progress_total or len(ledger.runs)
        done = [r for r in ledger.runs.values() if r.status == COMPLETED]
        if done and not self.metric_checked:  # resuming: ask a run completed before
            self._check_metric(self.experiment_dir / done[0].job_dir, {"return_value": done[0].return_value})
        budget = {r.job_dir: ledger.runs[r.job_dir].attempts + self.settings.max_retries + 1 for r in runs}
        returns: list[Any] = []
        job_index = 0
        previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            while True:
                pending = [
                    r
                    for r in runs
                    if ledger.runs[r.job_dir].status != COMPLETED
                    and ledger.runs[r.job_dir].attempts < budget[r.job_dir]
                ]
                if not pending:
                    break
                if job_index:
                    log.info("[ab] relaunching %d run(s) that failed or never ran", len(pending))
                statuses = self._launch_round(pending, ledger, job_index, returns, total)
                job_index += len(pending)
                if all(status is None for status in statuses.values()):
                    break  # the launcher started nothing: relaunching would loop forever
        except KeyboardInterrupt:
            self._finish(ledger, interrupted=True)
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
        return returns

    def _launch_round(
        self, pending: Sequence[PlannedRun], ledger: Ledger, job_index: int, returns: list[Any], total: int
    ) -> dict[str, dict[str, Any] | None]:
        for run in pending:
            move_attempt_aside(self.experiment_dir / run.job_dir)
        launch_error, interrupted = None, False
        job_dirs = [self.experiment_dir / r.job_dir for r in pending]
        done_before = len(ledger.by_status(COMPLETED))
        watcher = ProgressWatcher(
            job_dirs,
            total=total,
            done_before=done_before,
            interval=self.settings.progress_interval,
            on_completed=None if self.metric_checked else self._check_metric,
        )
        try:
            with watcher:
                batch = [[*r.overrides, *self.job_overrides, *self._job_location(r)] for r in pending]
                try:
                    returns.append(self.launcher.launch(batch, initial_job_idx=job_index))
                finally:  # jobs run in this process (basic launcher) leave their job logging configured
                    configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        except KeyboardInterrupt:
            interrupted = True
        except Exception as error:  # a hard crash loses the batch's returns; the status files remain
            text = str(error).strip()
            launch_error = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
            self.launcher_errors.append(f"{type(error).__name__}: {text}")
            log.warning("[ab] the launcher raised %s; waiting for the round's other jobs to end", launch_error)
            with watcher.restarted():
                wait_for_runs_to_end(job_dirs, self.settings.progress_interval, self.settings.settle_timeout)
        statuses = {r.job_dir: read_status(self.experiment_dir / r.job_dir) for r in pending}
        for job_dir, status in statuses.items():
            ledger.runs[job_dir].absorb_status(status, launch_error=launch_error, interrupted=interrupted)
        ledger.save()
        if interrupted:
            raise KeyboardInterrupt
        return statuses

    def _check_metric(self, job_dir: Path, record: dict[str, Any]) -> None:
        """Ask the first run that completes for the declared metric, so that a typo costs one run, not the
        budget: the sweep goes on (the fix is a rerun that analyzes the same runs), but says so at once."""
        if self.metric_checked:
            return
        self.metric_checked = True
        from metta_ab.metric_check import missing_metric  # scipy: imported only once there are results

        relative = job_dir.relative_to(self.experiment_dir).as_posix()
        task = self.tasks_by_job_dir.get(relative)
        settings = self.experiment.analysis.over(self.settings.analysis)
        problem = missing_metric(self.experiment, settings, job_dir, record.get("return_value"), task)
        if problem:
            log.warning("[ab] %s Ctrl-C stops the sweep now; the runs that completed are kept.", problem)

    def _job_location(self, run: PlannedRun) -> list[str]:
        """The job's directory, and W&B's run directory inside it: a bare `wandb.init()` otherwise writes to
        the first job's directory of a reused worker process (wandb keeps its directory per process)."""
        overrides = [f"hydra.sweep.subdir={run.job_dir}"]
        if self.task.wandb_env and "WANDB_DIR" not in os.environ:
            job_dir = format_value(str(self.experiment_dir / run.job_dir))
            overrides.append(f"++hydra.job.env_set.WANDB_DIR={job_dir}")
        return overrides

    def _finish(self, ledger: Ledger, interrupted: bool = False) -> None:
        records = list(ledger.runs.values())
        from metta_ab.analysis import analyze_runs  # scipy: imported only once there are results
        from metta_ab.report import write_report

        if self.experiment.sequential is None:  # a sequential experiment's looks are recorded as decided
            looks = Looks.load(self.experiment_dir)
            looks.record_analysis(self.experiment.runs_per_variant, completed_per_variant(records))
            looks.save()

        try:
            results = analyze_runs(self.experiment, records, self.experiment_dir, self.settings.analysis)
            print(write_report(results, plots=self.settings.plots), end="")
        except ExperimentError as error:
            raise ABConfigError(f"the analysis settings are wrong, the runs are kept: {error}") from None
        failed = [r for r in records if r.status == FAILED]
        print(f"[ab] results in {self.experiment_dir}")
        if interrupted:
            done = len([r for r in records if r.status == COMPLETED])
            sys.stderr.write(
                f"[ab] interrupted: {done} of {len(records)} runs completed. Run the same command again to "
                "resume; completed runs are not run again.\n"
            )
            sys.exit(exit_status.INTERRUPTED)
        if failed:
            raise ABSweepFailed(self._failure_message(failed, len(records)))
        if results.no_verdict:
            sys.stderr.write(f"[ab] no verdict: {results.no_verdict}\n")
            sys.exit(exit_status.NO_VERDICT)

    def _failure_message(self, failed: Sequence[RunRecord], total: int) -> str:
        """Each failed run with its error and log; when runs never started, what the launcher said."""
        lines = []
        for record in failed[:20]:
            job_dir = self.experiment_dir / record.job_dir
            status = read_status(job_dir)
            if status is None:
                where = "no job log: it never started"
            else:
                logs = [f for f in status.get("log_files") or [] if Path(f).is_file()]
                where = f"log: {logs[0]}" if logs else f"no job log file (hydra/job_logging wrote none); see {job_dir}"
            lines.append(f"  {record.job_dir}: {record.error} ({where})")
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more (see summary.txt)")
        message = f"[ab] {len(failed)} of {total} runs failed (up to {self.settings.max_retries} retries each):"
        if self.launcher_errors and any(r.attempts == 0 for r in failed):
            last = self.launcher_errors[-1].splitlines()
            shown = "\n".join(f"    {line}" for line in last[-40:])
            message += f"\n  The launcher failed before these runs could start. It said:\n{shown}"
            submitit_logs = self.experiment_dir / ".submitit"
            if submitit_logs.is_dir():
                message += f"\n  The launcher's own logs are in {submitit_logs}"
        return message + "\n" + "\n".join(lines)
