"""Charts as inline SVG, drawn on the server: no script, no style attribute (the Content
Security Policy allows neither), every label escaped.

Each chart is an <svg role="img"> named by its own <title> and <desc>; the page shows the same
numbers in a table beside it for screen readers and for copying. One <rect class="bar"> is drawn
per value, zero included, so that a chart always has as many bars as its table has cells.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
FONT = "system-ui, sans-serif"
INK = "#1b1b1f"
MUTED = "#4a4a55"
GRID = "#d0d3d9"
# Told apart by people with the commonest colour blindnesses (blue against orange).
BLUE = "#0b57d0"
ORANGE = "#b35c00"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    colour: str


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _check(values: Sequence[int]) -> None:
    if any(v < 0 for v in values):
        raise ValueError("a chart shows counts, which are never negative")


def _colour(colour: str) -> str:
    if not _COLOUR.match(colour):
        raise ValueError(f"colours are #rrggbb, not {colour[:20]!r}")
    return colour


def _frame(chart_id: str, title: str, description: str, width: int, height: int) -> str:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" role="img" '
        'aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'preserveAspectRatio="xMinYMin meet" font-family="{font}" font-size="13" fill="{ink}">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>',
        id=chart_id,
        w=width,
        h=height,
        font=FONT,
        ink=INK,
        title=title,
        desc=description,
    )


def horizontal_bars(
    *,
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, int]],
    colour: str = BLUE,
    unit: str = "",
) -> SafeString:
    """One bar per row, its length proportional to its value; the longest spans the plot."""
    values = [v for _, v in rows]
    _check(values)
    label_width, plot_width, row_height, value_room = 220, 340, 28, 70
    width = label_width + plot_width + value_room
    height = max(row_height * len(rows), row_height) + 8
    top = max(values, default=0) or 1
    parts = [_frame(chart_id, title, description, width, height)]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * row_height
        length = plot_width * value / top
        shown = f"{value} {unit}".strip()
        parts.append(
            format_html(
                '<g class="row"><text x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
                '<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" '
                'data-value="{value}"><title>{label}: {shown}</title></rect>'
                '<text x="{vx}" y="{ty}" fill="{muted}">{shown}</text></g>',
                lx=label_width - 8,
                ty=_number(y + row_height / 2 + 1),
                label=label,
                x=label_width,
                y=y + 4,
                w=_number(length),
                h=row_height - 8,
                fill=_colour(colour),
                value=value,
                shown=shown,
                vx=_number(label_width + length + 6),
                muted=MUTED,
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every piece above went through format_html


def stacked_columns(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    label_every: int = 1,
) -> SafeString:
    """One column per label, one segment per series stacked from the axis up; the tallest
    column spans the plot. Every `label_every`-th label is written under its column."""
    for s in series:
        _check(s.values)
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)}")
    left, right, top_room, bottom_room, plot_height = 44, 12, 30, 34, 180
    slot = max(8.0, min(40.0, 560 / max(len(labels), 1)))
    width = int(left + slot * len(labels) + right)
    height = top_room + plot_height + bottom_room
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    peak = max(totals, default=0)
    scale = plot_height / (peak or 1)
    base = top_room + plot_height
    parts = [_frame(chart_id, title, description, width, height)]
    legend_x = left
    for s in series:
        parts.append(
            format_html(
                '<rect x="{x}" y="8" width="12" height="12" fill="{fill}"/>'
                '<text x="{tx}" y="19">{name}</text>',
                x=legend_x,
                fill=_colour(s.colour),
                tx=legend_x + 16,
                name=s.name,
            )
        )
        legend_x += 24 + 8 * len(s.name)
    parts.append(
        format_html(
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{grid}"/>'
            '<line x1="{l}" y1="{t}" x2="{r}" y2="{t}" stroke="{grid}" stroke-dasharray="3 3"/>'
            '<text x="{lx}" y="{by}" text-anchor="end" fill="{muted}">0</text>'
            '<text x="{lx}" y="{ty}" text-anchor="end" fill="{muted}">{peak}</text>',
            l=left,
            r=width - right,
            b=base,
            t=top_room,
            grid=GRID,
            lx=left - 6,
            by=base + 4,
            ty=top_room + 4,
            muted=MUTED,
            peak=peak,
        )
    )
    bar = slot * 0.7
    for index, label in enumerate(labels):
        x = left + slot * index + (slot - bar) / 2
        y = float(base)
        segments = []
        for s in series:
            value = s.values[index]
            h = value * scale
            y -= h
            segments.append(
                format_html(
                    '<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" '
                    'data-value="{value}"><title>{label}: {value} {name}</title></rect>',
                    x=_number(x),
                    y=_number(y),
                    w=_number(bar),
                    h=_number(h),
                    fill=_colour(s.colour),
                    value=value,
                    label=label,
                    name=s.name.lower(),
                )
            )
        parts.append(format_html('<g class="column">{}</g>', mark_safe("".join(segments))))  # noqa: S308
        if index % max(label_every, 1) == 0:
            parts.append(
                format_html(
                    '<text x="{x}" y="{y}" text-anchor="middle" fill="{muted}">{label}</text>',
                    x=_number(x + bar / 2),
                    y=base + 18,
                    muted=MUTED,
                    label=label,
                )
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every piece above went through format_html
