"""The TF-IDF member's title-aware options: a title-only block of n-grams beside the full
text's (``train.tfidf.title_block``) and stop words kept (``keep_stop_words``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from catalog_classifier.config import TfidfConfig
from catalog_classifier.models.tfidf import build_pipeline, fit_tfidf, predict_tfidf
from catalog_classifier.models.tfidf_scorer import tfidf_scorer


def test_the_default_pipeline_is_unchanged_and_the_title_block_has_its_own_columns(spark):
    default = [s.getOutputCol() for s in build_pipeline(TfidfConfig(), 4).getStages()[:-1]]
    assert default[:3] == ["tok_words", "tok_words_1", "tok_words_2"]
    assert not any(c.startswith("title_") for c in default)
    titled = build_pipeline(TfidfConfig(title_block=True), 4).getStages()
    inputs = {s.getInputCol() for s in titled if s.hasParam("inputCol") and s.isSet("inputCol")}
    assert {"text_lower", "title_lower"} <= inputs
    assembled = next(s for s in titled if type(s).__name__ == "VectorAssembler").getInputCols()
    assert "title_tok_words_1_tfidf" in assembled and "tok_words_1_tfidf" in assembled


def test_title_block_and_stop_words_fit_predict_and_fall_back_to_spark_for_scoring(spark):
    rng = np.random.default_rng(0)
    kinds = [
        ("livre roman poche", "un livre de la collection"),
        ("jeu console manette", "le jeu pour la console"),
        ("piscine gonflable", "une piscine pour le jardin"),
        ("figurine pop", "la figurine de collection"),
    ]
    rows = []
    for i in range(80):
        label = i % 4
        title, description = kinds[label]
        noise = " ".join(rng.choice(["rouge", "bleu", "neuf", "lot", "de", "la"], 3))
        rows.append((i, f"{title} {noise} . {description}", f"{title} {noise}", label))
    frame = spark.createDataFrame(
        rows, "productid long, text_lower string, title_lower string, label int"
    )
    config = TfidfConfig(
        title_block=True, keep_stop_words=True, char_ngrams=(2, 3), max_iter=50, min_doc_freq=1
    )
    fitted = fit_tfidf(frame, config, 4)
    assert "title_tok_words_1_tf" in fitted.vocabulary_sizes
    # Stop words kept: "de" and "la" are in the word vocabulary.
    stages = fitted.model.pipeline.stages
    words = next(s for s in stages if getattr(s, "getOutputCol", lambda: "")() == "tok_words_1_tf")
    assert {"de", "la"} <= set(words.vocabulary)
    predicted = predict_tfidf(fitted.model, frame, keep=["productid", "label"]).toPandas()
    probs = np.stack(predicted["probabilities"].map(np.asarray).tolist())
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert (probs.argmax(1) == predicted["label"].to_numpy()).mean() > 0.9
    # Two text columns: the Python scoring engine declines and scoring runs Spark ML.
    assert tfidf_scorer(fitted.model) is None
    plain = fit_tfidf(frame, dataclasses.replace(config, title_block=False), 4)
    assert tfidf_scorer(plain.model) is not None
