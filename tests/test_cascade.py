"""The scoring cascade (models/cascade.py): thresholds chosen on valid rows keep the weighted F1
within the bound, listings that leave early are never shown to the later members, and without a
cascade (scoring.cascade false, or none saved) the output is the full fusion's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catalog_classifier.models import cascade
from catalog_classifier.models.fusion import fit_fusion, fuse_batch
from catalog_classifier.models.metrics import weighted_f1

K = 5
MODALITIES = {"tfidf": "text", "use": "text", "text": "text", "image": "image"}
COSTS = {"tfidf": 0.005, "use": 0.165, "image": 0.253, "text": 0.571}


def _members(n: int, seed: int) -> tuple[np.ndarray, dict, dict]:
    """Labels and four members: TF-IDF sure of itself on about half the listings (right on
    those), the other members moderately informative; a third of the listings without image."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, n)
    easy = rng.random(n) < 0.5

    def member(strength: float, easy_boost: float) -> np.ndarray:
        logits = rng.normal(0, 1.0, (n, K))
        logits[np.arange(n), labels] += strength + easy_boost * easy
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    probs = {
        "tfidf": member(0.8, 4.0),
        "use": member(1.2, 0.0),
        "image": member(0.8, 0.0),
        "text": member(1.6, 0.0),
    }
    available = {m: np.ones(n, bool) for m in probs}
    available["image"] = rng.random(n) < 0.66
    return labels, probs, available


@pytest.fixture(scope="module")
def fitted():
    """Full fusion and cascade fit on a valid split; a separate evaluation split."""
    labels, probs, available = _members(1600, seed=3)
    valid, test = np.arange(800), np.arange(800, 1600)

    def part(rows):
        return {m: p[rows] for m, p in probs.items()}, {m: a[rows] for m, a in available.items()}

    valid_probs, valid_available = part(valid)
    full = fit_fusion(
        valid_probs, valid_available, labels[valid], K, MODALITIES, method="loglinear"
    )
    chosen = cascade.fit_cascade(
        valid_probs, valid_available, labels[valid], full, MODALITIES, COSTS, 0.0025, folds=4
    )
    return labels, probs, available, full, chosen, test


def _fixed(probs, available, seen=None):
    """Batch predictors giving stored rows (column ``row``), recording the rows each saw."""

    class Fixed:
        def __init__(self, name):
            self.name = name

        def predict(self, batch, n_classes):
            rows = batch["row"].to_numpy()
            if seen is not None:
                seen.setdefault(self.name, []).extend(rows.tolist())
            return probs[self.name][rows], available[self.name][rows]

    return {m: Fixed(m) for m in probs}


def test_thresholds_chosen_on_valid_keep_the_f1_within_the_bound(fitted):
    labels, probs, available, full, chosen, test = fitted
    assert chosen is not None and chosen.order == ["tfidf", "use", "image", "text"]
    figures = chosen.selection
    # On the valid rows (out of fold), the bound holds and something is saved.
    drop = figures["valid_oof_full_weighted_f1"] - figures["valid_oof_cascade_weighted_f1"]
    assert drop <= 0.0025 + 1e-12
    assert figures["valid_cost_share"] < 0.8 and chosen.thresholds[0] is not None

    def score(name, rows):
        return probs[name][test[rows]], available[name][test[rows]]

    whole = cascade.run(len(test), K, full, None, score)
    early = cascade.run(len(test), K, full, chosen, score)
    full_f1 = weighted_f1(labels[test], whole.fused.argmax(1))
    cascade_f1 = weighted_f1(labels[test], early.fused.argmax(1))
    # On held-out listings: within issue 33's 0.005, with most listings never scored by e5.
    assert cascade_f1 >= full_f1 - 0.005
    assert early.scored["text"].mean() < 0.7 and early.scored["tfidf"].all()


def test_a_looser_bound_never_costs_more():
    labels, probs, available = _members(600, seed=5)
    full = fit_fusion(probs, available, labels, K, MODALITIES, method="loglinear")
    shares = []
    for drop in (0.0, 0.01, 0.05):
        chosen = cascade.fit_cascade(
            probs, available, labels, full, MODALITIES, COSTS, drop, folds=3
        )
        assert chosen is not None
        shares.append(chosen.selection["valid_cost_share"])
        assert chosen.selection["valid_oof_cascade_weighted_f1"] >= (
            chosen.selection["valid_oof_full_weighted_f1"] - drop - 1e-12
        )
    assert shares[0] >= shares[1] >= shares[2] and shares[2] < shares[0]


def test_listings_that_leave_early_are_not_scored_by_later_members(fitted, tmp_path):
    labels, probs, available, full, chosen, test = fitted
    chosen.save(tmp_path)
    loaded = cascade.Cascade.load(tmp_path)
    assert loaded is not None and loaded.thresholds == chosen.thresholds
    seen: dict[str, list[int]] = {}
    batch = pd.DataFrame({"row": test})
    result = cascade.cascade_batch(batch, _fixed(probs, available, seen), full, loaded, K)
    for member in loaded.order:
        # Each member saw exactly the listings it is recorded as having scored.
        assert sorted(seen.get(member, [])) == sorted(test[result.scored[member]].tolist())
    for earlier, later in zip(loaded.order, loaded.order[1:], strict=False):
        assert not (result.scored[later] & ~result.scored[earlier]).any()
    left_after_tfidf = ~result.scored["use"]
    assert left_after_tfidf.any()
    # Those listings carry only TF-IDF's opinion, and the first stage's fused answer.
    assert not result.available["text"][left_after_tfidf].any()
    assert set(result.used[left_after_tfidf]) == {"tfidf"}
    assert (result.fused[left_after_tfidf].max(1) >= loaded.thresholds[0]).all()


def test_without_a_cascade_the_output_is_the_full_fusion(fitted):
    labels, probs, available, full, chosen, test = fitted
    batch = pd.DataFrame({"row": test})
    predictors = _fixed(probs, available)
    expected = fuse_batch(batch, predictors, full, K)
    result = cascade.cascade_batch(batch, predictors, full, None, K)
    np.testing.assert_array_equal(result.fused, expected.fused)
    assert list(result.used) == list(expected.used)
    assert all(mask.all() for mask in result.scored.values())
    # The cascade does change some answers' probabilities (it is not the full fusion).
    with_cascade = cascade.cascade_batch(batch, predictors, full, chosen, K)
    assert not np.allclose(with_cascade.fused, expected.fused)


def test_a_single_member_fusion_has_no_cascade():
    labels, probs, available = _members(200, seed=7)
    only = {"tfidf": probs["tfidf"]}
    full = fit_fusion(only, {"tfidf": available["tfidf"]}, labels, K, MODALITIES, method="vote")
    assert cascade.fit_cascade(only, available, labels, full, MODALITIES, COSTS, 0.005) is None


def test_a_fallen_back_group_still_has_every_member_of_its_name_scored():
    from catalog_classifier.models.cascade import fused_members
    from catalog_classifier.models.fusion import FusionModel, GroupFusion

    # The with-image group fell back to TF-IDF alone: the full fusion still requires e5 and the
    # image on those listings (else they would fall through to the image-only group).
    full = FusionModel(
        3,
        "vote",
        {
            "tfidf+text+image": GroupFusion(["tfidf"], "vote", weights=[1.0]),
            "tfidf+text": GroupFusion(["tfidf", "text"], "vote", weights=[0.5, 0.5]),
            "image": GroupFusion(["image"], "vote", weights=[1.0]),
        },
    )
    assert fused_members(full) == ["tfidf", "text", "image"]
