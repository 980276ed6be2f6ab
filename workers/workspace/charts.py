"""Charts as server-side SVG: no script, readable without colour.

Every bar carries its number as text, a limit is a dashed line with its own label, and a
bar past the limit is hatched as well as darker, with the words saying so; the chart has
a title and a description for screen readers, and the page shows the same figures in a
table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

BAR_HEIGHT = 26
GAP = 10
LABEL_WIDTH = 270
MAX_LABEL = 34  # characters; longer labels are shortened (the table beside has them whole)
PLOT_WIDTH = 420
VALUE_WIDTH = 150
NOTE_LINE = 18


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""  # words after the number, e.g. "boven het maximum"
    marked: bool = False  # drawn hatched (past the limit, above the norm)


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}".replace(".", ",")


def bar_chart(chart_id: str, title: str, description: str, bars: list[Bar],
              limit: float | None = None, limit_label: str = "", unit: str = "") -> Markup:
    top = max([b.value for b in bars] + [limit or 0, 1])
    row = BAR_HEIGHT + GAP + (NOTE_LINE if any(b.note for b in bars) else 0)
    height = len(bars) * row + GAP + (24 if limit is not None else 0)
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    scale = PLOT_WIDTH / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#7a1212"/>'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#ffffff" stroke-width="3"/></pattern>'
        '</defs>',
    ]
    for index, bar in enumerate(bars):
        y = GAP + index * row
        length = max(bar.value * scale, 2 if bar.value else 0)
        fill = "url(#hatch)" if bar.marked else "#1f4e79"
        text = f"{_number(bar.value)}{unit}"
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.68}" text-anchor="end" '
            f'class="chart-label">{escape(_short(bar.label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{fill}" stroke="#000000" stroke-width="0.5"/>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + BAR_HEIGHT * 0.68}" '
            f'class="chart-value">{escape(text)}</text>')
        if bar.note:
            # On a line of its own under the bar: a long note never runs off the chart.
            parts.append(f'<text x="{LABEL_WIDTH}" y="{y + BAR_HEIGHT + NOTE_LINE - 4}" '
                         f'class="chart-note">{escape(bar.note)}</text>')
    if limit is not None:
        x = LABEL_WIDTH + limit * scale
        bottom = height - 22
        parts.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{bottom}" stroke="#000000" '
            f'stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" '
            f'class="chart-limit">{escape(limit_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
