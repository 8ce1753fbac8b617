"""The text member's title-aware option (``train.text.title_embedding``): the head reads the
full text's embedding and the title's side by side, in evaluation and in scoring alike."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from catalog_classifier.config import TextModelConfig
from catalog_classifier.models import text_encoder
from catalog_classifier.models.heads import ClassifierHead, save_head
from catalog_classifier.models.members.text import TextBatchPredictor, _predictor

DIM, CLASSES = 4, 3


class FakeEncoder:
    """Embeds a text as a few of its character counts (deterministic, no weights)."""

    dim = DIM

    def embed(self, texts, batch_size=32):
        return np.asarray(
            [[len(t), t.count("a"), t.count("e"), t.count(" ")] for t in texts], np.float32
        )


@pytest.fixture()
def title_model(tmp_path, monkeypatch):
    monkeypatch.setattr(text_encoder, "get_encoder", lambda *a, **k: FakeEncoder())
    monkeypatch.setattr(text_encoder, "encoder_fingerprint", lambda source: "fake@1")
    config = TextModelConfig(
        encoder="fake", mode="frozen", title_embedding=True, quantization="none"
    )
    text_encoder.save_encoder_reference(tmp_path, "fake", "fake@1", config)
    (tmp_path / "model.json").write_text(json.dumps({"mode": "frozen"}), encoding="utf-8")
    head = ClassifierHead(2 * DIM, CLASSES, 0, 0.0)
    with torch.no_grad():
        head.net[-1].weight.copy_(torch.arange(2 * DIM * CLASSES).reshape(CLASSES, 2 * DIM) / 50)
    save_head(head.eval(), tmp_path)
    _predictor.cache_clear()
    yield tmp_path, head
    _predictor.cache_clear()


def test_the_saved_reference_records_the_title_setting(title_model):
    folder, _ = title_model
    assert json.loads((folder / "encoder.json").read_text())["title"] is True


def test_scoring_concatenates_the_text_and_title_embeddings(title_model):
    folder, head = title_model
    texts, titles = ["a table . with legs", "ee"], ["a table", "ee"]
    predictor = text_encoder.TextPredictor(folder)
    expected = (
        torch.softmax(
            head(
                torch.from_numpy(
                    np.concatenate([FakeEncoder().embed(texts), FakeEncoder().embed(titles)], 1)
                )
            ),
            1,
        )
        .detach()
        .numpy()
    )
    np.testing.assert_allclose(predictor.predict(texts, 8, titles), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="pass titles"):
        predictor.predict(texts, 8)
    # The scoring UDF's batch predictor reads the batch's title column.
    batch = pd.DataFrame({"text": texts + [""], "title": titles + [""], "has_text": [1, 1, 0]})
    scored, available = TextBatchPredictor(str(folder), 8, 1).predict(batch, CLASSES)
    assert available.tolist() == [True, True, False]
    np.testing.assert_allclose(scored[:2], expected, rtol=1e-5)
