"""Training, the registry and evaluation on the generated sample, with small settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pyspark.sql import functions as F

from catalog_classifier.models.datasets import image_rows, text_rows
from catalog_classifier.stages.evaluate import run_cross_validation, run_evaluate
from catalog_classifier.stages.train import predict_probabilities, train_member
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.tables import (
    GOLD_EVALUATIONS,
    SILVER_IMAGE_EMBEDDINGS,
    SILVER_SPLITS,
    SILVER_TEXT_EMBEDDINGS,
)


def test_train_registers_every_model_with_metrics_and_input_versions(trained, small_config):
    lakehouse, summary = trained
    assert set(summary.models) == {"tfidf", "text", "image", "fusion"}
    assert sum(summary.splits.values()) == lakehouse.read(SILVER_SPLITS).count() > 250
    registry = Registry(small_config, lakehouse.root)
    for name, info in summary.models.items():
        assert info["version"] == "1"
        # Better than chance on 27 classes: the generated titles carry their class's words.
        assert info["valid_weighted_f1"] > 0.2, (name, info)
        # The version this training registered (other tests may register later ones).
        registered = registry.load(name, info["version"])
        registered.remove_download()  # only its run is read below
        run = registry.client.get_run(registered.run_id)
        assert run.data.tags["delta.silver.splits"] == str(lakehouse.version(SILVER_SPLITS))
        assert json.loads(run.data.tags["label_codes"]) == small_config.label_codes
        assert "valid_weighted_f1" in run.data.metrics
        if name in ("text", "image"):
            history = registry.client.get_metric_history(registered.run_id, "valid_weighted_f1")
            # One point per epoch, or one for the logistic-regression head (head_solver lbfgs).
            assert len(history) >= 1
    # Embedding caches: one row per labelled listing / usable labelled image, reused next time.
    embedded = lakehouse.read(SILVER_TEXT_EMBEDDINGS).count()
    assert embedded == text_rows(lakehouse, small_config.label_codes).count()
    assert (
        lakehouse.read(SILVER_IMAGE_EMBEDDINGS).count()
        == image_rows(lakehouse, small_config.label_codes).count()
    )


@pytest.mark.parametrize("model", ["tfidf", "text", "image"])
def test_registry_round_trip_gives_the_same_predictions(trained, small_config, tmp_path, model):
    lakehouse, _ = trained
    outcome = train_member(lakehouse, small_config, model, tmp_path / "model")
    codes = small_config.label_codes
    rows = (image_rows if model == "image" else text_rows)(lakehouse, codes)
    rows = rows.filter(F.col("split") == "test")
    before = predict_probabilities(lakehouse, small_config, outcome.folder, rows)
    # A registry of its own: the shared one keeps version 1 of each model for the other tests.
    registry = Registry(small_config, str(tmp_path / "registry-root"))
    registered = registry.log_model(
        model, outcome.folder, outcome.params, outcome.metrics, outcome.history, {}
    )
    loaded = registry.load(model, registered.version)
    try:
        assert not any(p.suffix in (".pt", ".pkl", ".pickle") for p in loaded.folder.rglob("*"))
        after = predict_probabilities(lakehouse, small_config, loaded.folder, rows)
    finally:
        loaded.remove_download()
    key = "imageid" if model == "image" else "productid"
    before, after = before.sort_values(key), after.sort_values(key)
    assert len(before) == len(after) > 0
    probs_before, probs_after = np.stack(before["probabilities"]), np.stack(after["probabilities"])
    assert probs_before.shape[1] == len(codes)
    np.testing.assert_allclose(probs_before, probs_after, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(probs_after.sum(1), 1.0, atol=1e-5)


def test_evaluate_writes_gold_rows_and_a_page_with_figures(trained, small_config, tmp_path):
    lakehouse, _ = trained
    summary = run_evaluate(lakehouse, small_config, "test", str(tmp_path / "evaluation"))
    assert [e.model for e in summary.evaluations] == ["tfidf", "text", "image", "fusion"]
    gold = lakehouse.read(GOLD_EVALUATIONS).filter(F.col("run_id") == summary.run_id).toPandas()
    assert sorted(gold["model"]) == ["fusion", "image", "text", "tfidf"]
    assert (gold["split"] == "test").all() and gold["weighted_f1"].between(0, 1).all()
    registry = Registry(small_config, lakehouse.root)
    for row in gold.itertuples():
        assert row.model_version == registry.latest_version(row.model)
    per_class = json.loads(gold.iloc[0]["per_class"])
    assert {"prdtypecode", "category", "precision", "recall", "f1", "support"} <= set(per_class[0])
    page = summary.html_path.read_text(encoding="utf-8")
    for model in ("tfidf", "text", "image"):
        assert (tmp_path / "evaluation" / "figures" / f"confusion_{model}.png").stat().st_size > 0
        assert f"figures/confusion_{model}.png" in page
    assert "Most confused pairs" in page and "Most confident mistakes" in page
    assert "Grad-CAM" in page and "Fusion against its members" in page
    # The fused model's per-class report beside its members' F1, and the image model's share.
    assert "<th>tfidf F1</th><th>text F1</th><th>image F1</th>" in page
    assert "What the image model adds" in page
    fused = summary.evaluations[-1].metrics
    assert fused["image_contribution_without_image_changed"] == 0
    assert (tmp_path / "evaluation" / "figures" / "reliability_fusion.png").stat().st_size > 0
    assert len(list((tmp_path / "evaluation" / "figures").glob("gradcam_*.png"))) >= 1


def test_cross_validation_scores_every_listing_once(trained, small_config, tmp_path):
    lakehouse, _ = trained
    summary = run_cross_validation(
        lakehouse, small_config, 3, str(tmp_path / "cv"), models=["text", "image", "fusion"]
    )
    labelled = text_rows(lakehouse, small_config.label_codes).count()
    text, image, fused = summary.evaluations
    assert text.rows == labelled and len(text.fold_scores) == 3
    assert image.rows == image_rows(lakehouse, small_config.label_codes).count()
    assert text.metrics["weighted_f1"] == pytest.approx(np.mean(text.fold_scores))
    # The fusion is cross-validated on the members' out-of-fold probabilities.
    assert fused.rows == labelled and len(fused.fold_scores) == 3
    assert fused.metrics["with_image_rows"] + fused.metrics["without_image_rows"] == labelled
    assert 0 <= fused.metrics["expected_calibration_error"] <= 1
    assert (tmp_path / "cv" / "figures" / "reliability_cv_fusion.png").is_file()
    # Each fold's fusion without the image member: listings without an image never change.
    assert fused.metrics["image_contribution_without_image_changed"] == 0
    page = summary.html_path.read_text(encoding="utf-8")
    assert "What the image model adds" in page
    # The gain over the best single member, with its paired bootstrap interval.
    m = fused.metrics
    assert m["gain_over_best_member_low"] <= m["gain_over_best_member"]
    assert m["gain_over_best_member"] <= m["gain_over_best_member_high"]
    assert "Gain over the best single model on every listing" in page
    # The review load: thresholds chosen on the other folds; what they accept is scored.
    assert 0 <= m["auto_accepted_share"] <= 1 and m["review_precision_target"] == 0.95
    assert m["auto_accepted_share"] == 0 or 0 < m["auto_accepted_precision"] <= 1
    assert "auto-accepted at a threshold chosen on the other folds" in page
    gold = lakehouse.read(GOLD_EVALUATIONS).filter(F.col("split") == "cv3").count()
    assert gold == 3


def test_a_training_step_lowers_the_loss_of_the_fine_tuned_text_model(e5_encoder):
    from catalog_classifier.models.heads import ClassifierHead
    from catalog_classifier.models.text_encoder import (
        TextClassifier,
        get_encoder,
        load_encoder_model,
    )

    torch.manual_seed(0)
    encoder = get_encoder(str(e5_encoder), 32, "passage: ")
    tokens = encoder.tokenize(
        ["piscine tubulaire 3m", "Cahier 96 pages grands carreaux", "Puzzle 1000 pièces"] * 2
    )
    labels = torch.tensor([0, 1, 2] * 2)
    model = TextClassifier(load_encoder_model(str(e5_encoder)), ClassifierHead(384, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**tokens), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_the_lbfgs_head_is_the_logistic_regression_scikit_learn_fits():
    from sklearn.linear_model import LogisticRegression

    from catalog_classifier.models.heads import ClassifierHead
    from catalog_classifier.models.loop import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)) + np.repeat(np.eye(3, 8) * 2, 100, axis=0)
    y = np.repeat(np.arange(3), 100)
    l2 = 0.05
    head = ClassifierHead(8, 3)  # identity standardisation
    result = fit_logistic(head, torch.from_numpy(x).float(), torch.from_numpy(y), l2=l2)
    with torch.no_grad():
        ours = torch.softmax(head(torch.from_numpy(x).float()), 1).numpy()
    # Same objective: mean loss + l2/2 ||W||^2 == (C sum loss + 1/2 ||W||^2) / (C n).
    reference = LogisticRegression(C=1 / (l2 * len(y)), tol=1e-10, max_iter=1000).fit(x, y)
    assert ours == pytest.approx(reference.predict_proba(x), abs=2e-3)
    assert result.best_epoch == 1
    # the fitted model's penalised loss, not the starting one (log 3 from zero weights)
    fitted = torch.nn.functional.cross_entropy(
        torch.log(torch.from_numpy(ours)), torch.from_numpy(y)
    ).item() + 0.5 * l2 * float((head.net[-1].weight ** 2).sum())
    assert result.train_loss == pytest.approx(fitted, rel=1e-3)
    assert result.train_loss < np.log(3) - 0.5


def test_an_lbfgs_head_must_be_linear():
    from catalog_classifier.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="linear heads"):
        load_config(overrides=["train.text.hidden=16"])
    assert load_config(overrides=["train.text.hidden=16", "train.text.head_solver=adamw"])


def test_the_hinge_loss_gives_a_softmax_of_the_svm_margins_at_a_fitted_temperature():
    from scipy.sparse import csr_matrix
    from sklearn.svm import LinearSVC

    from catalog_classifier.config import TfidfConfig
    from catalog_classifier.models.tfidf import fit_hinge

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 30)
    dense = rng.random((120, 40)) * (rng.random((120, 40)) < 0.2)
    dense[np.arange(120), labels * 3] += 1.0  # one informative feature per class
    matrix = csr_matrix(dense)
    weights = np.ones(120)
    config = TfidfConfig(loss="hinge", svm_c=0.5)
    coef, intercept, _ = fit_hinge(matrix, labels, weights, config, n_classes=5)
    margins = matrix @ coef.T.astype(np.float64) + intercept
    svm = LinearSVC(C=0.5, max_iter=1000, tol=1e-4).fit(matrix, labels)
    assert (margins.argmax(1) == svm.predict(matrix)).all()
    assert (intercept[4] <= -1e4) and (coef[4] == 0).all()  # a class without rows: probability 0
    # A positive temperature scales the margins: the ratio is the same for every class seen.
    ratio = coef[:4, 0] / svm.coef_[:, 0]
    assert ratio == pytest.approx(np.full(4, ratio[0]), rel=1e-4) and ratio[0] > 0
