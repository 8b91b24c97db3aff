"""Charts for the dashboard, drawn on the server as inline SVG.

Nothing comes from a CDN and no script runs: the page's Content-Security-
Policy (`style-src 'self'`) allows neither a `style` attribute nor a
`<style>` element, so the SVG carries classes, styled by static/charts.css,
and geometry as presentation attributes. Each chart has a `viewBox` and no
fixed size, so it takes the width of a phone or of a desk screen; labels sit
above their bars so that the bars can use the whole width.

Labels come from field data (device names, field posts): every one is
escaped, and a long one is cut with an ellipsis, its full text kept in a
`<title>` (the tooltip). Words (the title, the description, the text shown
when there is nothing to draw) are the caller's, translated with
flask_babel. A right-to-left page (Arabic) gets mirrored charts: bars grow
from the right, time runs from right to left.
"""

from __future__ import annotations

import hashlib
import re

from markupsafe import Markup

WIDTH = 320  # viewBox units: at a phone's width one unit is about one CSS pixel
PAD = 8
FONT_SIZE = 14

# Bar chart: each row is a label, and under it the bar and its count.
ROW = 46
LABEL_BASELINE = 16
BAR_Y = 22
BAR_HEIGHT = 16
VALUE_SPACE = 48  # room after the longest bar for its count
BAR_MAX = WIDTH - 2 * PAD - VALUE_SPACE
MAX_LABEL = 40  # characters of a bar's label shown; the rest is in its tooltip

# Time chart: one column per day, week or month.
PLOT_TOP = 24
PLOT_HEIGHT = 140
AXIS_SPACE = 28
MAX_TICKS = 6  # labels under the columns, at most
MAX_TICK_LABEL = 10
CHAR_WIDTH = 8  # a generous guess at a character's width, to keep tick labels apart
MAX_COLUMN_VALUES = 12  # up to this many columns, each shows its count
EMPTY_HEIGHT = 2 * PAD + ROW

# Characters XML 1.0 cannot carry even escaped; field data might hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}\Z")


def bar_chart(
    title: str,
    items: list[tuple[str, int]],
    *,
    description: str = "",
    empty_text: str = "",
    rtl: bool = False,
    chart_id: str | None = None,
) -> Markup:
    """Draw horizontal bars, one per (label, count), in the order given.

    `chart_id` names the chart's title and description for aria-labelledby;
    by default it is made from the chart's content. Give one to draw the same
    chart twice on a page.
    """
    items = _checked(items, chart_id)
    if not items:
        return _empty("bar", title, description, empty_text, rtl, chart_id)
    top = max(count for _label, count in items)
    rows = []
    for i, (label, count) in enumerate(items):
        y = PAD + i * ROW
        length = count / top * BAR_MAX if top else 0
        rows.append(
            _ROW.format(
                label=_text("chart-label", _start(rtl), y + LABEL_BASELINE, label, MAX_LABEL),
                x=_n(WIDTH - PAD - length if rtl else PAD),
                y=_n(y + BAR_Y),
                width=_n(length),
                height=BAR_HEIGHT,
                value_x=_n(WIDTH - PAD - length - 4 if rtl else PAD + length + 4),
                value_y=_n(y + BAR_Y + BAR_HEIGHT - 3),
                count=count,
            )
        )
    height = 2 * PAD + len(items) * ROW - (ROW - BAR_Y - BAR_HEIGHT)
    return _svg("bar", title, description, items, rtl, chart_id, height, rows)


_ROW = Markup(
    '<g class="chart-row">{label}'
    '<rect class="chart-bar" x="{x}" y="{y}" width="{width}" height="{height}"/>'
    '<text class="chart-value" x="{value_x}" y="{value_y}">{count}</text></g>'
)


def time_chart(
    title: str,
    points: list[tuple[str, int]],
    *,
    description: str = "",
    empty_text: str = "",
    rtl: bool = False,
    chart_id: str | None = None,
) -> Markup:
    """Draw one column per (period label, count), oldest first (on the right when rtl)."""
    points = _checked(points, chart_id)
    if not points:
        return _empty("time", title, description, empty_text, rtl, chart_id)
    top = max(count for _label, count in points)
    slot = (WIDTH - 2 * PAD) / len(points)
    tick_width = max(len(_cut(label, MAX_TICK_LABEL)) for label, _count in points) * CHAR_WIDTH
    ticks = _tick_indexes(len(points), tick_width)
    base = PLOT_TOP + PLOT_HEIGHT
    parts = [_axis(top, rtl, show_top=len(points) > MAX_COLUMN_VALUES)]
    last_tick = -WIDTH
    for i, (label, count) in enumerate(points):
        left = WIDTH - PAD - (i + 1) * slot if rtl else PAD + i * slot
        height = count / top * PLOT_HEIGHT if top else 0
        middle = _n(left + slot / 2)
        value = tick = ""
        if len(points) <= MAX_COLUMN_VALUES:
            value = _COLUMN_VALUE.format(x=middle, y=_n(base - height - 4), count=count)
        # Kept inside the chart (the first and last are near its edges), and apart.
        x = min(max(left + slot / 2, PAD + tick_width / 2), WIDTH - PAD - tick_width / 2)
        if i in ticks and abs(x - last_tick) >= tick_width + 6:
            tick = _text("chart-tick", _n(x), base + 18, label, MAX_TICK_LABEL, "middle")
            last_tick = x
        parts.append(
            _COLUMN.format(
                x=_n(left + slot / 10),
                y=_n(base - height),
                width=_n(slot * 0.8),
                height=_n(height),
                tooltip=f"{_xml(label)}: {count}",
                value=value,
                tick=tick,
            )
        )
    height = base + AXIS_SPACE
    return _svg("time", title, description, points, rtl, chart_id, height, parts)


_COLUMN = Markup(
    '<g class="chart-column">'
    '<rect class="chart-bar" x="{x}" y="{y}" width="{width}" height="{height}">'
    "<title>{tooltip}</title></rect>{value}{tick}</g>"
)
_COLUMN_VALUE = Markup(
    '<text class="chart-value" x="{x}" y="{y}" text-anchor="middle">{count}</text>'
)


def _tick_indexes(count: int, tick_width: float) -> set[int]:
    """Choose the columns that get a label: the first, the last, and evenly between."""
    fit = int((WIDTH - 2 * PAD + 6) // (tick_width + 6))
    fit = max(1, min(MAX_TICKS, count, fit))
    if fit == 1:
        return {0}
    return {round(j * (count - 1) / (fit - 1)) for j in range(fit)}


def _axis(top: int, rtl: bool, *, show_top: bool) -> Markup:
    """The baseline, and with many columns a line at the highest count, labelled."""
    base = PLOT_TOP + PLOT_HEIGHT
    axis = _LINE.format(css_class="chart-axis", x1=PAD, x2=WIDTH - PAD, y=base)
    if show_top and top:
        axis += _LINE.format(css_class="chart-grid", x1=PAD, x2=WIDTH - PAD, y=PLOT_TOP)
        axis += _TOP.format(x=_start(rtl), y=PLOT_TOP - 4, count=top)
    return axis


_LINE = Markup('<line class="{css_class}" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/>')
_TOP = Markup('<text class="chart-value" x="{x}" y="{y}">{count}</text>')


def _svg(kind, title, description, items, rtl, chart_id, height, parts) -> Markup:
    """Wrap a chart's shapes in an <svg> named by its title and described by its data."""
    summary = "; ".join(f"{label}: {count}" for label, count in items)
    return _SVG.format(
        kind=kind,
        width=WIDTH,
        height=_n(height),
        id=chart_id or _chart_id((kind, title, description, items, rtl)),
        direction="rtl" if rtl else "ltr",
        font_size=FONT_SIZE,
        title=_xml(title),
        desc=_xml(" ".join(text for text in (description, summary) if text)),
        body=Markup("").join(parts),
    )


_SVG = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}-chart"'
    ' viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title {id}-desc"'
    ' direction="{direction}" font-size="{font_size}">'
    '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>'
)


def _empty(kind, title, description, empty_text, rtl, chart_id) -> Markup:
    """A chart with nothing to draw: it says so, in the caller's words."""
    text = _EMPTY.format(x=WIDTH // 2, y=EMPTY_HEIGHT // 2 + 5, text=_xml(empty_text))
    description = " ".join(t for t in (description, empty_text) if t)
    return _svg(kind, title, description, [], rtl, chart_id, EMPTY_HEIGHT, [text])


_EMPTY = Markup('<text class="chart-empty" x="{x}" y="{y}" text-anchor="middle">{text}</text>')


def _text(css_class: str, x, y, label: str, limit: int, anchor: str = "") -> Markup:
    """A text of field data, escaped; cut with an ellipsis past `limit`, whole in its tooltip."""
    shown = _cut(label, limit)
    return _TEXT.format(
        css_class=css_class,
        x=x,
        y=_n(y),
        anchor=Markup(' text-anchor="{}"').format(anchor) if anchor else "",
        tooltip=Markup("<title>{}</title>").format(_xml(label)) if shown != label else "",
        # Isolated: a label takes its direction from its own first letter, whatever
        # the page's (an Arabic post name on an English page), its ellipsis at its end.
        shown=f"\u2068{_xml(shown)}\u2069",
    )


def _cut(label: str, limit: int) -> str:
    """Return a label cut to `limit` characters, the last one an ellipsis, if it is longer."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


_TEXT = Markup('<text class="{css_class}" x="{x}" y="{y}"{anchor}>{tooltip}{shown}</text>')


def _start(rtl: bool) -> str:
    # With direction="rtl" on the <svg>, a text starts at its x and runs leftwards.
    return str(WIDTH - PAD) if rtl else str(PAD)


def _xml(text) -> str:
    """Replace the characters XML cannot hold even escaped (Markup.format escapes the rest)."""
    return _NOT_XML.sub("\ufffd", str(text))


def _n(value: float) -> str:
    """Write a coordinate with at most two decimals, without trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _checked(items, chart_id: str | None) -> list[tuple[str, int]]:
    """Refuse counts that are not whole numbers and ids that are not ids; return the items."""
    if chart_id is not None and not _ID.match(chart_id):
        raise ValueError(f"not an id for a chart: {chart_id!r}")
    items = [(str(label), count) for label, count in items]
    for _label, count in items:
        if type(count) is not int or count < 0:
            raise ValueError(f"a chart's counts are whole numbers, 0 or more; not {count!r}")
    return items


def _chart_id(content) -> str:
    """Return an id made from a chart's content: stable, and another chart's differs."""
    digest = hashlib.sha256(repr(content).encode("utf-8", "replace")).hexdigest()
    return f"chart-{digest[:10]}"
