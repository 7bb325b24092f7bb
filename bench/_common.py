"""Small helpers shared by the benchmarks: process statistics and table formatting."""

from __future__ import annotations

import math
import os
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

#: Load generator CPU share above which its figures may be its own limit.
LOADGEN_BUSY = 90.0
#: A server this close to the ceiling's rate may be capped by the load generator.
NEAR_CEILING = 0.9


def headroom_notes(
    label: str,
    *,
    loadgen_pct: float,
    rate: float,
    ceiling_rate: float | None,
    ceiling: str = "the ceiling",
) -> list[str]:
    """Say where a rate may be the load generator's limit rather than the server's.

    `ceiling_rate` is None for the ceiling's own row.
    """
    notes = []
    if loadgen_pct >= LOADGEN_BUSY:
        notes.append(
            f"{label}: the load generator used {loadgen_pct:.0f}% of its core; "
            "this rate may be its limit, not the server's"
        )
    if ceiling_rate is not None and rate >= NEAR_CEILING * ceiling_rate:
        notes.append(
            f"{label}: within {1 - NEAR_CEILING:.0%} of {ceiling}'s rate or above "
            f"it, so {ceiling} does not show that the load generator had headroom"
        )
    return notes


def rss_bytes() -> int:
    """Return this process's resident set size, from /proc/self/statm."""
    fields = Path("/proc/self/statm").read_text(encoding="ascii").split()
    return int(fields[1]) * _PAGE_SIZE


def thread_count() -> int:
    """Return the number of OS threads of this process, from /proc/self/task."""
    return sum(1 for _ in Path("/proc/self/task").iterdir())


def median(values: Sequence[float]) -> float:
    """Return the median of a non-empty sequence."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile (`fraction` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Format rows as a plain-text table; the first column is left-aligned, others right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def ratio(ours: float, theirs: float) -> float:
    """Return ours / theirs, or NaN when either is missing (zero or NaN)."""
    return ours / theirs if ours > 0 and theirs > 0 else math.nan


def number(value: float, digits: int = 0) -> str:
    """Format a figure with thousands separators, "-" for NaN."""
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def times(value: float) -> str:
    """Format a ratio as "1.23x", "-" for NaN."""
    return "-" if math.isnan(value) else f"{value:.2f}x"


def verdict(met: bool) -> str:
    """Say whether a target was met."""
    return "met" if met else "MISSED"
