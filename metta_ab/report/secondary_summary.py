"""summary.txt's section on the secondary metrics (`.add_metric`): per metric each variant's mean and SD and the
verdict sentence of each comparison, under a heading that says they are one Holm family of their own and do not
change the verdict."""

from __future__ import annotations

from collections.abc import Sequence

from metta_ab.analysis.secondary import SecondaryResult
from metta_ab.report.sentences import verdict_sentence
from metta_ab.text_format import fmt_num


def secondary_rows(secondary: Sequence[SecondaryResult]) -> list[str]:
    if not secondary:
        return []
    family = sum(len(r.analysis.comparisons) for r in secondary if r.analysis is not None)
    adjusted = f"; p-values Holm-adjusted over their {family} comparisons" if family >= 2 else ""
    lines = [f"Secondary metrics (declared with .add_metric; they do not change the verdict{adjusted}):"]
    for result in secondary:
        better = "higher" if result.metric.direction == "max" else "lower"
        head = f"  {result.metric.name} ({better} is better)"
        if result.analysis is None:
            lines.append(f"{head}: {result.missing}")
            continue
        means = ", ".join(
            f"{name} {fmt_num(v.mean)} ± {fmt_num(v.sd, 2)} (n={v.n})" for name, v in result.analysis.variants.items()
        )
        lines.append(f"{head}: {means}")
        lines += [f"    {verdict_sentence(c, result.metric.name)}" for c in result.analysis.comparisons]
    return lines
