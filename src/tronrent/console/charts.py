"""Charts as inline SVG, drawn on the server (no script, no chart library, nothing downloaded).

Heights and widths are integer pixels computed from the exact integer values; each bar has a
``<title>`` (the browser's tooltip) with its exact value, so the chart never rounds a figure
the operator needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Final

from markupsafe import Markup

_PAD_TOP: Final = 14
_PAD_BOTTOM: Final = 16
_PAD_LEFT: Final = 16
#: room for the last x label (centred under its bar)
_PAD_RIGHT: Final = 16


def bars(
    values: Sequence[tuple[str, int]],
    *,
    label: str,
    fmt: Callable[[int], str] = str,
    height: int = 120,
    bar: int = 14,
    gap: int = 3,
    every: int = 1,
) -> Markup:
    """A vertical bar chart of ``(x label, value)``: the x label is printed under every
    ``every``-th bar (and the last), the largest value at the top left."""
    if not values:
        return Markup("")
    top = max((v for _, v in values), default=0)
    plot = height - _PAD_TOP - _PAD_BOTTOM
    width = _PAD_LEFT + len(values) * (bar + gap) + _PAD_RIGHT
    base = height - _PAD_BOTTOM
    parts = [
        Markup(
            '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
            '<text x="{x}" y="10">max {top}</text>'
            '<line x1="{x}" y1="{base}" x2="{end}" y2="{base}" stroke="#c9ced8"/>'
        ).format(
            w=width,
            h=height,
            label=label,
            x=_PAD_LEFT,
            top=fmt(top),
            base=base,
            end=width - _PAD_RIGHT,
        )
    ]
    for i, (x_label, value) in enumerate(values):
        h = max(0, value) * plot // top if top > 0 else 0
        if value > 0:
            h = max(h, 1)  # a small value still shows
        x = _PAD_LEFT + i * (bar + gap)
        parts.append(
            Markup(
                '<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="#1a56b0">'
                "<title>{name}: {value}</title></rect>"
            ).format(x=x, y=base - h, bar=bar, h=h, name=x_label, value=fmt(value))
        )
        if i % every == 0 or i == len(values) - 1:
            parts.append(
                Markup('<text x="{x}" y="{y}" text-anchor="middle">{name}</text>').format(
                    x=x + bar // 2, y=height - 4, name=x_label
                )
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def gauge(share: Fraction | None, *, label: str, width: int = 160, height: int = 12) -> Markup:
    """A horizontal bar filled to ``share`` (0..1; None: unknown, left empty)."""
    filled = 0
    if share is not None:
        filled = int(min(Fraction(1), max(Fraction(0), share)) * width)
    color = "#b3261e" if share is not None and share >= Fraction(9, 10) else "#1f7a3d"
    return Markup(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
        '<rect x="0" y="0" width="{w}" height="{h}" fill="#eceff4"/>'
        '<rect x="0" y="0" width="{filled}" height="{h}" fill="{color}"/></svg>'
    ).format(w=width, h=height, label=label, filled=filled, color=color)


def percent(share: Fraction | None, decimals: int = 1) -> str:
    """An exact fraction as a percentage, rounded half to even: Fraction(1, 3) -> '33.3 %'."""
    if share is None:
        return "-"
    scaled = round(share * 100 * 10**decimals)
    whole, frac = divmod(abs(scaled), 10**decimals)
    sign = "-" if scaled < 0 else ""
    text = f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"
    return f"{text} %"
