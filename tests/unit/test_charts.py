"""Server-drawn SVG charts: bars in proportion to their values, every label escaped, nothing
the Content Security Policy would block."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from sspr.web.charts import BLUE, ORANGE, Series, horizontal_bars, stacked_columns

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- the chart helper's own output, not outside input


def bars(svg: str) -> list[ET.Element]:
    return [e for e in parse(svg).iter(f"{SVG}rect") if e.get("class") == "bar"]


def horizontal(rows: list[tuple[str, int]]) -> str:
    return str(
        horizontal_bars(
            chart_id="c", title="Registration by method", description="Users", rows=rows
        )
    )


def stacked(labels: list[str], *series: Series) -> str:
    return str(
        stacked_columns(
            chart_id="s", title="Resets", description="Per day", labels=labels, series=series
        )
    )


class TestHorizontalBars:
    def test_bar_lengths_are_proportional_to_the_values(self) -> None:
        svg = horizontal([("Email", 40), ("Text message", 10), ("App", 20), ("Questions", 0)])
        widths = [float(b.get("width", "")) for b in bars(svg)]
        assert len(widths) == 4
        assert widths[0] > 0 and widths[3] == 0
        assert widths[1] / widths[0] == pytest.approx(0.25)
        assert widths[2] / widths[0] == pytest.approx(0.5)
        assert [b.get("data-value") for b in bars(svg)] == ["40", "10", "20", "0"]

    def test_all_zero_values_draw_empty_bars_not_an_error(self) -> None:
        svg = horizontal([("Email", 0), ("App", 0)])
        assert [b.get("width") for b in bars(svg)] == ["0", "0"]

    def test_the_chart_is_named_for_assistive_technology(self) -> None:
        root = parse(horizontal([("Email", 1)]))
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == "c-title c-desc"
        assert root.find(f"{SVG}title").text == "Registration by method"  # type: ignore[union-attr]
        assert root.find(f"{SVG}desc").text == "Users"  # type: ignore[union-attr]

    def test_labels_are_escaped(self) -> None:
        hostile = '<script>alert("x")</script> & "quotes"'
        svg = horizontal([(hostile, 3)])
        assert "<script>" not in svg
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in svg
        # Still well-formed, and the text reads back as it was given.
        texts = [t.text for t in parse(svg).iter(f"{SVG}text")]
        assert hostile in texts

    def test_no_inline_style_or_script(self) -> None:
        svg = horizontal([("Email", 3)]) + stacked(["1 Mar"], Series("Ok", [1], BLUE))
        assert "style=" not in svg and "<script" not in svg and "on" + "load" not in svg

    def test_negative_counts_are_refused(self) -> None:
        with pytest.raises(ValueError, match="never negative"):
            horizontal([("Email", -1)])


class TestStackedColumns:
    def test_one_bar_per_value_stacked_in_proportion(self) -> None:
        svg = stacked(
            ["1 Mar", "2 Mar", "3 Mar"],
            Series("Succeeded", [2, 0, 6], BLUE),
            Series("Failed", [2, 1, 0], ORANGE),
        )
        drawn = bars(svg)
        assert len(drawn) == 6
        heights = [float(b.get("height", "")) for b in drawn]
        # Per column: succeeded, then failed on top of it.
        first, second, third = heights[0:2], heights[2:4], heights[4:6]
        assert sum(third) == pytest.approx(180)  # the tallest column spans the plot
        assert sum(first) / sum(third) == pytest.approx(4 / 6)
        assert second[1] / sum(third) == pytest.approx(1 / 6)
        assert first[0] == pytest.approx(first[1])
        # The failed segment sits right on top of the succeeded one.
        y = [float(b.get("y", "")) for b in drawn]
        assert y[1] + heights[1] == pytest.approx(y[0])
        assert {b.get("fill") for b in drawn} == {BLUE, ORANGE}

    def test_labels_and_series_names_are_escaped(self) -> None:
        svg = stacked(["<b>day</b>"], Series("A & <i>B</i>", [1], BLUE))
        assert "<b>" not in svg and "<i>" not in svg
        assert "&lt;b&gt;day&lt;/b&gt;" in svg and "A &amp; &lt;i&gt;B&lt;/i&gt;" in svg
        parse(svg)

    def test_only_every_nth_label_is_written(self) -> None:
        labels = [f"{n} Mar" for n in range(1, 31)]
        svg = str(
            stacked_columns(
                chart_id="s",
                title="t",
                description="d",
                labels=labels,
                series=[Series("Ok", [1] * 30, BLUE)],
                label_every=7,
            )
        )
        written = re.findall(r">(\d+ Mar)</text>", svg)
        assert written == ["1 Mar", "8 Mar", "15 Mar", "22 Mar", "29 Mar"]

    def test_a_series_of_the_wrong_length_or_colour_is_refused(self) -> None:
        with pytest.raises(ValueError, match="values"):
            stacked(["1 Mar", "2 Mar"], Series("Ok", [1], BLUE))
        with pytest.raises(ValueError, match="colours"):
            stacked(["1 Mar"], Series("Ok", [1], 'red" onclick="x'))
