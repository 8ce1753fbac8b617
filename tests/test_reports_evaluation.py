"""The evaluation page's rendering, without Spark: escaping, nesting of rendered fragments, the
fusion notes, and the templates shipped as package data. The page built from a real run is
checked in test_train.py."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from catalog_classifier.reports import evaluation as page
from catalog_classifier.reports.confusions import ImageContribution, confusion_pairs
from catalog_classifier.reports.rendering import environment

ROOT = Path(__file__).resolve().parents[1]
NAMES = {10: "Livres d'occasion", 40: "Jeux <script>alert(1)</script>", 50: "Magazines & co"}


@dataclass
class _Evaluation:
    model: str = "tfidf"
    split: str = "test"
    version: str | None = "3"
    rows: int = 12
    metrics: dict[str, float] = field(
        default_factory=lambda: {"weighted_f1": 0.61234, "macro_f1": 0.5, "accuracy": 0.75}
    )
    per_class: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "prdtypecode": [10, 40, 50],
                "category": [NAMES[10], NAMES[40], NAMES[50]],
                "precision": [0.9, 0.2, 0.5],
                "recall": [0.8, 0.1, 0.5],
                "f1": [0.85, 0.13, 0.5],
                "support": [5, 4, 3],
            }
        )
    )
    confusion: np.ndarray = field(
        default_factory=lambda: np.array([[4, 1, 0], [3, 1, 0], [0, 1, 2]])
    )
    codes: list[int] = field(default_factory=lambda: [10, 40, 50])
    fold_scores: list[float] = field(default_factory=list)

    @property
    def weighted_f1_std(self) -> float | None:
        return float(np.std(self.fold_scores)) if self.fold_scores else None


PAIRS = confusion_pairs(_Evaluation().confusion, [10, 40, 50], NAMES, top=1, watched=[(50, 10)])


def test_a_model_section_escapes_names_and_reads_the_weakest_category():
    html = page.model_section(_Evaluation(), Path("figures/confusion_tfidf.png"), PAIRS)
    assert isinstance(html, Markup)
    assert "<script>" not in html and "Jeux &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Livres d&#39;occasion" in html and "Magazines &amp; co" in html
    assert "<b>Weighted F1 0.6123</b>" in html
    assert "the weakest category is 40 Jeux &lt;script&gt;" in html and "(F1 0.13)" in html
    assert "<img src='figures/confusion_tfidf.png' width='900'>" in html
    assert "<td>75.0%</td>" in html
    # The watched pair 50 -> 10 is listed and marked at 0 listings; no member columns here.
    assert "<tr class='watched'><td>★ 50 Magazines &amp; co</td><td>10 Livres" in html
    assert "<td>0</td><td>0.0%</td>" in html and "★ a watched pair" in html
    assert "<details><summary>Per-category" in html and " F1</th>" not in html
    assert "without the image model" not in html
    # worst first in the per-category table
    assert html.index("<td>0.13</td>") < html.index("<td>0.50</td>") < html.index("<td>0.85</td>")
    assert "Most confident mistakes" not in html


def test_the_fused_models_per_class_report_shows_each_members_f1_open():
    per_class = _Evaluation().per_class.assign(f1_tfidf=[0.8, np.nan, 0.4], f1_image=0.25)
    unwatched = PAIRS.assign(watched=False, count_without_image=5)
    html = page.model_section(_Evaluation(), Path("c.png"), unwatched, per_class=per_class)
    assert "<th>listings without the image model</th></tr>" in html
    assert "<td>3</td><td>75.0%</td><td>5</td></tr>" in html
    assert "<details open><summary>Per-category" in html
    assert "<th>support</th><th>tfidf F1</th><th>image F1</th></tr>" in html
    # worst first, a member without a listing of the class shows "-"
    assert "<td>0.13</td><td>4</td><td>-</td><td>0.25</td></tr>" in html
    assert html.index("<td>0.13</td>") < html.index("<td>0.85</td><td>5</td><td>0.80</td>")
    assert "watched" not in html


CONTRIBUTION = ImageContribution(
    with_image_rows=40,
    weighted_f1_with=0.81234,
    weighted_f1_without=0.75,
    fixed=5,
    broken=2,
    without_image_rows=12,
    without_image_changed=0,
    by_class=pd.DataFrame(
        {
            "prdtypecode": [40, 10],
            "category": [NAMES[40], NAMES[10]],
            "listings": [10, 30],
            "fixed": [4, 1],
            "broken": [0, 2],
            "net": [4, -1],
        }
    ),
)


def test_the_image_contribution_section():
    html = page.image_contribution_section(CONTRIBUTION, ["image"])
    assert "<h3>What the image model adds</h3>" in html
    assert "<th>fusion without image</th>" in html
    assert (
        "<tr><td>40</td><td>0.8123</td><td>0.7500</td><td>+0.0623</td><td>5</td><td>2</td></tr>"
        in html
    )
    assert "(net +3 listings)" in html
    assert "<td>40</td><td>Jeux &lt;script&gt;alert(1)&lt;/script&gt;</td><td>10</td>" in html
    assert "<td>-1</td></tr>" in html and "(2 categories, most helped first)" in html
    assert "On the 12 listings without an image the image model does not vote" in html
    changed = dataclasses.replace(CONTRIBUTION, without_image_changed=3)
    flagged = page.image_contribution_section(changed, ["image"])
    assert "<b>On 3 of the 12 listings without an" in flagged and "does not vote" not in flagged
    empty = dataclasses.replace(
        CONTRIBUTION, with_image_rows=0, without_image_rows=0, by_class=CONTRIBUTION.by_class[:0]
    )
    html = page.image_contribution_section(empty, [])
    assert "No listing here has an image member" in html and "<table>" not in html


def test_cross_validated_scores_show_their_spread_over_the_folds():
    evaluation = _Evaluation(split="cv3", version=None, fold_scores=[0.5, 0.6, 0.7])
    html = page.model_section(evaluation, Path("figures/c.png"), PAIRS[:0])
    assert "(version -)" in html
    assert " ± 0.0816 over 3 folds (0.500, 0.600, 0.700)" in html


def test_rendered_fragments_nest_unescaped_and_plain_strings_do_not(tmp_path):
    examples = Markup("<table><tr><td>mistake</td></tr></table>")
    section = page.model_section(_Evaluation(), Path("figures/c.png"), PAIRS, examples)
    section += page.image_contribution_section(CONTRIBUTION, ["image"])
    assert "<h3>Most confident mistakes</h3><table><tr><td>mistake</td>" in section
    path = page.write_page(
        tmp_path, "Evaluation <on> test", [_Evaluation()], [section, "<i>plain</i>"], "run-1"
    )
    written = path.read_text(encoding="utf-8")
    assert path == tmp_path / "index.html"
    assert "<title>Evaluation &lt;on&gt; test</title>" in written
    assert "<h3>Most confident mistakes</h3><table>" in written
    assert "★ 50 Magazines" in written and "What the image model adds" in written
    assert "&lt;i&gt;plain&lt;/i&gt;" in written  # a str is not trusted HTML
    assert "<td>tfidf</td><td>3</td><td>12</td>" in written
    assert "border-collapse:collapse" in written  # the style sheet is inlined


def test_a_page_without_evaluations_says_to_train_first(tmp_path):
    written = page.write_page(tmp_path, "t", [], [], "run-2", name="cv.html").read_text()
    assert "No model evaluated: train one first." in written


def test_the_fusion_notes_and_section():
    note = page.fusion_note(
        "stack<lr>",
        {"tfidf": "3"},
        {"method": "stack"},
        0.81234,
        0.95,
        {"needs_review_share": 0.1234, "precision_not_reviewed": 0.98765},
    )
    assert note == (
        "<p>Method: stack&lt;lr&gt; (members {&#39;tfidf&#39;: &#39;3&#39;}); selection on the "
        "valid split: {&#34;method&#34;: &#34;stack&#34;}.</p><p>Review threshold 0.812 (chosen "
        "on the valid split for precision 95%): 12.3% of these listings go to review; the "
        "others are right 98.8% of the time.</p>"
    )
    all_reviewed = page.fusion_note("mean", {}, {}, 0.9, 0.95, {"needs_review_share": 1.0})
    assert all_reviewed.endswith("100.0% of these listings go to review.</p>")
    cv = page.fusion_cv_note(["stack", "mean", "stack"], [0.01, 0.03])
    assert "mean ×1, stack ×2" in cv and "+0.0200 ± 0.0100" in cv
    assert "nan ± 0.0000" in page.fusion_cv_note(["mean"], [])
    groups = {
        "with_image_rows": 4,
        "with_image_fusion_weighted_f1": 0.7,
        "with_image_tfidf_weighted_f1": 0.6,
    }
    section = page.fusion_section(groups, Path("figures/rel.png"), 0.0456, note)
    assert (
        "<td>with image</td><td>4</td><td>0.7000</td><td>0.6000</td><td>-</td><td>-</td>" in section
    )
    assert "without image" not in section
    assert "Expected calibration error 0.046" in section and "<p>Method: stack&lt;lr&gt;" in section
    chars = page.fusion_section(
        {**groups, "with_image_chars_weighted_f1": 0.3}, Path("r.png"), 0.1, note, ("chars",)
    )
    assert "<th>fusion</th><th>chars</th></tr>" in chars and "<th>tfidf</th>" not in chars
    assert "<td>0.7000</td><td>0.3000</td></tr>" in chars


def test_every_template_compiles_and_ships_as_package_data():
    templates = ROOT / "lib" / "catalog_classifier" / "reports" / "templates"
    names = environment().list_templates()
    assert sorted(names) == sorted(
        p.relative_to(templates).as_posix() for p in templates.rglob("*") if p.is_file()
    )
    for name in names:
        environment().get_template(name)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["catalog_classifier.reports"]
    assert "templates/**/*" in shipped
