"""The data-quality page's rendering, without Spark: every value escaped, the pandas tables
kept as tables, an empty table said in words. The page built from real data is checked in
test_features_real.py and test_jobs.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from catalog_classifier.reports.quality import Figure, Report, render_html


def _report() -> Report:
    report = Report(Path("out"), Path("out/index.html"))
    report.facts = {
        "generated at": "2026-12-01 03:00 UTC",
        "lakehouse": Path("/data/lake <1>"),
        "listings": "1,234",
        "seller's <b>note</b>": 'a "quote" & more',
    }
    report.figures = [
        Figure("class_distribution", "Class <distribution>", "Largest: 2583 Pool & spa (12%)"),
        Figure("word_cloud", "Most frequent words", "l'eau, the, und"),
    ]
    return report


def test_the_page_escapes_every_value_and_keeps_the_figures_in_order():
    empty = pd.DataFrame(columns=["record_kind", "reason", "count"])
    page = render_html(_report(), {"duplicates": empty, "quarantine": empty})
    assert page.startswith("<!DOCTYPE html>")
    assert "Generated 2026-12-01 03:00 UTC from the\nlakehouse at /data/lake &lt;1&gt;." in page
    assert (
        "<tr><td>seller&#39;s &lt;b&gt;note&lt;/b&gt;</td><td>a &#34;quote&#34; &amp; more" in page
    )
    assert page.count("<img src='figures/") == 2
    first = page.index(
        "<img src='figures/class_distribution.png' alt='Class &lt;distribution&gt;'>"
    )
    assert first < page.index("<img src='figures/word_cloud.png'")
    assert "<figcaption>Largest: 2583 Pool &amp; spa (12%)</figcaption>" in page
    assert page.count("<p class='empty'>None.</p>") == 2
    assert "table.facts td" in page  # the style sheet is inlined


def test_the_tables_are_rendered_by_pandas_with_their_cells_escaped():
    duplicates = pd.DataFrame({"images": [2], "categories": ["10 Books <used>; 2705 Books"]})
    quarantine = pd.DataFrame({"record_kind": ["listing"], "reason": ["bad_id"], "count": [3]})
    page = render_html(_report(), {"duplicates": duplicates, "quarantine": quarantine})
    assert page.count('<table class="dataframe data">') == 2
    assert "<td>10 Books &lt;used&gt;; 2705 Books</td>" in page
    assert "<td>bad_id</td>" in page and "None." not in page
