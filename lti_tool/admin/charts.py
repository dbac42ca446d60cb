"""Bar charts drawn on the server as SVG geometry (no script, nothing inline to allow in the
CSP); the template draws them and puts the same numbers in a table beside them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

WIDTH = 600
HEIGHT = 160
TOP = 10
BOTTOM = 20  # room for the day labels
LEFT = 30  # room for the scale


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    y: float
    height: float
    failed_y: float
    failed_height: float
    value: int
    failed: int


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    maximum: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM
    top: int = TOP


def stacked_bars(points: Sequence[tuple[str, int, int]]) -> BarChart:
    """Lay out one bar per (label, total, failed): the failed part at the bottom of each."""
    maximum = max([total for _, total, _ in points] + [1])
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / max(len(points), 1)
    bars = []
    for n, (label, total, failed) in enumerate(points):
        height = plot_height * total / maximum
        failed_height = plot_height * failed / maximum
        x = LEFT + n * slot + slot * 0.15
        baseline = HEIGHT - BOTTOM
        bars.append(Bar(label, round(x, 1), round(slot * 0.7, 1), round(baseline - height, 1),
                        round(height, 1), round(baseline - failed_height, 1),
                        round(failed_height, 1), total, failed))
    return BarChart(bars, maximum)
