"""Percentiles and small formatting helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an already sorted sequence."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    values = sorted(s * 1000 for s in seconds)
    return {
        "n": len(values),
        "p50": _r(percentile(values, 50)),
        "p90": _r(percentile(values, 90)),
        "p99": _r(percentile(values, 99)),
        "max": _r(values[-1] if values else None),
    }


def _r(v: float | None, digits: int = 2) -> float | None:
    return None if v is None else round(v, digits)


def fmt(v: object, unit: str = "", digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"
