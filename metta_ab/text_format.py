"""How numbers read in summary.txt: one formatting for every part of the report (NaN and None as "-")."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _significant(value: float, digits: int, sign: str = "") -> str:
    """`digits` significant digits; a number of more integer digits than that (below 1e9) is shown whole,
    so that scores such as 10001 and 10004 do not both read "1e+04"."""
    if 10**digits <= abs(value) < 1e9:
        return f"{value:{sign}.0f}"
    return f"{value:{sign}.{digits}g}"


def fmt_num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return _significant(value, digits)


def fmt_ordered(value: float | None, bound: float | None, digits: int = 2) -> tuple[str, str]:
    """A p and the boundary it is held against, with the fewest significant digits (at least `digits`) at
    which the two read in their true order: never "p = 0.05 < 0.05" for 0.0496 against 0.05."""
    if value is None or bound is None or math.isnan(value) or math.isnan(bound) or value == bound:
        return fmt_num(value, digits), fmt_num(bound, digits)
    for shown in range(digits, 17):
        a, b = float(f"{value:.{shown}g}"), float(f"{bound:.{shown}g}")
        if a != b and (a < b) == (value < bound):
            return f"{value:.{shown}g}", f"{bound:.{shown}g}"
    return repr(value), repr(bound)


def fmt_signed(value: float | None, digits: int = 3) -> str:
    """A difference, with its sign: "+0.25", "-1.3e+03"; "-" alone when there is none (NaN)."""
    if value is None or math.isnan(value):
        return "-"
    return _significant(value, digits, "+")


def fmt_ci(ci: Sequence[float] | None, digits: int = 3) -> str:
    if not ci or any(v is None or math.isnan(v) for v in ci):
        return "[-]"
    return f"[{_significant(ci[0], digits)}, {_significant(ci[1], digits)}]"


def fmt_p(p: float | None) -> str:
    """Three decimals, cut rather than rounded: a p just under alpha (0.0496) never reads as alpha (0.050)
    beside a significant verdict, nor one at alpha as under it."""
    if p is None or math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{math.floor(p * 1000 + 1e-9) / 1000:.3f}"


def fmt_p_relation(p: float | None) -> str:
    """'=0.012' or '<0.001', to follow a 'p' in a sentence."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"={text}"


def fmt_list(items: Sequence[str], shown: int) -> str:
    """The first `shown` items and how many more: "a_run_1, b_run_2 and 3 more"."""
    listed = ", ".join(items[:shown])
    return listed + (f" and {len(items) - shown} more" if len(items) > shown else "")


def fmt_setting(value: object) -> str:
    """An analysis setting as it is typed on the command line ("0.1", "max"); None as "not set"."""
    if value is None:
        return "not set"
    return f"{value:g}" if isinstance(value, float) else str(value)


def fmt_duration(seconds: float) -> str:
    """Elapsed time as a clock reads it: 4:05, or 1:02:03 past an hour."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fmt_span(seconds: float) -> str:
    """A length of time in its units: 0.25s, 45s, 4m12s, 2h05m (to the second below an hour, the minute above)."""
    if seconds < 59.5:
        return f"{fmt_num(max(seconds, 0.0), 2)}s"
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
