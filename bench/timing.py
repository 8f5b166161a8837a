"""Timing shared by the benchmarks: contenders run interleaved (each round
runs every contender once, in a rotating order), medians are reported with
the range of per-round ratios, and every run's result is checked against the
first contender's (a mismatch fails the benchmark)."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, Callable


class ResultMismatch(SystemExit):
    pass


def interleaved(rounds: int, contenders: dict[str, Callable[[], Any]],
                same: Callable[[Any, Any], bool] = lambda a, b: a == b) -> dict[str, list[float]]:
    """Runs each contender once per round, rotating who goes first; returns
    the seconds of every run per contender. Exits non-zero when a result
    differs from the reference contender's (the first one)."""
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        results = {}
        for name in order:
            started = time.perf_counter()
            results[name] = contenders[name]()
            times[name].append(time.perf_counter() - started)
        reference = results[names[0]]
        for name in names[1:]:
            if not same(reference, results[name]):
                print(f"RESULT MISMATCH in round {r + 1}: {names[0]} gave {reference!r}, {name} gave {results[name]!r}",
                      file=sys.stderr)
                raise ResultMismatch(3)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(times: dict[str, list[float]], a: str, b: str) -> tuple[float, float, float]:
    """Median of per-round ratios a/b, and their min and max (rounds are paired)."""
    per_round = [x / y for x, y in zip(times[a], times[b])]
    return statistics.median(per_round), min(per_round), max(per_round)


def format_ratio(r: tuple[float, float, float]) -> str:
    return f"{r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f})"
