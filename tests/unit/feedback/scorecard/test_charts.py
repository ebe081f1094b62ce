"""Scorecard charts are well-formed SVG, labelled for assistive technology, and carry their figures as a table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback.scorecard.charts import (
    Bar,
    Chart,
    LineSeries,
    Tile,
    bar_chart,
    format_change,
    format_value,
    line_chart,
    rag_tiles,
)
from feedback.scorecard.formulas import Change, Status, Trend
from feedback.scorecard.measures import Unit

SVG = "{http://www.w3.org/2000/svg}"


def parsed(chart: Chart) -> ET.Element:
    root = ET.fromstring(chart.svg)  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == f"{SVG}svg"
    return root


def assert_labelled(chart: Chart, title: str, description: str) -> ET.Element:
    root = parsed(chart)
    assert root.get("role") == "img"
    labels = (root.get("aria-labelledby") or "").split()
    by_id = {element.get("id"): element for element in root.iter() if element.get("id")}
    assert [by_id[label].tag for label in labels] == [f"{SVG}title", f"{SVG}desc"]
    assert (by_id[labels[0]].text or "") == title
    assert (by_id[labels[1]].text or "") == description
    assert root[0].tag == f"{SVG}title"  # the first child, where assistive technology looks for the name
    return root


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_bar_chart_of_channel_use() -> None:
    bars = [Bar("Phone", 0.45), Bar("Web chat", 0.1), Bar("Web form", 0.45)]
    chart = bar_chart(
        "channel-use", "Use of each channel", "Share of contacts by channel, May 2026", bars, Unit.percent
    )
    root = assert_labelled(chart, "Use of each channel", "Share of contacts by channel, May 2026")
    assert len(root.findall(f"{SVG}rect")) == 3
    assert {"Phone", "Web chat", "45.0%", "10.0%"} <= set(texts(root))
    assert chart.table.head == ("Category", "Value")
    assert chart.table.rows == (("Phone", "45.0%"), ("Web chat", "10.0%"), ("Web form", "45.0%"))
    assert chart.table.caption == "Use of each channel"


def test_bar_chart_draws_negative_shifts_left_of_zero() -> None:
    chart = bar_chart(
        "shift",
        "Channel shift",
        "Change in share on April",
        [Bar("Phone", -15.0), Bar("Web chat", 10.0)],
        Unit.percentage_points,
    )
    phone, chat = parsed(chart).findall(f"{SVG}rect")
    assert float(phone.get("x", "0")) + float(phone.get("width", "0")) <= float(chat.get("x", "0")) + 0.1
    assert chart.table.rows == (("Phone", "-15.0 pp"), ("Web chat", "+10.0 pp"))


def test_text_from_people_is_escaped() -> None:
    name = 'Bins & "recycling" <north>'
    chart = bar_chart("bins", f"Contacts: {name}", "</desc><script>alert(1)</script>", [Bar(name, 3)], Unit.number)
    root = assert_labelled(chart, f"Contacts: {name}", "</desc><script>alert(1)</script>")
    assert name in texts(root)
    assert "<script>" not in chart.svg


def test_characters_xml_cannot_hold_are_dropped() -> None:
    chart = bar_chart("ctl", "Housing\x00 repairs\x1b", "d", [Bar("Repairs\x07", 1)], Unit.number)
    root = assert_labelled(chart, "Housing repairs", "d")
    assert "Repairs" in texts(root)


def test_a_chart_id_must_be_safe_to_use_as_an_element_id() -> None:
    with pytest.raises(ValueError, match="chart id"):
        bar_chart('x" onload="alert(1)', "t", "d", [], Unit.number)


def test_an_empty_chart_says_there_is_no_data() -> None:
    chart = bar_chart("empty", "Compliments", "Compliments by service", [], Unit.number)
    assert "No data for this period" in texts(assert_labelled(chart, "Compliments", "Compliments by service"))
    assert chart.table.rows == ()


def test_line_chart_with_a_forecast_band() -> None:
    periods = ["Jan", "Feb", "Mar", "Apr", "May"]
    actual = LineSeries("Contacts", [1200, 1100, 1150, None, None])
    forecast = LineSeries(
        "Forecast",
        [None, None, 1150, 1180, 1210],
        low=[None, None, 1150, 1080, 1050],
        high=[None, None, 1150, 1280, 1370],
        dashed=True,
    )
    chart = line_chart("demand", "Demand forecast", "Contacts and forecast", periods, [actual, forecast], Unit.number)
    root = assert_labelled(chart, "Demand forecast", "Contacts and forecast")
    (band,) = root.findall(f"{SVG}polygon")
    assert len(band.get("points", "").split()) == 6  # three periods, along the top and back along the bottom
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert lines[1].get("stroke-dasharray")
    assert chart.table.head == ("Period", "Contacts", "Forecast", "Forecast: low", "Forecast: high")
    assert chart.table.rows[0] == ("Jan", "1,200", "No data", "No data", "No data")
    assert chart.table.rows[4] == ("May", "No data", "1,210", "1,050", "1,370")
    assert "Forecast (with interval)" in texts(root)


def test_a_gap_breaks_the_line() -> None:
    series = LineSeries("Satisfaction", [0.8, None, 0.82, 0.85])
    root = parsed(line_chart("csat", "Satisfaction", "By month", ["J", "F", "M", "A"], [series], Unit.percent))
    assert [len(line.get("points", "").split()) for line in root.findall(f"{SVG}polyline")] == [1, 2]


def test_a_series_must_match_its_periods() -> None:
    with pytest.raises(ValueError, match="one value per period"):
        line_chart("x", "t", "d", ["Jan", "Feb"], [LineSeries("Contacts", [1])], Unit.number)


def test_rag_tiles_write_the_status_out_in_words() -> None:
    tiles = [
        Tile("Customer satisfaction", 0.82, Unit.percent, Status.green, 0.8, Change(0.03, Trend.better)),
        Tile("Average handling time", 395, Unit.seconds, Status.red, 300, Change(20, Trend.worse)),
        Tile("ICT reliability", None, Unit.percent, Status.no_data),
        Tile("Staff leaving", 2, Unit.number, Status.amber, 1, None),
    ]
    chart = rag_tiles("board", "Scorecard, May 2026", "Each measure against its target", tiles)
    root = assert_labelled(chart, "Scorecard, May 2026", "Each measure against its target")
    words = texts(root)
    assert {"On target", "Off target", "No data", "Near target", "82.0%", "6 min 35 s"} <= set(words)
    assert {"+3.0 pp, better", "+20 s, worse", "Target 5 min 00 s"} <= set(words)
    assert chart.table.rows[0] == (
        "Customer satisfaction",
        "82.0%",
        "On target",
        "80.0%",
        "+3.0 pp on previous month (better)",
    )
    assert chart.table.rows[2][3] == "No target set"
    assert chart.table.rows[3][4] == "No previous month"


def test_a_long_measure_name_wraps_onto_two_lines_and_stays_whole_in_the_table() -> None:
    name = "Service requests fulfilled within the service level"
    chart = rag_tiles("long", "Board", "d", [Tile(name, 0.91, Unit.percent, Status.green, 0.9)])
    words = texts(parsed(chart))
    assert words[:2] == ["Service requests", "fulfilled within the se…"]
    assert chart.table.rows[0][0] == name


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.8234, Unit.percent, "82.3%"),
        (-2.25, Unit.percentage_points, "-2.2 pp"),
        (42, Unit.seconds, "42 s"),
        (65, Unit.seconds, "1 min 05 s"),
        (3 * 3600 + 125, Unit.seconds, "3 h 02 min"),
        (12345, Unit.number, "12,345"),
        (7.5, Unit.hours, "7.5 hours"),
        (3.0, Unit.days, "3.0 days"),
        (4.256, Unit.score, "4.26"),
        (None, Unit.score, "No data"),
    ],
)
def test_figures_are_written_for_people(value: float | None, unit: Unit, text: str) -> None:
    assert format_value(value, unit) == text


def test_changes_on_a_share_are_in_percentage_points() -> None:
    assert format_change(Change(-0.021, Trend.worse), Unit.percent) == "-2.1 pp on previous month (worse)"
    assert format_change(Change(0, Trend.unchanged), Unit.number) == "+0 on previous month (no change)"


@given(
    values=st.lists(st.none() | st.floats(-1e9, 1e9), min_size=1, max_size=30),
    label=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40),
)
def test_any_figures_and_labels_give_well_formed_labelled_svg(values: list[float | None], label: str) -> None:
    periods = [f"P{index}" for index in range(len(values))]
    line = line_chart("any", label, label, periods, [LineSeries(label, values)], Unit.number)
    assert_labelled(line, label, label)
    bars = bar_chart("bars", label, label, [Bar(label, value or 0.0) for value in values], Unit.number)
    assert len(parsed(bars).findall(f"{SVG}rect")) == len(values)
