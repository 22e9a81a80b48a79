"""One A/B sweep: load -> plan -> validate -> launch all jobs at once -> retry failures -> record -> report."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import configure_log
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hydra_plugins.ab_sweeper._app_config import DROP_AB_NODE, ABConfigError, AppConfig
from hydra_plugins.ab_sweeper._config_keys import override_key
from hydra_plugins.ab_sweeper._experiment_dir import load_once, locate, publish
from hydra_plugins.ab_sweeper._inflight import wait_for_runs_to_end
from hydra_plugins.ab_sweeper._job_path_search import JobPathSearch
from hydra_plugins.ab_sweeper._progress import STATUS_LOGGER, ProgressWatcher, pin_status_logging
from hydra_plugins.ab_sweeper._settings import SettingsError, figure_settings, read_settings
from hydra_plugins.ab_sweeper._task import RecordingTask, no_retry_helps
from hydra_plugins.ab_sweeper.ab_sweeper import exit_after_callbacks
from metta_ab import exit_status
from metta_ab.atomic_files import write_text_atomic
from metta_ab.definition.design_checks import check_sequential, check_suite
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment, SequentialSettings, normalize_key
from metta_ab.definition.loading import save_experiment
from metta_ab.definition.overrides import format_value
from metta_ab.plan import (
    SEED_MODULUS,
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
from metta_ab.records.ledger import (
    COMPLETED,
    EXPERIMENT_CONFIG,
    FAILED,
    LEDGER_FILE,
    RUNNING,
    STATUS_FILE,
    ExperimentLock,
    ExperimentLockedError,
    Ledger,
    RecordError,
    RunRecord,
    move_attempt_aside,
    ran_in_sweeper_process,
    read_status,
    recorded_base_seed,
)
from metta_ab.records.looks import Looks, completed_per_variant, decision_rule, design_for, runs_needed

if TYPE_CHECKING:
    from metta_ab.analysis.results import ExperimentResults  # scipy: imported only once there are results

log = logging.getLogger(STATUS_LOGGER)

PLAN_TXT, PLAN_JSON, BASE_YAML = "plan.txt", "plan.json", "ab_base.yaml"
NOTHING_LAUNCHED = (
    "before any run was launched. Run the same command again to start (or resume) the sweep; completed runs are not "
    "run again."
)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> Any:
    """SIGTERM (a scheduler's stop, `kill`) ends the sweep as Ctrl-C does, at any phase, until the handler
    returned is restored. An inherited SIG_IGN is kept: whoever started the sweep asked for it (SIGINT is left
    as inherited too, ignored for a background job)."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    return previous


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:  # None: a handler not set from Python, which cannot be put back
        signal.signal(signal.SIGTERM, previous)


def _exit_interrupted(when: str) -> NoReturn:
    sys.stderr.write(f"[ab] interrupted {when}\n")
    sys.exit(exit_status.INTERRUPTED)


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """A phase of the sweep that Ctrl-C or SIGTERM ends with status 130 and one line (a phase that has
    written something says what, and exits, itself)."""
    previous = _stop_on_sigterm()
    try:
        yield
    except KeyboardInterrupt:
        _exit_interrupted(NOTHING_LAUNCHED)
    finally:
        _restore_sigterm(previous)


def _record_of(run: PlannedRun) -> RunRecord:
    return RunRecord(run.variant, run.index, run.seed, run.run_name, run.job_dir, task=run.task)


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


def _ended_its_sweeper(record: RunRecord, status: dict[str, Any] | None) -> bool:
    """Whether `status`, left `running` by an earlier sweep, is an attempt that ran in that sweeper's process
    and ended with it (os._exit or a crash under the basic launcher), not yet counted in `record`."""
    return (
        status is not None
        and status.get("status") == RUNNING
        and ran_in_sweeper_process(status)
        and int(status.get("attempt", 1)) > record.attempts
    )


class ABSweep:
    def __init__(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        with stopping_on_signals():
            self._prepare(hydra_context, task_function, config)

    def _prepare(self, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        pin_status_logging()
        try:
            self.settings = read_settings(config.ab)
        except SettingsError as error:
            raise ABConfigError(str(error)) from None
        try:
            self.experiment: ABExperiment = load_once(self.settings.experiment)
        except ExperimentError as error:
            raise ABConfigError(f"ab.experiment={self.settings.experiment}: {error}") from None
        if self.settings.sequential.is_set:  # ab.sequential.* over the experiment's .set_sequential(...)
            sequential = (self.experiment.sequential or SequentialSettings()).over(self.settings.sequential)
            try:
                sequential.validate("ab.sequential over the experiment's sequential design")
            except ExperimentError as error:
                raise ABConfigError(str(error)) from None
            self.experiment = self.experiment.with_changes(sequential=sequential).validate()
        try:
            where = f"ab.experiment={self.settings.experiment}"
            self.experiment.analysis.over(self.settings.analysis).validate(
                "ab.analysis over the experiment's metric settings", [v.name for v in self.experiment.variants]
            )
            check_sequential(self.experiment, self.settings.analysis, where)
            check_suite(self.experiment, self.settings.analysis, where)
        except ExperimentError as error:
            raise ABConfigError(str(error)) from None
        self.experiment_dir, self.dir_setting = locate(config, self.settings.output_dir, self.experiment)
        self._create_parent()
        self._check_writable(self.experiment_dir, "the experiment directory")
        self.job_overrides = [DROP_AB_NODE, f"hydra.sweep.dir={format_value(str(self.experiment_dir))}"]
        self.job_overrides += _no_launcher_retries(config)
        publish(config, self.experiment_dir)
        self.task = RecordingTask(task_function, self.settings.run_timeout)  # what it injects: set in run()
        self.injection_notes: list[str] = []
        self.value_warnings: list[str] = []  # values of another type than the app's default (set in run())
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context,
            task_function=self.task,
            config=config,
        )
        set_run_timeout = getattr(self.launcher, "set_run_timeout", None)  # ab_local ends a stuck run's processes
        if callable(set_run_timeout):
            set_run_timeout(self.settings.run_timeout)
        self.app = AppConfig(hydra_context.config_loader, config)
        self.launcher_errors: list[str] = []  # in full, for when no run could even start
        self.metric_checked = False  # whether a completed run was asked for the declared metric yet

    def _create_parent(self) -> None:
        parent = self.experiment_dir.parent
        self._check_writable(parent, "")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ABConfigError(
                f"{self.dir_setting}: cannot create {parent} ({error.strerror}); choose a writable directory"
            ) from None

    def _check_writable(self, directory: Path, what: str) -> None:
        """One line naming `directory` and the fix, before the sweep writes anything there."""
        where = f"{self.dir_setting}: {what + ' ' if what else ''}{directory}"
        if directory.exists() and not directory.is_dir():
            raise ABConfigError(f"{where} is a file, not a directory; move it away, or choose another directory")
        if directory.is_dir() and not os.access(directory, os.W_OK | os.X_OK):
            raise ABConfigError(
                f"{where} is not writable; make it writable (chmod -R u+w {directory}), or choose another directory"
            )

    # --- the flow ------------------------------------------------------------------------------------

    def run(self, arguments: list[str]) -> list[Any]:
        """The sweep, and one line for whatever it stops at: Ctrl-C or SIGTERM (status 130), a record file that
        cannot be trusted."""
        with stopping_on_signals():
            try:
                return self._run(arguments)
            except RecordError as error:
                raise ABConfigError(str(error)) from None

    def _run(self, arguments: list[str]) -> list[Any]:
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
        with self._mistakes_in_experiment():
            runs = plan_experiment(self.experiment, settings, layout)
            if "ab.base_seed" not in ab_keys:  # a directory started with another default keeps its seeds
                settings, runs = self._recorded_seeding(settings, runs, layout)
            fingerprint = definition_fingerprint(self.experiment, settings, layout)
        paths = JobPathSearch(self.settings.inject.paths, named="paths" in named, leave=self._set_keys(task_overrides))
        self.value_warnings = self.app.validate(self.experiment, layout, runs, inject, each_config=paths.see)
        for warning in self.value_warnings:
            log.warning("[ab] WARNING: %s", warning)
        job_paths, path_notes = paths.found()
        self.injection_notes += path_notes
        if job_paths:  # the runs as validated, with the app's path keys moved into each job's directory
            settings = dataclasses.replace(settings, job_paths=job_paths)
            with self._mistakes_in_experiment():
                runs = plan_experiment(self.experiment, settings, layout)
        self.tasks_by_job_dir = {r.job_dir: r.task for r in runs}
        self.task.seed_key = inject.seed
        self.task.wandb_env = inject.wandb_env
        for run in runs:
            self._check_writable(self.experiment_dir / run.job_dir, "job directory")
        lock = ExperimentLock(self.experiment_dir)
        try:
            with lock:
                previous = self._previous_ledger(runs, fingerprint)
                looks = Looks.load(self.experiment_dir)  # refused now if unreadable, not after the runs
                if self.settings.dry_run:
                    self._dry_run(runs, layout)
                    return []
                self._write_definition(runs, layout)
                if self.experiment.sequential is not None:
                    self._check_looks_rule(runs, looks)
                ledger = self._ledger(runs, previous, fingerprint)
                try:
                    if self.experiment.sequential is None:
                        returns = self._launch_with_retries(runs, ledger)
                    else:
                        returns = self._launch_by_looks(runs, ledger, looks)
                except KeyboardInterrupt:
                    self._finish(ledger, looks, interrupted=True)
                self._finish(ledger, looks)
                return returns
        except ExperimentLockedError as error:
            resolved = "" if lock.resolved == self.experiment_dir else f" (that is {lock.resolved})"
            raise ABConfigError(f"{self.experiment_dir}{resolved}: {error}") from None

    def _injection(
        self, explicit: set[str], task_overrides: Sequence[str], layout: Any
    ) -> tuple[InjectionKeys, list[str]]:
        """The injection targets this app can take (see AppConfig.resolve_injection) and notes on them;
        `explicit` are the ones the command line set (`ab.inject.<name>=`)."""
        off = InjectionKeys(**{name: None for name in self.settings.inject.targets()})
        probe = PlanSettings(inject=off, task_overrides=tuple(task_overrides))
        with self._mistakes_in_experiment():
            overrides, _ = variant_overrides(self.experiment, self.experiment.variants[0], probe, layout)
        return self.app.resolve_injection(overrides, self.settings.inject, explicit)

    def _set_keys(self, task_overrides: Sequence[str]) -> set[str]:
        """The keys the command line or the experiment sets: their values stay as set (no path is moved)."""
        experiment = self.experiment
        return {override_key(o) for o in task_overrides} | {
            normalize_key(key)[0]
            for values in (experiment.base_values, *(a.overrides for a in (*experiment.variants, *experiment.tasks)))
            for key in values
        }

    @contextmanager
    def _mistakes_in_experiment(self) -> Iterator[None]:
        """A mistake in the experiment that planning finds, as one line naming the file."""
        try:
            yield
        except ExperimentError as error:
            raise ABConfigError(f"{self.settings.experiment}: {error}") from None

    def _recorded_seeding(
        self, settings: PlanSettings, runs: list[PlannedRun], layout: Any
    ) -> tuple[PlanSettings, list[PlannedRun]]:
        """The plan with the base seed this experiment directory was started with, when the command line does
        not set one: an experiment begun when the default was 0 keeps seed 0, and its completed runs count.
        Read from the ledger's definition, else (ledger lost) from a job's own record of its seed."""
        recorded = None
        if self.settings.resume:
            recorded = recorded_base_seed(self.experiment_dir)
            if recorded is None:
                recorded = self._base_seed_of_job_records(runs, settings.base_seed)
        if recorded is None or recorded == settings.base_seed:
            return settings, runs
        log.info("[ab] %s was started with ab.base_seed=%d: its runs keep their seeds", self.experiment_dir, recorded)
        settings = dataclasses.replace(settings, base_seed=recorded)
        return settings, plan_experiment(self.experiment, settings, layout)

    def _base_seed_of_job_records(self, runs: Sequence[PlannedRun], base_seed: int) -> int | None:
        """The base seed a job's record implies (seeds move with the base seed, one for one)."""
        for run in runs:
            seed = (read_status(self.experiment_dir / run.job_dir) or {}).get("seed")
            if isinstance(seed, int) and run.seed is not None:
                return (base_seed + seed - run.seed) % SEED_MODULUS
        return None

    def _plan_text(self, runs: Sequence[PlannedRun]) -> str:
        """The plan as it will be analysed: the experiment's analysis settings with `ab.analysis.*` on top."""
        analysis = self.experiment.analysis.over(self.settings.analysis)
        experiment = self.experiment.with_changes(analysis=analysis)
        return format_plan(experiment, runs, self.injection_notes, self.value_warnings)

    def _previous_ledger(self, runs: Sequence[PlannedRun], fingerprint: dict[str, Any]) -> Ledger | None:
        """Resume what this directory holds, refuse a changed definition, or (ab.resume=false) start over."""
        holds_files = self.experiment_dir.is_dir() and any(self.experiment_dir.iterdir())
        if holds_files and not self.settings.resume and not self.settings.dry_run:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.experiment_dir.with_name(f"{self.experiment_dir.name}.old-{stamp}")
            self.experiment_dir.rename(aside)
            log.info("[ab] ab.resume=false: the previous experiment directory was moved to %s", aside)
            return None
        try:
            previous = Ledger.load(self.experiment_dir)
        except RecordError as error:
            return self._rebuilt_ledger(runs, f"was unreadable ({error.problem})")
        if previous is None:
            return self._rebuilt_ledger(runs, "was missing") if holds_files else None
        changes = fingerprint_changes(previous.header.get("fingerprint", {}), fingerprint)
        if changes:
            raise ABConfigError(
                f"{self.experiment_dir} holds runs of a different definition of {self.experiment.name!r}:\n  "
                + "\n  ".join(changes)
                + "\nRerun the original definition to resume it, or start over with ab.resume=false "
                "(the old directory is moved aside, never deleted)."
            )
        return previous

    def _rebuilt_ledger(self, runs: Sequence[PlannedRun], what: str) -> Ledger | None:
        """The ledger rebuilt from the job directories' own records, so that losing it runs nothing again (None
        when no job left a record). Its definition fingerprint is lost with it: a job that ran with another seed
        than the plan's shows the definition changed."""
        records = [_record_of(run) for run in runs]
        found = 0
        for record in records:
            job_dir = self.experiment_dir / record.job_dir
            found += record.absorb_job_records(job_dir)
            seed = (read_status(job_dir) or {}).get("seed")
            if seed is not None and record.seed is not None and seed != record.seed:
                raise ABConfigError(
                    f"{job_dir / STATUS_FILE}: the run used seed {seed}, this definition gives it seed {record.seed} "
                    f"({LEDGER_FILE}, which records the definition, is lost). Rerun the original definition to "
                    "resume it, or start over with ab.resume=false (the old directory is moved aside, never deleted)."
                )
        if not found and what == "was missing":
            return None
        log.info("[ab] %s %s; rebuilt from the %d job records", LEDGER_FILE, what, found)
        return Ledger.create(self.experiment_dir, records) if found else None

    def _ledger(self, runs: Sequence[PlannedRun], previous: Ledger | None, fingerprint: dict[str, Any]) -> Ledger:
        """New records for planned runs; runs an earlier sweep completed are kept and not run again."""
        old = previous.runs if previous else {}
        records = [old.get(r.job_dir) or _record_of(r) for r in runs]
        if previous is not None:  # a killed sweeper's ledger lags: the jobs' own status records are the truth
            unfinished = [self.experiment_dir / r.job_dir for r in records if r.status != COMPLETED]
            # Workers of a killed sweeper (joblib, submitit, SLURM) may still be finishing a run: let them.
            wait_for_runs_to_end(unfinished, self.settings.progress_interval, self.settings.settle_timeout)
            for record in records:
                status = read_status(self.experiment_dir / record.job_dir)
                if record.status != COMPLETED and status and status.get("status") == COMPLETED:
                    record.absorb_status(status)
                elif _ended_its_sweeper(record, status):
                    record.absorb_status(status, sweep_ended=True)
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

    def _check_looks_rule(self, runs: Sequence[PlannedRun], looks: Looks) -> None:
        """Refuse (before anything launches) looks decided so far by other rules; record the rule."""
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

    def _launch_by_looks(self, runs: Sequence[PlannedRun], ledger: Ledger, looks: Looks) -> list[Any]:
        """A sequential experiment: per look, ONE launch (and its retries) of the next runs of the variants still
        open, then the look's decision, saved before the next look starts, so a rerun continues after the last
        decision saved and never decides a look twice. A look with a failed run is not decided."""
        from metta_ab.analysis.results import analyze_runs  # scipy: imported only once there are results
        from metta_ab.analysis.stats_settings import stats_settings
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
            scores, control_scores = results.look_scores()
            settings = stats_settings(results.settings, paired=rule["paired"])  # the rule's, checked at the start
            if results.suite:  # a suite's looks decide on normalized run means: higher is better, no raw min_effect
                settings = settings.on_normalized_scale()
            decision = decide_look(
                scores, design, look, settings, control=results.analysis.control, history=history,
                control_scores=control_scores, censored=results.censored or None,  # times to a threshold
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
        """Launch every pending run in ONE launch per round, so parallel launchers stay busy.

        Each run may use `max_retries + 1` attempts in this sweep; a run that never started (the launcher
        gave up after another job crashed) has used none and is simply launched again. A failure no retry can
        pass (`not_retried`: see RecordingTask) is not retried. Attempts that ended an earlier sweeper's process
        count against this sweep's budget, so such a run is not relaunched without end, and runs after the
        others, which it might take down with the sweeper. A launcher with `launch_queue` (ab_local) takes the
        retries as the runs end, into the next free slot: its round ends when no run is left to retry. Ctrl-C and
        SIGTERM raise KeyboardInterrupt once the records are saved (the caller writes the summary). The progress
        line counts `progress_total` runs (a sequential look: the runs up to it), else every run of the ledger.
        """
        total = progress_total or len(ledger.runs)
        done = [r for r in ledger.runs.values() if r.status == COMPLETED]
        if done and not self.metric_checked:  # resuming: ask a run completed before
            self._check_metric(self.experiment_dir / done[0].job_dir, {"return_value": done[0].return_value})
        allowed = self.settings.max_retries + 1
        for run in runs:  # a rerun tries a failed run again, unless its last attempts all ended a sweeper's process
            record = ledger.runs[run.job_dir]
            exhausted = record.status != COMPLETED and record.ended_sweeper >= allowed
            record.not_retried = (
                f"it ended the sweeper's process in each of its last {record.ended_sweeper} attempts"
                if exhausted
                else None
            )
        ledger.save()
        # Attempts that ended a sweeper's process were made by earlier sweeps but share this one's budget.
        budget = {
            r.job_dir: ledger.runs[r.job_dir].attempts + allowed - ledger.runs[r.job_dir].ended_sweeper for r in runs
        }

        def retried(record: RunRecord) -> bool:
            return record.status != COMPLETED and record.attempts < budget[record.job_dir] and not record.not_retried

        returns: list[Any] = []
        job_index = 0
        while True:
            pending = [r for r in runs if retried(ledger.runs[r.job_dir])]
            if not pending:
                break
            risky = [r for r in pending if ledger.runs[r.job_dir].ended_sweeper]
            if risky and len(risky) < len(pending):  # they may end this sweeper too: let the others finish
                if not job_index:
                    log.info(
                        "[ab] %s ended an earlier sweeper's process; launched after the other runs",
                        ", ".join(r.job_dir for r in risky),
                    )
                pending = [r for r in pending if r not in risky]
            if job_index:
                log.info("[ab] relaunching %d run(s) that failed or never ran", len(pending))
            statuses, job_index = self._launch_round(pending, ledger, job_index, returns, total, retried)
            if all(status is None for status in statuses.values()):
                break  # the launcher started nothing: relaunching would loop forever
        return returns

    def _launch_round(
        self,
        pending: Sequence[PlannedRun],
        ledger: Ledger,
        job_index: int,
        returns: list[Any],
        total: int,
        retried: Callable[[RunRecord], bool],
    ) -> tuple[dict[str, dict[str, Any] | None], int]:
        """One launch of `pending`; returns each run's last status record and the next job index. With a launcher
        that has `launch_queue`, each run's record goes into the ledger (saved) as the run ends, and a failed run
        that `retried` accepts goes back into the queue at once; a run that never started is left to the next
        round, as with other launchers, so that a launcher starting nothing cannot loop."""
        for run in pending:
            move_attempt_aside(self.experiment_dir / run.job_dir)
        launch_error, launch_final, interrupted = None, None, False
        job_dirs = [self.experiment_dir / r.job_dir for r in pending]
        done_before = len(ledger.by_status(COMPLETED))
        watcher = ProgressWatcher(
            job_dirs,
            total=total,
            done_before=done_before,
            interval=self.settings.progress_interval,
            on_completed=None if self.metric_checked else self._check_metric,
        )
        by_idx = {job_index + i: run for i, run in enumerate(pending)}  # the runs queued and not ended
        statuses: dict[str, dict[str, Any] | None] = {}
        queued = job_index + len(pending)

        def on_end(idx: int, job_return: Any) -> list[str] | None:
            nonlocal queued
            run = by_idx.pop(idx)
            job_dir = self.experiment_dir / run.job_dir
            record, status = ledger.runs[run.job_dir], read_status(job_dir)
            statuses[run.job_dir] = status
            record.absorb_status(status)
            ledger.save()
            if status is None or not retried(record):
                return None
            move_attempt_aside(job_dir)
            watcher.requeued(job_dir)
            by_idx[queued] = run
            queued += 1
            log.info("[ab] %s failed (attempt %d); retried in the next free slot", run.job_dir, record.attempts)
            return self._job_command(run)

        launch_queue = getattr(self.launcher, "launch_queue", None)
        try:
            with watcher:
                batch = [self._job_command(r) for r in pending]
                try:
                    if callable(launch_queue):
                        returns.append(launch_queue(batch, job_index, on_end))
                    else:
                        returns.append(self.launcher.launch(batch, initial_job_idx=job_index))
                finally:  # jobs run in this process (basic launcher) leave their job logging configured
                    configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        except KeyboardInterrupt:
            interrupted = True
        except Exception as error:  # a hard crash loses the batch's returns; the status files remain
            text = str(error).strip()
            launch_error = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
            launch_final = no_retry_helps(error)
            self.launcher_errors.append(f"{type(error).__name__}: {text}")
            log.warning("[ab] the launcher raised %s; waiting for the round's other jobs to end", launch_error)
            with watcher.restarted():
                wait_for_runs_to_end(job_dirs, self.settings.progress_interval, self.settings.settle_timeout)
        for run in by_idx.values():  # the runs whose end the launcher did not report
            status = statuses[run.job_dir] = read_status(self.experiment_dir / run.job_dir)
            ledger.runs[run.job_dir].absorb_status(status, launch_error=launch_error, interrupted=interrupted)
            if status is None and launch_final:  # it never started, and no launch of it can
                ledger.runs[run.job_dir].not_retried = launch_final
        ledger.save()
        if interrupted:
            raise KeyboardInterrupt
        return statuses, queued

    def _job_command(self, run: PlannedRun) -> list[str]:
        """The overrides of the run's job: the variant's, the sweep's, its directory."""
        return [*run.overrides, *self.job_overrides, *self._job_location(run)]

    def _check_metric(self, job_dir: Path, record: dict[str, Any]) -> None:
        """Ask the first run that completes for the declared metric, so that a typo costs one run, not the
        budget: the sweep goes on (the fix is a rerun that analyzes the same runs), but says so at once."""
        if self.metric_checked:
            return
        self.metric_checked = True
        from metta_ab.analysis.metric_check import missing_metric  # scipy: imported only once there are results

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

    def _finish(self, ledger: Ledger, looks: Looks, interrupted: bool = False) -> None:
        """The report of what the ledger holds; after Ctrl-C or SIGTERM, the same and status 130."""
        records = list(ledger.runs.values())
        try:
            from metta_ab.analysis.results import analyze_runs  # scipy: imported only once there are results
            from metta_ab.report.files import write_report

            if self.experiment.sequential is None:  # a sequential experiment's looks are recorded as decided
                looks.record_analysis(self.experiment.runs_per_variant, completed_per_variant(records))
                looks.save()
            results = analyze_runs(self.experiment, records, self.experiment_dir, self.settings.analysis)
            figures = figure_settings(self.settings)
            print(write_report(results, plots=self.settings.plots, figures=figures), end="")
            if self.settings.wandb_summary and not interrupted:
                self._write_wandb_summary(results)
        except ExperimentError as error:
            raise ABConfigError(f"the analysis settings are wrong, the runs are kept: {error}") from None
        except KeyboardInterrupt:
            _exit_interrupted(
                f"while writing the report: every run is recorded in {ledger.path}. Run the same command again "
                "to write it; completed runs are not run again."
            )
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
            sys.stderr.write(self._failure_message(failed, len(records)) + "\n")
            exit_after_callbacks(exit_status.RUNS_FAILED)
        elif results.no_verdict:
            sys.stderr.write(f"[ab] no verdict: {results.no_verdict}\n")
            exit_after_callbacks(exit_status.NO_VERDICT)

    def _write_wandb_summary(self, results: ExperimentResults) -> None:
        from metta_ab.report.wandb_summary import runs_wandb_target, write_wandb_summary

        target = runs_wandb_target(results)
        if target is None:  # the runs did not use W&B
            return
        log.info("[ab] writing the W&B summary run (wandb in a child process)")
        line = write_wandb_summary(results, target, self.experiment_dir)
        if line:
            log.info(line)

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
            if record.not_retried:
                lines.append(f"    not retried: {record.not_retried}")
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more (see summary.txt)")
        message = (
            f"[ab] {len(failed)} of {total} runs failed (up to {self.settings.max_retries} retries each); fix the "
            "cause and run the same command again: completed runs are not run again."
        )
        if self.launcher_errors and any(r.attempts == 0 for r in failed):
            last = self.launcher_errors[-1].splitlines()
            shown = "\n".join(f"    {line}" for line in last[-40:])
            message += f"\n  The launcher failed before these runs could start. It said:\n{shown}"
            submitit_logs = self.experiment_dir / ".submitit"
            if submitit_logs.is_dir():
                message += f"\n  The launcher's own logs are in {submitit_logs}"
        return message + "\n" + "\n".join(lines)
