"""The fixed-width tables of summary.txt: each column named once, with its width and alignment, so that a
header and its rows cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    title: str
    width: int = 0  # cells are padded to it (a longer cell widens its row, as an f-string would)
    align: str = ">"  # ">" for numbers, "<" for text
    gap: str = " "  # what separates it from the column before


def line(columns: Sequence[Column], cells: Sequence[str]) -> str:
    return "".join(
        f"{column.gap if i else ''}{cell:{column.align}{column.width}}"
        for i, (column, cell) in enumerate(zip(columns, cells, strict=True))
    )


def header(columns: Sequence[Column]) -> list[str]:
    """The titles and a rule under them."""
    titles = line(columns, [column.title for column in columns])
    return [titles, "-" * len(titles)]


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[str]:
    return [*header(columns), *(line(columns, row) for row in rows)]
