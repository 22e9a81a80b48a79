"""One colour per variant, the same in every figure and on the report page: the Okabe-Ito palette, which stays
distinguishable under the common colour-vision deficiencies [Okabe & Ito 2008]. Black and grey are kept for
what is not a variant (medians, zero lines, boundaries)."""

from __future__ import annotations

from collections.abc import Sequence

#: Okabe-Ito without its black, ordered so that the first variants (the control first) contrast most.
VARIANT_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
NEUTRAL = "black"  # medians, the zero line, boundaries: never a variant's colour
GUIDE = "#666666"  # min_effect lines, pair links


def variant_colors(names: Sequence[str]) -> dict[str, str]:
    """Variant name -> colour, by the variant's position in the experiment (the control first)."""
    return {name: VARIANT_COLORS[i % len(VARIANT_COLORS)] for i, name in enumerate(names)}
