"""The dashboard's SVG charts: well-formed, no inline style, escaped, mirrored, proportional.

Geometry expected here is worked out by hand from the layout: a chart is 320
units wide with 8 units of padding; the longest bar is 320 - 16 - 48 = 256
units; a time chart's columns stand on y = 24 + 140 = 164 and the highest is
140 units tall.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import Markup, escape

from intake.workspace.charts import bar_chart, time_chart

SVG = "{http://www.w3.org/2000/svg}"
ISOLATES = "\u2068\u2069"
CSS = Path(__file__).parent.parent / "intake" / "static" / "charts.css"


def parse(chart: Markup) -> ET.Element:
    assert isinstance(chart, Markup)
    return ET.fromstring(str(chart))  # noqa: S314 - our own output, parsed to check it


def find(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter() if css_class in e.get("class", "").split()]


def shown(element: ET.Element) -> str:
    """The text a <text> element shows: its own, after any <title> child, without isolates."""
    parts = [element.text or ""] + [child.tail or "" for child in element]
    return "".join(parts).strip(ISOLATES)


def tooltip(element: ET.Element) -> str | None:
    title = element.find(f"{SVG}title")
    return None if title is None else title.text


def numbers(elements, name: str) -> list[float]:
    return [float(e.get(name)) for e in elements]


ITEMS = [("Border crossing", 40), ("Bus station", 10), ("Port", 0)]
POINTS = [("Mon", 2), ("Tue", 4), ("Wed", 0), ("Thu", 1)]
ALL_CHARTS = [
    bar_chart("Cases by field post", ITEMS, description="Open cases."),
    bar_chart("Cases by field post", ITEMS, rtl=True),
    time_chart("Cases per day", POINTS),
    time_chart("Cases per day", [(f"2026-11-{d:02d}", d % 5) for d in range(1, 31)], rtl=True),
    bar_chart("Nothing", [], empty_text="No data yet"),
    time_chart("Nothing", [], empty_text="No data yet", rtl=True),
]


@pytest.mark.parametrize("chart", ALL_CHARTS)
def test_a_chart_is_an_accessible_svg_that_scales(chart):
    root = parse(chart)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert "width" not in root.attrib and "height" not in root.attrib
    assert re.fullmatch(r"0 0 320 \d+(\.\d+)?", root.get("viewBox"))
    title_id, desc_id = root.get("aria-labelledby").split()
    title, desc = root[0], root[1]
    assert (title.tag, title.get("id")) == (f"{SVG}title", title_id)
    assert (desc.tag, desc.get("id")) == (f"{SVG}desc", desc_id)
    assert title.text in ("Cases by field post", "Cases per day", "Nothing")


@pytest.mark.parametrize("chart", ALL_CHARTS)
def test_a_chart_has_no_inline_style_nor_script(chart):
    """The pages' Content-Security-Policy (style-src 'self') would refuse them."""
    for element in parse(chart).iter():
        assert element.tag not in (f"{SVG}style", f"{SVG}script", f"{SVG}foreignObject")
        assert "style" not in element.attrib
        assert not [a for a in element.attrib if a.lower().startswith("on")]
        assert not [v for v in element.attrib.values() if "url(" in v or "javascript:" in v]


def test_every_class_a_chart_uses_is_styled_in_charts_css():
    css = CSS.read_text("utf-8")
    styled = set(re.findall(r"\.([a-z][a-z-]*)", css))
    used = {
        c for chart in ALL_CHARTS for e in parse(chart).iter() for c in e.get("class", "").split()
    }
    assert used - {"bar-chart", "time-chart"} <= styled
    assert "@import" not in css and "url(" not in css  # nothing fetched from elsewhere


def test_labels_are_text_never_markup():
    hostile = '<script>alert("x")</script>'
    breaking = '" onmouseover="alert(1)'
    chart = bar_chart(f"Posts & <b>{hostile}</b>", [(hostile, 3), (breaking, 2)])
    root = parse(chart)
    assert [shown(e) for e in find(root, "chart-label")] == [hostile, breaking]
    assert root[0].text == f"Posts & <b>{hostile}</b>"
    assert "<script" not in str(chart) and "<b>" not in str(chart)
    assert "&lt;script&gt;" in str(chart)
    assert escape(chart) == chart  # safe in a template as it is, never escaped twice
    column = time_chart("T", [(hostile, 1)])
    assert tooltip(find(parse(column), "chart-bar")[0]) == f"{hostile}: 1"
    assert shown(find(parse(column), "chart-tick")[0]) == "<script>a…"


def test_characters_xml_cannot_hold_are_replaced():
    root = parse(bar_chart("T\x00", [("a\x00b\x0bc\ud800", 1)], description="d\x1f"))
    assert shown(find(root, "chart-label")[0]) == "a\ufffdb\ufffdc\ufffd"
    assert root[0].text == "T\ufffd"


def test_a_long_label_is_cut_with_an_ellipsis_and_kept_whole_in_its_tooltip():
    long = "Checkpoint on the northern road, 12 km past the river bridge"
    root = parse(bar_chart("T", [(long, 5), ("Short", 1)]))
    cut, whole = find(root, "chart-label")
    # The first 39 characters, less the space they end with, and an ellipsis.
    assert shown(cut) == "Checkpoint on the northern road, 12 km…"
    assert tooltip(cut) == long
    assert (shown(whole), tooltip(whole)) == ("Short", None)


def test_bars_are_as_long_as_their_counts_in_the_order_given():
    root = parse(bar_chart("T", ITEMS))
    bars = find(root, "chart-bar")
    assert numbers(bars, "width") == [256, 64, 0]
    assert numbers(bars, "x") == [8, 8, 8]
    assert numbers(bars, "y") == [30, 76, 122]
    assert [shown(e) for e in find(root, "chart-label")] == [
        "Border crossing",
        "Bus station",
        "Port",
    ]
    values = find(root, "chart-value")
    assert [e.text for e in values] == ["40", "10", "0"]
    assert numbers(values, "x") == [268, 76, 12]  # 4 units past each bar's end
    thirds = parse(bar_chart("T", [("a", 3), ("b", 1), ("c", 2)]))
    assert numbers(find(thirds, "chart-bar"), "width") == [256, 85.33, 170.67]


def test_right_to_left_mirrors_the_bars():
    root = parse(bar_chart("T", ITEMS, rtl=True))
    assert root.get("direction") == "rtl"
    bars = find(root, "chart-bar")
    assert numbers(bars, "width") == [256, 64, 0]
    assert numbers(bars, "x") == [56, 248, 312]  # each ends at 320 - 8
    assert numbers(find(root, "chart-value"), "x") == [52, 244, 308]
    assert numbers(find(root, "chart-label"), "x") == [312, 312, 312]
    assert parse(bar_chart("T", ITEMS)).get("direction") == "ltr"


def test_columns_are_as_tall_as_their_counts_and_time_runs_the_page_s_way():
    root = parse(time_chart("T", POINTS))
    columns = find(root, "chart-bar")
    assert numbers(columns, "height") == [70, 140, 0, 35]
    assert numbers(columns, "y") == [94, 24, 164, 129]
    assert numbers(columns, "width") == [60.8] * 4  # 304 / 4 = 76 a slot, 80% of it
    assert numbers(columns, "x") == [15.6, 91.6, 167.6, 243.6]
    assert [tooltip(c) for c in columns] == ["Mon: 2", "Tue: 4", "Wed: 0", "Thu: 1"]
    assert [shown(t) for t in find(root, "chart-tick")] == ["Mon", "Tue", "Wed", "Thu"]
    mirrored = parse(time_chart("T", POINTS, rtl=True))
    assert numbers(find(mirrored, "chart-bar"), "x") == [243.6, 167.6, 91.6, 15.6]
    assert numbers(find(mirrored, "chart-bar"), "height") == [70, 140, 0, 35]


def test_many_columns_get_a_few_labels_apart_and_a_line_at_the_highest_count():
    points = [(f"2026-11-{d:02d}", d % 7) for d in range(1, 31)]
    root = parse(time_chart("T", points))
    assert len(find(root, "chart-bar")) == 30
    ticks = find(root, "chart-tick")
    assert [shown(t) for t in ticks] == ["2026-11-01", "2026-11-15", "2026-11-30"]
    xs = numbers(ticks, "x")
    assert all(b - a >= 10 * 8 for a, b in zip(xs, xs[1:], strict=False))
    assert xs[0] - 40 >= 8 and xs[-1] + 40 <= 312  # inside the chart
    assert find(root, "chart-value")[0].text == "6"  # no count on each of 30 columns
    assert len(find(root, "chart-grid")) == 1


@pytest.mark.parametrize("draw", [bar_chart, time_chart])
def test_no_data_says_so_in_the_caller_s_words(draw):
    root = parse(draw("Cases", [], description="Open cases.", empty_text="Nothing yet <b>"))
    assert [e.text for e in find(root, "chart-empty")] == ["Nothing yet <b>"]
    assert find(root, "chart-bar") == []
    assert root[1].text == "Open cases. Nothing yet <b>"


def test_the_description_gives_the_data_to_screen_readers():
    root = parse(bar_chart("T", ITEMS, description="Open cases."))
    assert root[1].text == "Open cases. Border crossing: 40; Bus station: 10; Port: 0"


def test_ids_differ_between_charts_and_can_be_given():
    ids = {parse(c).get("aria-labelledby") for c in ALL_CHARTS}
    assert len(ids) == len(ALL_CHARTS)
    assert bar_chart("T", ITEMS) == bar_chart("T", ITEMS)  # the same chart, the same bytes
    given = parse(bar_chart("T", ITEMS, chart_id="by-post"))
    assert given.get("aria-labelledby") == "by-post-title by-post-desc"
    with pytest.raises(ValueError):
        bar_chart("T", ITEMS, chart_id='x" onload="y')


@pytest.mark.parametrize("count", [-1, 1.5, "3", True, None])
def test_counts_are_whole_numbers(count):
    with pytest.raises(ValueError):
        bar_chart("T", [("a", count)])
    with pytest.raises(ValueError):
        time_chart("T", [("a", count)])


def test_all_zero_counts_draw_empty_bars():
    root = parse(bar_chart("T", [("a", 0), ("b", 0)]))
    assert numbers(find(root, "chart-bar"), "width") == [0, 0]
    assert numbers(find(parse(time_chart("T", [("a", 0)])), "chart-bar"), "height") == [0]
