"""A small hand-written SVG line chart: efficiency (0-100%) against task duration (log scale)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

COLORS = {"skyward": "#d62728", "skyward-ssh": "#8c1c13", "loky": "#1f77b4", "threading": "#2ca02c", "dask": "#ff7f0e",
          "ray": "#9467bd", "dask-hosts": "#a65628"}  # dask-hosts: Dask on the SSH hosts (B9), one point (B1)


@dataclass(frozen=True)
class ReferenceLine:
    """A dashed horizontal line across the plot (a target that holds at every duration)."""
    y: float
    label: str


@dataclass(frozen=True)
class Marker:
    """An open diamond at one point (a target for one duration only); its label is the hover text."""
    x: float
    y: float
    label: str


B1_TARGET = (ReferenceLine(y=0.9, label="B1 target 90%"),)
X_LABEL = "task duration (time.sleep per task, log scale)"


def write_efficiency_chart(path: Path, series: dict[str, list[tuple[float, float]]], title: str, subtitle: str = "",
                           colors: dict[str, str] | None = None,
                           reference_lines: Sequence[ReferenceLine] = B1_TARGET, markers: Sequence[Marker] = (),
                           x_label: str = X_LABEL, marker_legend: str = "target") -> None:
    """`colors`: series name -> color, also their legend order (default: the backends' COLORS)."""
    palette = COLORS if colors is None else colors
    W, H = 720, 440
    left, right, top, bottom = 70, 150, 60, 60
    pw, ph = W - left - right, H - top - bottom
    xs = sorted({x for pts in series.values() for x, _ in pts}) or [0.001, 0.1]
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = 0.08 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    def px(x: float) -> float:
        return left + (math.log10(x) - lo) / (hi - lo) * pw

    def py(y: float) -> float:
        return top + (1 - max(0.0, min(1.0, y))) * ph

    mid = W / 2 - right / 2 + left / 2  # the titles centred over the plot, not over the legend
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{mid}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="{mid}" y="42" text-anchor="middle" fill="#555">{escape(subtitle)}</text>']
    for i in range(0, 11):  # horizontal grid every 10%
        y = py(i / 10)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#333">{i * 10}%</text>')
    for ref in reference_lines:
        yr = py(ref.y)
        out.append(f'<line x1="{left}" y1="{yr:.1f}" x2="{left + pw}" y2="{yr:.1f}" stroke="#d62728" '
                   'stroke-dasharray="5,4" opacity="0.6"/>')
        out.append(f'<text x="{left + pw - 4}" y="{yr - 5:.1f}" text-anchor="end" fill="#d62728" opacity="0.8">'
                   f'{escape(ref.label)}</text>')
    for x in xs:
        label = f"{x:g} s" if x >= 1 else f"{x * 1000:g} ms"
        out.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + ph}" stroke="#eeeeee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 18}" text-anchor="middle" fill="#333">{label}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{left + pw / 2}" y="{H - 16}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(18,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
               'efficiency = ideal / wall</text>')
    order = list(palette)
    ranked = sorted(series.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    for i, (name, pts) in enumerate(ranked):
        color = palette.get(name, "#333")
        pts = sorted(pts)
        width = 3 if name.startswith("skyward") else 2
        dash = ' stroke-dasharray="7,4"' if name == "skyward-ssh" else ""  # the same pool over SSH hosts
        if len(pts) > 1:
            d = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(pts))
            out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"><title>{escape(name)} '
                       f'{x * 1000:g} ms: {100 * y:.1f}%</title></circle>')
        ly = top + 10 + 22 * i
        out.append(f'<line x1="{left + pw + 16}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="{width}"{dash}/>')
        last = f" {100 * pts[-1][1]:.0f}%" if pts else ""
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{escape(name)}</text>')
        _ = last
    half = 7  # a marker's half-width, px
    for m in markers:  # drawn last: on top of the series
        out.append(f'<path d="M{px(m.x):.1f},{py(m.y) - half:.1f} l{half},{half} l-{half},{half} l-{half},-{half} z" '
                   f'fill="none" stroke="#000" stroke-width="1.5"><title>{escape(m.label)}</title></path>')
    if markers:  # one legend row for them, under the series'
        lx, ly = left + pw + 28, top + 10 + 22 * len(series)
        out.append(f'<path d="M{lx},{ly - half} l{half},{half} l-{half},{half} l-{half},-{half} z" fill="none" '
                   'stroke="#000" stroke-width="1.5"/>')
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{escape(marker_legend)}</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")
