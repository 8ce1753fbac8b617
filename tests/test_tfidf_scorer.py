"""The TF-IDF member's batch paths (Arrow word n-grams, numpy character n-grams) against the
per-row Python path they replace, and the scoring rows' top-3 JSON. No Spark: the Spark ML
parity of the whole scorer is checked in test_scoring.py."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from catalog_classifier.models import tfidf_scorer as tfidf_model
from catalog_classifier.models.tfidf_scorer import WORD_PATTERN, TfidfScorer, _Group, _TokenSource
from catalog_classifier.stages.score import _top_json

TEXTS = [
    "lot de 3 bouteilles d'eau en verre 1l, bouchon liège",
    "a😀b c'est l'été 😀😀 smile",  # code points above U+FFFF
    "x𝐀y z istanbul ß οδος _a_b 12½ co-op 3x4cm",
    "",
    "   ",
    "le la les de the und",  # stop words only
    "??? !!! ...",
    "école straße naïve " * 20,
    "jeu de société jeu de cartes jeu jeu",
    "figurine pop star wars figurine",
]


def _scorer(texts: list[str], binary: bool = True) -> TfidfScorer:
    """A scorer whose vocabularies are the terms of ``texts`` (made by the per-row path)."""
    stop = frozenset({"le", "la", "les", "de", "the", "und", "d", "l", "c", "en"})
    words = _TokenSource(WORD_PATTERN, True, True, 1, stop, False, 1)
    chars = _TokenSource("", True, False, 1, None, False, 1)
    sources = [words, replace(words, n=2), replace(chars, n=3)]
    probe = TfidfScorer.__new__(TfidfScorer)
    groups = []
    for source in sources:
        terms: set[str] = set()
        for text in texts:
            grams = probe._grams(source, text, {})
            if source.chars:  # Spark's NGram joins characters with spaces
                grams = [" ".join(g) for g in grams]
            terms.update(grams)
        vocabulary = tuple(sorted(terms))
        idf = np.linspace(0.5, 2.0, len(vocabulary))
        groups.append(_Group(source, vocabulary, binary, 1.0, idf))
    n_features = sum(len(g.vocabulary) for g in groups)
    rng = np.random.default_rng(0)
    return TfidfScorer(groups, "text_lower", 2.0, rng.normal(size=(4, n_features)), np.zeros(4))


@pytest.mark.parametrize("binary", [True, False])
def test_batch_paths_give_the_per_row_features(monkeypatch, binary):
    vocabulary_texts = [t.lower() for t in TEXTS[:-2]]  # the last two hold unknown terms
    fast = _scorer(vocabulary_texts, binary)
    assert (len(fast.word_streams), len(fast.char_streams)) == ((1, 1) if binary else (0, 0))
    monkeypatch.setattr(tfidf_model._WordGramIndex, "build", classmethod(lambda *a: None))
    monkeypatch.setattr(tfidf_model._CharGramIndex, "build", classmethod(lambda *a: None))
    slow = _scorer(vocabulary_texts, binary)
    assert not slow.word_streams and not slow.char_streams
    texts = [t.lower() for t in TEXTS] + [None]
    expected = slow.features(texts).toarray()
    assert (expected != 0).sum() > 50
    np.testing.assert_array_equal(fast.features(texts).toarray(), expected)
    np.testing.assert_allclose(fast.predict(texts), slow.predict(texts), atol=1e-15)


def test_word_index_refuses_what_arrow_cannot_reproduce():
    build = tfidf_model._WordGramIndex.build
    words = _TokenSource(WORD_PATTERN, True, True, 1, None, False, 1)
    assert build(words, {"a": 0}, [1]) is not None
    assert build(replace(words, min_length=2), {"a": 0}, [1]) is None
    assert build(replace(words, gaps=False), {"a": 0}, [1]) is None
    assert build(replace(words, pattern=r"\s*"), {"a": 0}, [1]) is None
    unlowered = replace(words, lowercase=False, stop_words=frozenset({"a"}))
    assert build(unlowered, {"a": 0}, [1]) is None


def test_top3_json_is_what_json_dumps_writes():
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.full(27, 0.3), 500)
    codes = np.arange(10, 37) * 10
    top = np.argsort(-probabilities, axis=1)[:, :3]
    made = _top_json(codes[top], probabilities[np.arange(500)[:, None], top])
    expected = [
        json.dumps(
            [{"prdtypecode": int(codes[j]), "probability": round(float(row[j]), 6)} for j in order]
        )
        for row, order in zip(probabilities, top, strict=True)
    ]
    assert made == expected


@pytest.mark.parametrize("with_layer", [True, False])
def test_saved_scorer_loads_without_spark_and_scores_the_same(tmp_path, with_layer):
    from safetensors.numpy import save_file

    scorer = _scorer([t.lower() for t in TEXTS] + ["x\udc80y"])  # a lone surrogate's terms
    scorer.save(tmp_path, with_layer=with_layer)
    if not with_layer:  # the driver solver's layer file holds the coefficients
        save_file(
            {"coef": np.ascontiguousarray(scorer.weights.T), "intercept": scorer.intercept},
            str(tmp_path / tfidf_model.LINEAR_FILE),
        )
    loaded = tfidf_model.load_tfidf_scorer(tmp_path)
    assert loaded is not None
    for got, made in zip(loaded.groups, scorer.groups, strict=True):
        assert (got.source, got.vocabulary, got.binary) == (
            made.source,
            made.vocabulary,
            made.binary,
        )
        np.testing.assert_array_equal(got.idf, made.idf)
    texts = [t.lower() for t in TEXTS] + ["x\udc80y"]
    np.testing.assert_array_equal(
        loaded.features(texts).toarray(), scorer.features(texts).toarray()
    )
    np.testing.assert_array_equal(loaded.predict(texts), scorer.predict(texts))
    assert tfidf_model.load_tfidf_scorer(tmp_path / "missing") is None
