"""One A/B sweep: load -> plan -> validate -> launch all jobs at once -> retry failures -> record -> report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.ab_sweeper._app_config import ABConfigError, AppConfig
from hydra_plugins.ab_sweeper._progress import ProgressWatcher
from hydra_plugins.ab_sweeper._task import RecordingTask
from metta_ab.analysis import analyze_runs
from metta_ab.experiment import ABExperiment, AnalysisSettings, ExperimentError
from metta_ab.ledger import (
    COMPLETED,
    FAILED,
    Ledger,
    RunRecord,
    move_attempt_aside,
    read_status,
    write_text_atomic,
)
from metta_ab.loading import load_experiment
from metta_ab.plan import InjectionKeys, PlannedRun, PlanSettings, format_plan, plan_experiment
from metta_ab.report import write_report

log = logging.getLogger(__name__)

EXPERIMENT_CONFIG = "experiment_config.yaml"
PLAN_TXT, PLAN_JSON, BASE_YAML = "plan.txt", "plan.json", "ab_base.yaml"


class ABSweepFailed(ABConfigError):
    """Some runs still failed after the retries; the message names them and their logs."""


class ABSweep:
    def __init__(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.settings = config.ab
        try:
            self.experiment: ABExperiment = load_experiment(self.settings.experiment)
        except ExperimentError as error:
            raise ABConfigError(f"ab.experiment={self.settings.experiment}: {error}") from None
        self.inject: InjectionKeys = OmegaConf.to_object(self.settings.inject)  # type: ignore[assignment]
        output_dir = Path(self.settings.output_dir).expanduser().absolute()
        if output_dir.exists() and not output_dir.is_dir():
            raise ABConfigError(f"ab.output_dir={self.settings.output_dir} is a file, not a directory")
        self.experiment_dir = output_dir / self.experiment.name
        # The experiment directory is Hydra's sweep dir: jobs land in <experiment dir>/<variant>_run_<i>.
        with open_dict(config):
            config.hydra.sweep.dir = str(self.experiment_dir)
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir={self.experiment_dir}")
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context,
            task_function=RecordingTask(task_function, self.inject.seed),
            config=config,
        )
        self.app = AppConfig(hydra_context.config_loader, config)

    # --- the flow ------------------------------------------------------------------------------------

    def run(self, arguments: list[str]) -> list[Any]:
        task_overrides = self._task_overrides(arguments)
        layout = self.app.layout(self.experiment, task_overrides)
        settings = PlanSettings(
            base_seed=self.settings.base_seed,
            paired_seeds=self.settings.paired_seeds,
            inject=self.inject,
            task_overrides=tuple(task_overrides),
        )
        try:
            runs = plan_experiment(self.experiment, settings, layout)
        except ExperimentError as error:
            raise ABConfigError(f"{self.settings.experiment}: {error}") from None
        self.app.validate(self.experiment, layout, runs)
        self._write_definition(runs, layout)
        if self.settings.dry_run:
            print(format_plan(self.experiment, runs), end="")
            print(f"Dry run: nothing launched. Plan saved in {self.experiment_dir / PLAN_TXT}")
            return []
        ledger = Ledger.create(
            self.experiment_dir,
            (RunRecord(r.variant, r.index, r.seed, r.run_name, r.job_dir) for r in runs),
        )
        returns = self._launch_with_retries(runs, ledger)
        self._finish(ledger)
        return returns

    def _task_overrides(self, arguments: Sequence[str]) -> list[str]:
        """Command-line task overrides go to every job, except the sweeper's own `ab.*` settings."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        task_overrides = []
        for override in parser.parse_overrides(list(arguments)):
            if override.is_sweep_override():
                raise ABConfigError(
                    f"'{override.input_line}' is a sweep; with the ab sweeper, define what varies as variants "
                    "in the experiment file (command-line overrides apply to every run)"
                )
            if override.get_key_element().lstrip("+~").split(".")[0] != "ab":
                task_overrides.append(override.input_line)
        return task_overrides

    def _write_definition(self, runs: Sequence[PlannedRun], layout: Any) -> None:
        import yaml

        self.experiment_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            self.experiment_dir / EXPERIMENT_CONFIG,
            yaml.safe_dump(self.experiment.to_dict(), sort_keys=False, allow_unicode=True),
        )
        write_text_atomic(self.experiment_dir / PLAN_TXT, format_plan(self.experiment, runs))
        import json

        write_text_atomic(self.experiment_dir / PLAN_JSON, json.dumps([r.to_dict() for r in runs], indent=1))
        base_yaml = self.app.base_node_yaml(layout)
        if base_yaml:
            write_text_atomic(self.experiment_dir / BASE_YAML, base_yaml)
        OmegaConf.save(self.config, self.experiment_dir / "multirun.yaml")

    def _launch_with_retries(self, runs: Sequence[PlannedRun], ledger: Ledger) -> list[Any]:
        """Launch every pending run in ONE launch() call per round, so parallel launchers stay busy.

        A run is retried until it has used `max_retries + 1` attempts; a run that never started (the
        launcher gave up after another job crashed) has used none and is simply launched again.
        """
        max_attempts = self.settings.max_retries + 1
        returns: list[Any] = []
        job_index = 0
        while True:
            pending = [
                r
                for r in runs
                if ledger.runs[r.job_dir].status != COMPLETED and ledger.runs[r.job_dir].attempts < max_attempts
            ]
            if not pending:
                break
            if job_index:
                log.info("[ab] relaunching %d run(s) that failed or never ran", len(pending))
            for run in pending:
                move_attempt_aside(self.experiment_dir / run.job_dir)
            launch_error = None
            job_dirs = [self.experiment_dir / r.job_dir for r in pending]
            done_before = len(ledger.by_status(COMPLETED))
            interval = self.settings.progress_interval
            with ProgressWatcher(job_dirs, total=len(runs), done_before=done_before, interval=interval):
                try:
                    batch = [[*r.overrides, f"hydra.sweep.subdir={r.job_dir}"] for r in pending]
                    returns.append(self.launcher.launch(batch, initial_job_idx=job_index))
                except Exception as error:  # a hard crash loses the batch's returns; status files remain
                    launch_error = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
                    log.warning("[ab] the launcher raised %s; reading the runs' status records", launch_error)
            job_index += len(pending)
            statuses = {r.job_dir: read_status(self.experiment_dir / r.job_dir) for r in pending}
            for job_dir, status in statuses.items():
                ledger.runs[job_dir].absorb_status(status, launch_error=launch_error)
            ledger.save(experiment=self.experiment.name)
            if all(status is None for status in statuses.values()):
                break  # the launcher started nothing: relaunching would loop forever
        return returns

    def _finish(self, ledger: Ledger) -> None:
        records = list(ledger.runs.values())
        overrides: AnalysisSettings = OmegaConf.to_object(self.settings.analysis)  # type: ignore[assignment]
        try:
            results = analyze_runs(self.experiment, records, self.experiment_dir, overrides)
            print(write_report(results, plots=self.settings.plots), end="")
        except ExperimentError as error:
            raise ABConfigError(f"the analysis settings are wrong, the runs are kept: {error}") from None
        failed = [r for r in records if r.status == FAILED]
        print(f"[ab] results in {self.experiment_dir}")
        if failed:
            job_name = self.config.hydra.job.name
            lines = [
                f"  {r.job_dir}: {r.error} (log: {self.experiment_dir / r.job_dir / (job_name + '.log')})"
                for r in failed[:20]
            ]
            more = f"\n  ... and {len(failed) - 20} more (see summary.txt)" if len(failed) > 20 else ""
            raise ABSweepFailed(
                f"[ab] {len(failed)} of {len(records)} runs failed (up to {self.settings.max_retries} "
                "retries each):\n" + "\n".join(lines) + more
            )
