"""Tables on the page: units in the column names, rounded numbers, "–" for missing values, no bare index."""

from __future__ import annotations

import numpy as np
import pandas as pd

from respirelib.viz.tables import page_table, with_units


def test_result_columns_say_their_unit():
    assert with_units("score ours") == "Score ours (%)" and with_units("sp paper") == "Sp paper (%)"
    assert with_units("score") == "Score (%)"
    assert with_units("se gap") == "se gap"  # no gap columns: ours minus the paper's real ICBHI numbers misleads
    assert with_units("n seeds") == "n seeds" and with_units("change", {"change": "points"}) == "change (points)"


def test_page_table_rounds_hides_the_index_and_shows_missing_as_a_dash():
    table = pd.DataFrame({"score ours": [55.2345, np.nan], "note": [None, "no test cycles"]},
                         index=pd.Index(["AKGC417L", "LittC2SE"], name="device"))
    html = page_table(table).to_html()
    assert "55.2<" in html and "55.23" not in html
    assert "nan" not in html.lower() and "None" not in html and html.count("–") == 2
    assert ">device<" in html and ">Score ours (%)<" in html
    plain = page_table(pd.DataFrame({"x": [1.0]})).to_html()
    assert 'class="row_heading' not in plain  # the bare 0, 1, ... index is not shown
    share = page_table(pd.DataFrame({"share": [0.1234]}), formats={"share": "{:.1%}"}).to_html()
    assert "12.3%" in share


def test_page_table_keeps_every_columns_format():
    """Each column's own format holds beside the others (one ``Styler.format`` call per column resets the rest)."""
    table = pd.DataFrame({"band_blank": [0.179698, np.nan], "clipped": [1.0, 0.5], "mean_blank_rows": [10.93, 2.0],
                          "cycles": [12.0, 3.0]}, index=pd.Index(["Meditron", "Litt3200"], name="device"))
    html = page_table(table, formats={"band_blank": "{:.1%}", "clipped": "{:.1%}",
                                      "mean_blank_rows": "{:.1f}"}).to_html()
    assert ">18.0%<" in html and ">100.0%<" in html and ">50.0%<" in html and ">10.9<" in html
    assert "0.179698" not in html and "0.2<" not in html and html.count("–") == 1
    assert ">12.0<" in html  # the columns without a format keep the default rounding
