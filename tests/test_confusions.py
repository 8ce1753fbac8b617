"""The evaluation page's confusion figures on hand-made predictions whose tables are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catalog_classifier.reports.confusions import (
    confusion_pairs,
    image_contribution,
    per_class_report,
    with_member_f1,
)

NAMES = {10: "Used books", 40: "Retro games", 50: "Accessories"}


def _one_hot(predicted: list[int], classes: int = 3) -> np.ndarray:
    return np.eye(classes)[predicted]


def test_per_class_scores_with_each_member_on_the_listings_it_scored():
    labels = np.array([0, 0, 0, 1, 1, 2])
    fused = np.array([0, 0, 1, 1, 0, 2])
    report = per_class_report(labels, fused, [10, 40, 50], NAMES)
    assert report["prdtypecode"].tolist() == [10, 40, 50]
    assert report["category"].tolist() == ["Used books", "Retro games", "Accessories"]
    assert report["support"].tolist() == [3, 2, 1]
    assert report["precision"].tolist() == pytest.approx([2 / 3, 1 / 2, 1])
    assert report["recall"].tolist() == pytest.approx([2 / 3, 1 / 2, 1])
    assert report["f1"].tolist() == pytest.approx([2 / 3, 1 / 2, 1])
    # The image member scored rows 0, 1 and 3 only (the others have no image): its mistakes on
    # the others do not count, and class 50 has no listing it scored.
    members = {
        "text": (np.array([0, 1, 1, 1, 1, 2]), np.ones(6, bool)),
        "image": (np.array([0, 1, 2, 1, 2, 2]), np.array([1, 1, 0, 1, 0, 0], bool)),
    }
    out = with_member_f1(report, labels, members, [10, 40, 50])
    assert out["f1_text"].tolist() == pytest.approx([1 / 2, 2 / 3, 1])
    assert out["f1_image"].tolist()[:2] == pytest.approx([2 / 3, 2 / 3])
    assert np.isnan(out["f1_image"].iloc[2])
    assert "f1_text" not in report  # the caller's report is left as it was
    nothing = with_member_f1(report, labels, {"image": (fused, np.zeros(6, bool))}, [10, 40, 50])
    assert nothing["f1_image"].isna().all()


CODES = [10, 1280, 1300, 2705]
CONFUSION = np.array(
    [
        [5, 0, 0, 1],  # 10: once taken for 2705
        [0, 6, 3, 0],  # 1280: 3 times for 1300
        [0, 1, 4, 0],  # 1300: once for 1280
        [0, 0, 0, 2],  # 2705: never for 10
    ]
)
WATCHED = [(1280, 1300), (2705, 10), (9999, 10)]


def test_the_most_frequent_pairs_then_the_watched_ones_even_at_zero():
    pairs = confusion_pairs(CONFUSION, CODES, {1280: "Toys"}, top=2, watched=WATCHED)
    expected = pd.DataFrame(
        {
            "true": [1280, 10, 2705],
            "true_name": ["Toys", "", ""],
            "predicted": [1300, 2705, 10],
            "predicted_name": ["", "", ""],
            "count": [3, 1, 0],
            "share_of_true": [3 / 9, 1 / 6, 0.0],
            "watched": [True, False, True],
        }
    )
    pd.testing.assert_frame_equal(pairs, expected)
    # A tie (10 -> 2705 and 1300 -> 1280, once each) keeps the matrix's order; a watched pair
    # of a code outside the classes (9999) is left out.
    every = confusion_pairs(CONFUSION, CODES, {}, top=10, watched=WATCHED)
    assert list(zip(every["true"], every["predicted"], every["count"], strict=True)) == [
        (1280, 1300, 3),
        (10, 2705, 1),
        (1300, 1280, 1),
        (2705, 10, 0),
    ]
    assert confusion_pairs(np.eye(4, dtype=int), CODES, {}, top=5).empty
    assert "count_without_image" not in every
    # Beside each pair, its count when the model drops its image members.
    without = CONFUSION + np.array([[0, 0, 0, 0], [0, -4, 4, 0], [0, 0, 0, 0], [1, 0, 0, -1]])
    compared = confusion_pairs(CONFUSION, CODES, {}, top=2, watched=WATCHED, without_image=without)
    assert compared["count_without_image"].tolist() == [7, 1, 1]


def test_what_the_image_members_fix_and_break_on_the_listings_with_an_image():
    labels = np.array([0, 1, 2, 0, 1])
    has_image = np.array([True, True, True, False, False])
    fused = _one_hot([0, 1, 0, 0, 2])
    without = _one_hot([1, 1, 2, 0, 2])  # rows 3-4: no image, so the same prediction
    c = image_contribution(labels, fused, without, has_image, [10, 40, 50], NAMES)
    assert (c.with_image_rows, c.without_image_rows) == (3, 2)
    assert (c.fixed, c.broken, c.without_image_changed) == (1, 1, 0)  # row 0 fixed, row 2 broken
    # With: [0, 1, 0] for [0, 1, 2]; without: [1, 1, 2]. Either way F1 2/3, 1, 0 per class.
    assert c.weighted_f1_with == pytest.approx(5 / 9)
    assert c.weighted_f1_without == pytest.approx(5 / 9)
    expected = pd.DataFrame(
        {
            "prdtypecode": [10, 50],
            "category": ["Used books", "Accessories"],
            "listings": [1, 1],
            "fixed": [1, 0],
            "broken": [0, 1],
            "net": [1, -1],
        }
    )
    pd.testing.assert_frame_equal(c.by_class, expected, check_dtype=False)
    assert c.metrics()["image_contribution_fixed"] == 1.0
    # An image member that moved a listing without an image would be a fusion bug: counted.
    moved = image_contribution(
        labels, fused, _one_hot([1, 1, 2, 0, 1]), has_image, [10, 40, 50], {}
    )
    assert moved.without_image_changed == 1
    none = image_contribution(labels, fused, fused, np.zeros(5, bool), [10, 40, 50], {})
    assert (none.with_image_rows, none.fixed, none.broken) == (0, 0, 0) and none.by_class.empty
