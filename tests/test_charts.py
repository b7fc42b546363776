"""The dashboard's SVG charts: well-formed, escaped, labelled, readable without colour."""

import xml.etree.ElementTree as ET

from restock_waitlist import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    return ET.fromstring(str(svg))


def test_a_bar_chart_is_labelled_and_writes_its_values():
    svg = parse(
        charts.bar_chart(
            "Most waited", [("Sneaker", [2, 3]), ("Beanie", [0, 1])], ["VIP", "Standard"], "Why"
        )
    )
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert (title.text, desc.text) == ("Most waited", "Why")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert [bar.find(f"{SVG}title").text for bar in bars(svg)] == [
        "Sneaker: VIP 2",
        "Sneaker: Standard 3",
        "Beanie: Standard 1",
    ]
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    # A legend (two series), each row's label and total.
    assert texts == ["VIP", "Standard", "Sneaker", "5", "Beanie", "1"]


def test_series_differ_by_pattern_not_only_colour():
    svg = str(charts.bar_chart("t", [("a", [1, 1, 1])], ["one", "two", "three"]))
    assert 'class="rw-s0"' in svg
    assert "-hatched)" in svg and "-dotted)" in svg
    assert "<pattern" in svg


def bars(svg):
    """The chart's bars: the rectangles with a title of their own."""
    return [rect for rect in svg.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]


def test_bars_are_scaled_to_the_largest():
    svg = parse(charts.bar_chart("t", [("big", [10]), ("half", [5])], ["n"]))
    big, half = (float(bar.get("width")) for bar in bars(svg))
    assert big == 2 * half


def test_text_is_escaped():
    nasty = '<script>alert("x")</script> & co'
    svg = charts.bar_chart(nasty, [(nasty, [1])], [nasty], nasty)
    assert "<script>" not in str(svg)
    parsed = parse(svg)
    assert parsed.find(f"{SVG}title").text == nasty
    column = charts.column_chart(nasty, [nasty], [(nasty, [1])], nasty)
    assert "<script>" not in str(column)
    assert parse(column).find(f"{SVG}desc").text == nasty


def test_a_long_label_is_cut_and_kept_whole_in_the_title():
    name = "A very long product name – with its variant / size 270"
    svg = parse(charts.bar_chart("t", [(name, [1])], ["n"]))
    label = next(text.text for text in svg.iter(f"{SVG}text"))
    assert label.endswith("…") and len(label) < len(name)
    assert any(
        t.text == f"{name}: n 1"
        for rect in svg.iter(f"{SVG}rect")
        for t in rect.iter(f"{SVG}title")
    )


def test_a_column_chart_labels_its_scale_and_each_column():
    labels = [f"11/{day}" for day in range(1, 31)]
    joined = list(range(30))
    cancelled = [1] * 30
    svg = parse(
        charts.column_chart("Growth", labels, [("joined", joined), ("cancelled", cancelled)])
    )
    titles = [t.text for rect in svg.iter(f"{SVG}rect") for t in rect.iter(f"{SVG}title")]
    assert len(titles) == 60 and "11/30: joined 29" in titles and "11/1: cancelled 1" in titles
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert "29" in texts and "0" in texts  # the top and the bottom of the scale
    shown = [label for label in labels if label in texts]
    assert 3 <= len(shown) <= 8  # a few dates along the bottom, not thirty


def test_empty_charts_draw_nothing_wrong():
    assert parse(charts.bar_chart("t", [], ["n"])).get("viewBox")
    assert parse(charts.column_chart("t", [], [("n", [])])).get("viewBox")
    zeros = parse(charts.column_chart("t", ["a"], [("n", [0])]))
    assert all(float(rect.get("height", 1)) >= 0 for rect in zeros.iter(f"{SVG}rect"))


def test_two_charts_on_a_page_have_their_own_ids():
    first, second = parse(charts.bar_chart("a", [], ["n"])), parse(charts.bar_chart("b", [], ["n"]))
    assert first.get("aria-labelledby") != second.get("aria-labelledby")
