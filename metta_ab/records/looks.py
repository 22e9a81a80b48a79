"""Every analysis the sweeper has written for an experiment (`looks.json`), and the looks of a sequential one.

Looking at a p-value, then adding seeds and testing again, inflates false positives. So the sweeper records
each analysis it writes: for a fixed design the runs per variant at that time, so that a design grown after
an analysis can say its p-value ignores the earlier look; for a sequential design (`.set_sequential`) the
decision of each look (`metta_ab.stats.sequential`), saved the moment it is made, so that a killed sweep
resumes at the right look and never decides a look twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metta_ab.definition.experiment import ABExperiment, AnalysisSettings
from metta_ab.records.ledger import COMPLETED, RecordError, RunRecord, check_fields, read_json_object, write_json_atomic

if TYPE_CHECKING:  # scipy: only the sequential parts need it
    from metta_ab.stats.sequential import EarlyStopEstimate, LookDecision, SequentialDesign

LOOKS_FILE = "looks.json"
#: The analysis settings a sequential decision depends on: a resumed sweep must decide with the same ones.
RULE_SETTINGS = ("metric", "direction", "curve_summary", "last_k", "alpha", "control", "min_effect")
FILE_FIELDS: dict[str, Any] = {"rule": dict[str, Any] | None, "looks": list[dict[str, Any]]}
#: The fields every analysis recorded in looks.json has (a sequential look's also has its "decision").
ENTRY_FIELDS: dict[str, Any] = {"analysis": int, "runs_per_variant": int, "completed": dict[str, int], "time": str}
LOOKS_FIX = (
    "It records the analyses made so far (a sequential experiment's decided looks), so it is not ignored: restore "
    "it, or start over with ab.resume=false (the experiment directory is moved aside, never deleted)"
)


def design_for(experiment: ABExperiment, alpha: float) -> SequentialDesign:
    """The group-sequential design of a `.set_sequential(...)` experiment at two-sided `alpha`."""
    from metta_ab.stats.sequential import DEFAULT_SPENDING, sequential_design

    seq = experiment.sequential
    assert seq is not None and seq.max_runs_per_variant is not None and seq.runs_per_look is not None
    return sequential_design(seq.max_runs_per_variant, seq.runs_per_look, alpha, seq.spending or DEFAULT_SPENDING)


def decision_rule(experiment: ABExperiment, settings: AnalysisSettings, paired: bool) -> dict[str, Any]:
    """What the looks' decisions depend on besides the scores (saved in looks.json, compared on resume)."""
    seq = experiment.sequential
    assert seq is not None
    from metta_ab.stats.sequential import DEFAULT_SPENDING

    # a sequential suite's per-task scales, as looks.json stores them (absent otherwise: older rules still match)
    scales = {str(task): [float(b) for b in bounds] for task, bounds in (settings.normalize or {}).items()}
    suite_scales = {"normalize": scales} if scales else {}
    # a time-to-threshold design's threshold (absent otherwise, as above)
    threshold = {"threshold": settings.threshold} if settings.curve_summary == "threshold" else {}
    return {
        **{name: getattr(settings, name) for name in RULE_SETTINGS},
        **suite_scales,
        **threshold,
        "paired": paired,
        "max_runs_per_variant": seq.max_runs_per_variant,
        "runs_per_look": seq.runs_per_look,
        "spending": seq.spending or DEFAULT_SPENDING,
    }


@dataclass
class Looks:
    """looks.json: the sequential decision rule (None for a fixed design) and one entry per analysis."""

    path: Path
    rule: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, experiment_dir: Path) -> Looks:
        """The analyses so far (none without a file). RecordError when the file cannot be trusted: read as empty,
        it would let a rerun decide a sequential experiment's looks again, under other settings."""
        path = Path(experiment_dir) / LOOKS_FILE
        if not path.exists():
            return cls(path)
        try:
            data = read_json_object(path)
            unknown = sorted(set(data) - set(FILE_FIELDS))
            if unknown:
                raise RecordError(path, f"unknown field {unknown[0]!r}")
            check_fields(path, data, FILE_FIELDS, required=FILE_FIELDS)
            for number, entry in enumerate(data["looks"], 1):
                where = f"analysis {number}: "
                check_fields(
                    path, entry, {**ENTRY_FIELDS, "decision": dict[str, Any]}, required=ENTRY_FIELDS, where=where
                )
                if "decision" in entry:
                    _check_decision(path, entry["decision"], where)
            looks = cls(path, data["rule"], data["looks"])
            if looks.rule is None and any("decision" in e for e in looks.entries):
                raise RecordError(path, "field 'rule' is null, but looks were decided by a rule")
        except RecordError as error:
            raise RecordError(path, f"{error.problem}. {LOOKS_FIX}") from None
        return looks

    def save(self) -> None:
        write_json_atomic(self.path, {"rule": self.rule, "looks": self.entries})

    def history(self) -> list[LookDecision]:
        """The sequential decisions so far, look 1 first."""
        from metta_ab.stats.sequential import LookDecision

        return [LookDecision.from_dict(e["decision"]) for e in self.entries if "decision" in e]

    def _add(self, runs_per_variant: int, completed: Mapping[str, int], **extra: Any) -> None:
        entry = {"runs_per_variant": runs_per_variant, "completed": dict(completed), **extra}
        self.entries.append({"analysis": len(self.entries) + 1, **entry, "time": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def record_analysis(self, runs_per_variant: int, completed: Mapping[str, int]) -> None:
        """A fixed design's analysis; the same runs analysed again (a rerun with nothing new) is not a new look."""
        last = self.entries[-1] if self.entries else None
        if last and last["runs_per_variant"] == runs_per_variant and last["completed"] == dict(completed):
            return
        self._add(runs_per_variant, completed)

    def record_decision(self, decision: LookDecision, completed: Mapping[str, int]) -> None:
        self._add(decision.runs_per_variant, completed, decision=decision.to_dict())

    def growth_warnings(self, runs_per_variant: int) -> list[str]:
        """For a fixed design analysed after runs_per_variant grew past an earlier analysis with results: the
        warning (else none)."""
        earlier = [e for e in self.entries if e["runs_per_variant"] < runs_per_variant and any(e["completed"].values())]
        if not earlier:
            return []
        sizes = ", ".join(str(n) for n in dict.fromkeys(e["runs_per_variant"] for e in earlier))
        return [
            f"This design grew to {runs_per_variant} runs per variant after an analysis at {sizes}: its p-values "
            "do not account for the earlier look(s), so a difference is called more often than alpha says "
            "(two looks at alpha 0.05 call one in about 8% of A/A experiments). To add seeds until the answer is "
            "clear, plan the looks: .set_sequential(max_runs_per_variant=N, runs_per_look=k)"
        ]


def _check_decision(path: Path, decision: dict[str, Any], where: str) -> None:
    from metta_ab.stats.sequential import LookDecision

    try:
        LookDecision.from_dict(decision)
    except (KeyError, TypeError, ValueError) as error:
        raise RecordError(path, f"{where}field 'decision' cannot be read ({type(error).__name__}: {error})") from None


def runs_needed(design: SequentialDesign, history: Sequence[LookDecision], variants: Sequence[str]) -> dict[str, int]:
    """Runs per variant the looks have used, and for the variants still open, the next look's too."""
    from metta_ab.stats.sequential import runs_used

    used = runs_used(history, variants) if history else dict.fromkeys(variants, 0)
    if history and history[-1].stop:
        return used
    look = len(history)  # 0-based index of the next look
    open_variants = history[-1].open_variants if history else variants
    return {v: design.runs_at_look[look] if v in open_variants else used[v] for v in variants}


@dataclass(frozen=True)
class SequentialOutcome:
    """What a sequential experiment did: its design, each look's decision, the runs it used and saved."""

    design: SequentialDesign
    history: tuple[LookDecision, ...]
    runs_used: dict[str, int]
    jobs_per_run: int = 1  # a suite of tasks trained separately: one job per task for every run (seed)

    @property
    def stopped(self) -> bool:
        return bool(self.history) and self.history[-1].stop

    @property
    def reason(self) -> str:
        return self.history[-1].reason if self.stopped else "not finished"

    @property
    def runs_saved(self) -> int:
        return sum(self.design.max_runs_per_variant - n for n in self.runs_used.values()) if self.stopped else 0

    def decision_of(self, treatment: str) -> str | None:
        """The treatment's decision at the last look (None before look 1 is decided)."""
        if not self.history:
            return None
        return next(c.decision for c in self.history[-1].comparisons if c.treatment == treatment)

    def decided_at(self, treatment: str) -> int | None:
        """The look that decided the treatment (None while it is open)."""
        if not self.history:
            return None
        return next(c.decided_at for c in self.history[-1].comparisons if c.treatment == treatment)

    @property
    def times_to_threshold(self) -> bool:
        """Whether the looks compared times to a threshold (the log-rank test), not scores (a t-test)."""
        from metta_ab.stats.sequential import LOGRANK

        return any(c.test == LOGRANK for h in self.history for c in h.comparisons)

    @property
    def estimate_note(self) -> str | None:
        """After an early stop, why the estimates beside the verdict overstate the effect (else None)."""
        if not (self.stopped and len(self.history) < self.design.looks):
            return None
        return TIME_ESTIMATE_NOTE if self.times_to_threshold else ESTIMATE_NOTE

    def not_adjusted(self) -> dict[str, str]:
        """Per log-rank comparison decided before the last look, why it has no median-unbiased estimate."""
        from metta_ab.stats._common import BETTER, WORSE
        from metta_ab.stats.sequential import LOGRANK, LOGRANK_NOT_ADJUSTED

        last = self.history[-1].comparisons if self.history else ()
        return {
            c.treatment: LOGRANK_NOT_ADJUSTED
            for c in last
            if c.test == LOGRANK and c.decision in (BETTER, WORSE) and (c.decided_at or 0) < self.design.looks
        }

    def early_stop_estimates(self, ci_level: float) -> dict[str, EarlyStopEstimate]:
        """Per comparison decided before the last look, its median-unbiased difference and CI."""
        from metta_ab.stats.sequential import early_stop_estimate

        treatments = [c.treatment for c in self.history[-1].comparisons] if self.history else []
        estimates = {v: early_stop_estimate(self.history, v, self.design, ci_level) for v in treatments}
        return {v: e for v, e in estimates.items() if e is not None}

    def to_dict(self, ci_level: float) -> dict[str, Any]:
        return {
            "design": self.design.to_dict(),
            "schedule": self.design.schedule(),
            "looks": [h.to_dict() for h in self.history],
            "looks_done": len(self.history),
            "stopped": self.stopped,
            "reason": self.reason,
            "runs_used": dict(self.runs_used),
            "runs_saved": self.runs_saved,
            "max_runs": self.design.max_runs_per_variant * len(self.runs_used),
            "jobs_per_run": self.jobs_per_run,
            "jobs_saved": self.runs_saved * self.jobs_per_run,
            "estimate_note": self.estimate_note,
            "early_stop_estimates": {v: e.to_dict() for v, e in self.early_stop_estimates(ci_level).items()},
            "not_adjusted": self.not_adjusted(),  # log-rank comparisons decided early: why no adjusted estimate
        }


ESTIMATE_NOTE = (
    "the experiment stopped early; an early stop happens when the estimate is large, so the difference and its "
    "CI (fixed-sample, over the runs used) overstate the effect on average"
)
TIME_ESTIMATE_NOTE = (
    "the experiment stopped early; an early stop happens when the estimate is large, so the hazard ratio, the "
    "difference of the medians and their CIs (fixed-sample, over the runs used) overstate the effect on average"
)


def completed_per_variant(records: Iterable[RunRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.variant] = counts.get(record.variant, 0) + (record.status == COMPLETED)
    return counts
