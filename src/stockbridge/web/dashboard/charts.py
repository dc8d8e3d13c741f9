"""Charts as server-rendered SVG: no JavaScript, no build step, no chart library.

Each chart is a ``<figure>``: a visible caption, the SVG (``aria-hidden``: it only draws)
and the same numbers as a table for screen readers (``.sr-only``). The SVG scales to the
width it is given (``viewBox``, ``width: 100%``), 360 units wide so a phone shows it at
about its own size. Colours come from classes in ``dashboard.css`` (the CSP allows no
inline style).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "dot_chart", "line_chart"]

WIDTH, HEIGHT = 360, 120
LEFT, RIGHT, TOP, BOTTOM = 30, 6, 8, 18


def _scale(values: Sequence[float]) -> float:
    top = max((v for v in values if v is not None), default=0.0)
    return float(top) if top > 0 else 1.0


def _fmt(value: float | None) -> str:
    if value is None:
        return "no data"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _frame(chart_id: str, title: str, body: str, top: float, first: str, last: str) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    return (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'preserveAspectRatio="xMidYMid meet" aria-hidden="true" focusable="false">'
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>'
        f'<text class="tick" x="{LEFT - 3}" y="{TOP + 4}" text-anchor="end">{_fmt(top)}</text>'
        f'<text class="tick" x="{LEFT - 3}" y="{TOP + plot_h}" text-anchor="end">0</text>'
        f'<text class="tick" x="{LEFT}" y="{HEIGHT - 4}">{escape(first)}</text>'
        f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">'
        f"{escape(last)}</text>{body}</svg>"
    )


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="sr-only"><table><caption>{escape(title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _figure(chart_id: str, title: str, svg: str, table: str) -> Markup:
    return Markup(
        f'<figure class="chart-box" data-chart="{chart_id}"><figcaption>{escape(title)}'
        f"</figcaption>{svg}{table}</figure>"
    )


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
) -> Markup:
    """Bars per label, the series (name, CSS class, values) stacked; one ``rect.bar``
    per non-zero value."""
    count = len(labels)
    totals = [sum(values[n] for _name, _css, values in series) for n in range(count)]
    top = _scale(totals)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, count)
    parts: list[str] = []
    for n in range(count):
        base = 0.0
        for name, css, values in series:
            value = values[n]
            if not value:
                continue
            h = plot_h * value / top
            y = TOP + plot_h - base - h
            parts.append(
                f'<rect class="bar {css}" x="{LEFT + n * step + step * 0.15:.1f}" y="{y:.1f}" '
                f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>{escape(labels[n])} '
                f"{escape(name)}: {value}</title></rect>"
            )
            base += h
    svg = _frame(
        chart_id,
        title,
        "".join(parts),
        top,
        labels[0] if labels else "",
        labels[-1] if labels else "",
    )
    header = ["Day", *(name for name, _css, _values in series)]
    rows = [[labels[n], *(str(values[n]) for _name, _css, values in series)] for n in range(count)]
    return _figure(chart_id, title, svg, _table(title, header, rows))


def line_chart(
    chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], unit: str
) -> Markup:
    """A value per label, joined where both ends are known; one ``circle.point`` per
    known value."""
    count = len(labels)
    top = _scale([v for v in values if v is not None])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, count)
    coords: list[tuple[float, float] | None] = [
        None if v is None else (LEFT + n * step + step / 2, TOP + plot_h - plot_h * float(v) / top)
        for n, v in enumerate(values)
    ]
    parts: list[str] = []
    for a, b in itertools.pairwise(coords):
        if a is not None and b is not None:
            parts.append(
                f'<line class="link" x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" '
                f'y2="{b[1]:.1f}"/>'
            )
    for n, point in enumerate(coords):
        if point is not None:
            parts.append(
                f'<circle class="point" cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="2.5">'
                f"<title>{escape(labels[n])}: {_fmt(values[n])} {escape(unit)}</title></circle>"
            )
    svg = _frame(
        chart_id,
        title,
        "".join(parts),
        top,
        labels[0] if labels else "",
        labels[-1] if labels else "",
    )
    rows = [[labels[n], _fmt(values[n])] for n in range(count)]
    return _figure(chart_id, title, svg, _table(title, ["Day", unit], rows))


def dot_chart(
    chart_id: str,
    title: str,
    points: Sequence[tuple[str, float, str]],
    unit: str,
) -> Markup:
    """One ``circle.point`` per (label, value, CSS class), in order, evenly spaced."""
    count = len(points)
    top = _scale([value for _label, value, _css in points])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, count)
    parts = [
        f'<circle class="point {css}" cx="{LEFT + n * step + step / 2:.1f}" '
        f'cy="{TOP + plot_h - plot_h * value / top:.1f}" r="2.5">'
        f"<title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></circle>"
        for n, (label, value, css) in enumerate(points)
    ]
    first = points[0][0] if points else ""
    last = points[-1][0] if points else ""
    svg = _frame(chart_id, title, "".join(parts), top, first, last)
    rows = [[label, _fmt(value), css] for label, value, css in points]
    return _figure(chart_id, title, svg, _table(title, ["Run", unit, "Outcome"], rows))
