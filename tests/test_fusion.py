"""Late fusion: missing modalities, method selection, review threshold, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from catalog_classifier.models.fusion import (
    FusionModel,
    fit_fusion,
    fit_loglinear,
    fit_vote,
    fuse_batch,
    loglinear_pool,
    reliability_curve,
    review_threshold,
    weighted_f1,
    without_members,
)

K = 4


MODALITIES = {"tfidf": "text", "text": "text", "image": "image"}


def _noisy(labels: np.ndarray, accuracy: float, rng: np.random.Generator) -> np.ndarray:
    """Probabilities right with the given accuracy, wrong on a random other class otherwise,
    and less confident when wrong (as real models are: that is what fusion exploits)."""
    probs = rng.dirichlet(np.ones(K) * 0.5, size=len(labels)) * 0.4
    right = rng.random(len(labels)) < accuracy
    target = np.where(right, labels, (labels + rng.integers(1, K, len(labels))) % K)
    probs[np.arange(len(labels)), target] += np.where(right, 0.6, 0.3)
    return probs / probs.sum(1, keepdims=True)


@pytest.fixture()
def members():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, K, 600)
    probs = {
        "tfidf": _noisy(labels, 0.7, rng),
        "text": _noisy(labels, 0.65, rng),
        "image": _noisy(labels, 0.45, rng),
    }
    available = {
        "tfidf": np.ones(600, bool),
        "text": np.ones(600, bool),
        "image": rng.random(600) < 0.5,
    }
    available["tfidf"][:20] = available["text"][:20] = False  # empty texts
    available["image"][:20] = True
    return labels, probs, available


def test_fusion_beats_each_member_on_independent_errors(members):
    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES, method="vote")
    fused, _ = model.predict(probs, available)
    best_member = max(weighted_f1(labels, p.argmax(1)) for p in probs.values())
    assert weighted_f1(labels, fused.argmax(1)) > best_member + 0.02


def test_a_listing_without_image_gets_exactly_the_text_members_fusion(members):
    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES)
    fused, used = model.predict(probs, available)
    no_image = available["text"] & ~available["image"]
    assert set(used[no_image]) == {"tfidf+text"}
    text_only = model.groups["tfidf+text"].predict([probs["tfidf"], probs["text"]], K)
    np.testing.assert_allclose(fused[no_image], text_only[no_image])
    # Whatever the image model says for those rows, nothing changes.
    scrambled = dict(probs, image=np.roll(probs["image"], 1, axis=1))
    again, _ = model.predict(scrambled, available)
    np.testing.assert_allclose(again[no_image], fused[no_image])


class _Fixed:
    """A batch predictor giving stored probabilities for the batch's row positions."""

    def __init__(self, probs: np.ndarray, available: np.ndarray) -> None:
        self.probs, self.available = probs, available

    def predict(self, batch, n_classes):
        rows = batch["row"].to_numpy()
        return self.probs[rows], self.available[rows]


def test_fuse_batch_is_the_members_then_the_fusion_and_times_each(members):
    import pandas as pd

    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES, method="vote")
    predictors = {m: _Fixed(probs[m], available[m]) for m in probs}
    batch = pd.DataFrame({"row": np.arange(100, 300)})
    seconds: dict[str, float] = {}
    scored = fuse_batch(batch, predictors, model, K, seconds)
    expected, used = model.predict(
        {m: p[100:300] for m, p in probs.items()}, {m: a[100:300] for m, a in available.items()}
    )
    np.testing.assert_allclose(scored.fused, expected)
    assert list(scored.used) == list(used)
    assert set(scored.probs) == set(scored.available) == set(probs)
    assert set(seconds) == {*probs, "fusion"} and all(s >= 0 for s in seconds.values())


def test_without_a_member_each_listing_gets_the_group_of_the_others(members):
    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES)
    fused, _ = model.predict(probs, available)
    ablated, used = model.predict(probs, without_members(available, ["image"]))
    text = available["text"]
    # The text members' combiner on every listing with a text, the image one's nowhere.
    assert set(used[text]) == {"tfidf+text"} and set(used[~text]) == {"none"}
    text_only = model.groups["tfidf+text"].predict([probs["tfidf"], probs["text"]], K)
    np.testing.assert_allclose(ablated[text], text_only[text])
    # Listings without an image: the image member had no vote, so nothing changes.
    no_image = ~available["image"]
    np.testing.assert_allclose(ablated[no_image], fused[no_image])
    assert available["image"].any()  # the caller's masks are left as they were


def test_empty_text_uses_the_image_alone_and_no_modality_is_uniform(members):
    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES)
    _, used = model.predict(probs, available)
    assert set(used[:20]) == {"image"}
    nothing = {m: np.zeros(3, bool) for m in available}
    fused, used = model.predict({m: p[:3] for m, p in probs.items()}, nothing)
    assert set(used) == {"none"}
    np.testing.assert_allclose(fused, 1.0 / K)


def test_auto_records_every_method_and_keeps_the_best_one(members, tmp_path):
    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES, method="auto")
    scores = model.selection["cv_weighted_f1"]
    assert set(scores) == {"vote", "stacking", "loglinear"}
    assert scores[model.method] == max(scores.values())
    assert model.selection["margin"] >= 0
    loaded = FusionModel.load(model.save(tmp_path))
    np.testing.assert_allclose(
        loaded.predict(probs, available)[0], model.predict(probs, available)[0]
    )


def test_vote_weights_lie_on_the_simplex_and_the_temperature_calibrates(members):
    labels, probs, _ = members
    group = fit_vote([probs["tfidf"], probs["text"]], labels)
    assert sum(group.weights) == pytest.approx(1.0) and min(group.weights) >= 0
    fused = group.predict([probs["tfidf"], probs["text"]], K)
    raw = group.weights[0] * probs["tfidf"] + group.weights[1] * probs["text"]
    _, ece = reliability_curve(fused.max(1), fused.argmax(1) == labels)
    _, ece_raw = reliability_curve(raw.max(1), raw.argmax(1) == labels)
    # The averaged probabilities are under-confident here; the fitted temperature fixes most.
    assert group.temperature < 1 and ece < ece_raw / 2


def test_loglinear_weights_minimise_the_log_loss_and_pool_geometrically(members, tmp_path):
    labels, probs, available = members
    pair = [probs["tfidf"], probs["text"]]
    group = fit_loglinear(pair, labels)
    weights = np.asarray(group.weights)
    assert (weights >= 0).all()

    def log_loss(w: np.ndarray) -> float:
        pooled = loglinear_pool(pair, w)
        return float(-np.mean(np.log(pooled[np.arange(len(labels)), labels])))

    # A minimum: no small step in any direction (within the bounds) lowers the log-loss.
    best = log_loss(weights)
    for direction in ([1, 0], [0, 1], [1, 1]):
        for sign in (1, -1):
            moved = np.maximum(0, weights + sign * 0.05 * np.asarray(direction))
            assert log_loss(moved) >= best - 1e-6
    # The pooled distribution is the renormalised weighted geometric mean of the members'
    # (probabilities floored at 1e-6, as every combiner reads them).
    fused = group.predict(pair, K)
    floored = [np.clip(p, 1e-6, 1.0) for p in pair]
    geometric = floored[0] ** weights[0] * floored[1] ** weights[1]
    np.testing.assert_allclose(fused, geometric / geometric.sum(1, keepdims=True), rtol=1e-6)
    # Two members with independent errors: the pooled log-loss is below either member's own.
    assert best < min(log_loss(np.array([1.0, 0.0])), log_loss(np.array([0.0, 1.0]))) - 0.01
    # A fusion of that method predicts per availability group and survives save/load.
    model = fit_fusion(
        probs, available, labels, K, MODALITIES, method="loglinear", fallback_to_best_member=False
    )
    assert model.method == "loglinear"
    assert {g.method for g in model.groups.values()} == {"loglinear"}
    loaded = FusionModel.load(model.save(tmp_path))
    np.testing.assert_allclose(
        loaded.predict(probs, available)[0], model.predict(probs, available)[0]
    )


def test_loglinear_ignores_a_member_that_carries_no_information():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, K, 800)
    useful = _noisy(labels, 0.7, rng)
    noise = rng.dirichlet(np.ones(K), size=len(labels))
    group = fit_loglinear([useful, noise], labels)
    assert group.weights[1] < 0.1 * group.weights[0]


def test_review_threshold_reaches_the_target_precision_above_it():
    rng = np.random.default_rng(1)
    confidence = rng.random(1000)
    correct = rng.random(1000) < confidence  # more confident, more often right
    threshold, precision, share = review_threshold(confidence, correct, 0.9)
    above = confidence >= threshold
    assert correct[above].mean() >= 0.9 and precision >= 0.9
    assert share == pytest.approx(above.mean())
    # Unreachable: nothing is auto-accepted.
    threshold, _, share = review_threshold(confidence, np.zeros(1000, bool), 0.9)
    assert share == 0.0 and (confidence < threshold).all()
    # A review floor: an easy target that flags nothing is raised until 5% is under it.
    assert (confidence < review_threshold(confidence, np.ones(1000, bool), 0.9)[0]).sum() == 0
    threshold, precision, share = review_threshold(confidence, np.ones(1000, bool), 0.9, 0.05)
    assert (confidence < threshold).sum() == 50 and share == pytest.approx(0.95)
    assert precision == 1.0
    # A floor already met changes nothing.
    assert review_threshold(confidence, correct, 0.9, 0.01) == review_threshold(
        confidence, correct, 0.9
    )


def test_a_fusion_that_does_not_beat_its_best_member_falls_back_to_it(members):
    labels, probs, available = members
    rng = np.random.default_rng(5)
    # A second text member that only echoes TF-IDF (its errors too): nothing to gain.
    echo = 0.9 * probs["tfidf"] + 0.1 * rng.dirichlet(np.ones(K), size=len(labels))
    same = {"tfidf": probs["tfidf"], "text": echo, "image": probs["image"]}
    model = fit_fusion(same, available, labels, K, MODALITIES, method="vote")
    gains = model.selection["gain_over_best_member"]
    best = gains["tfidf+text"]["best_member"]
    assert model.groups["tfidf+text"].members == [best]
    assert gains["tfidf+text"]["kept"] is False and gains["tfidf+text"]["low"] <= 0
    assert "tfidf+text" in model.selection["fallback_groups"]
    fused, used = model.predict(same, available)
    # The fallen-back group still takes only the listings with both text members, and scores
    # them as its best member does.
    text_rows = available["tfidf"] & ~available["image"]
    assert set(used[text_rows]) == {"tfidf+text"}
    np.testing.assert_array_equal(fused[text_rows].argmax(1), same[best][text_rows].argmax(1))
    assert set(used[~available["tfidf"]]) == {"image"}
    # Without the fallback the same data keeps the two-member vote.
    kept = fit_fusion(
        same, available, labels, K, MODALITIES, method="vote", fallback_to_best_member=False
    )
    assert kept.groups["tfidf+text"].members == ["tfidf", "text"]
    assert "gain_over_best_member" not in kept.selection


def test_a_fusion_of_independent_members_is_kept_with_its_gain_interval(members):
    labels, probs, available = members
    model = fit_fusion(probs, available, labels, K, MODALITIES, method="vote")
    gains = model.selection["gain_over_best_member"]
    assert model.selection["fallback_groups"] == []
    for name in ("tfidf+text+image", "tfidf+text"):
        assert gains[name]["kept"] is True
        assert 0 < gains[name]["low"] <= gains[name]["gain"] <= gains[name]["high"]
        assert model.groups[name].members == name.split("+")
    assert model.selection["gain_over_best_member"]["tfidf+text"]["samples"] == 1000


def test_the_paired_bootstrap_interval_holds_the_gain_and_widens_with_fewer_rows():
    from catalog_classifier.models.metrics import paired_bootstrap_gain

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 27, 2000)
    better = np.where(rng.random(2000) < 0.8, labels, rng.integers(0, 27, 2000))
    worse = np.where(rng.random(2000) < 0.7, labels, rng.integers(0, 27, 2000))
    wide = paired_bootstrap_gain(labels[:200], better[:200], worse[:200])
    narrow = paired_bootstrap_gain(labels, better, worse)
    assert narrow.low <= narrow.gain <= narrow.high and narrow.above_zero
    assert wide.high - wide.low > 1.5 * (narrow.high - narrow.low)
    same = paired_bootstrap_gain(labels, better, better)
    assert (same.gain, same.low, same.high) == (0.0, 0.0, 0.0) and not same.above_zero


def test_the_cross_validated_review_load_never_sets_a_fold_threshold_on_that_fold():
    from catalog_classifier.config import FusionConfig
    from catalog_classifier.stages.evaluate import cross_validated_review_load

    rng = np.random.default_rng(4)
    labels = rng.integers(0, K, 1000)
    fused = _noisy(labels, 0.75, rng)
    folds = np.arange(1000) % 5
    load = cross_validated_review_load(fused, labels, folds, FusionConfig(review_precision=0.9))
    confidence, correct = fused.max(1), fused.argmax(1) == labels
    accepted = np.zeros(1000, bool)
    for fold in range(5):
        others = folds != fold
        threshold, _, _ = review_threshold(confidence[others], correct[others], 0.9)
        accepted[~others] = confidence[~others] >= threshold
    assert load["auto_accepted_share"] == pytest.approx(accepted.mean())
    assert load["auto_accepted_precision"] == pytest.approx(correct[accepted].mean())
    assert 0.1 < load["auto_accepted_share"] < 0.95
    assert load["auto_accepted_precision"] > 0.85  # near the target on unseen folds


def test_a_fusion_on_rows_too_few_to_fold_keeps_its_best_member_and_says_why():
    # Every class once (a cascade stage's inner fold on a tiny valid split): nothing to fold.
    labels = np.arange(K)
    probs = {"tfidf": np.eye(K), "text": np.full((K, K), 1 / K)}
    available = {m: np.ones(K, bool) for m in probs}
    model = fit_fusion(probs, available, labels, K, MODALITIES, method="loglinear", min_rows=2)
    gain = model.selection["gain_over_best_member"]["tfidf+text"]
    assert gain["kept"] is False and "too few rows" in gain["reason"]
    assert model.groups["tfidf+text"].members == ["tfidf"]
