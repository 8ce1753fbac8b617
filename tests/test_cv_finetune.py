"""Fine-tuning inside cross-validation, resumable per fold: an interrupted ``evaluate --cv``
re-run loads its finished folds and ends with the result of an uninterrupted run; a changed
setting or a damaged checkpoint trains the fold again; the text member fine-tunes a (tiny)
encoder on each fold."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from tests.helpers import featured_lakehouse
from tests.length_member import LengthMember

from catalog_classifier.config import Config
from catalog_classifier.models import members
from catalog_classifier.models import text_encoder as text_model
from catalog_classifier.models.heads import ClassifierHead
from catalog_classifier.models.loop import fit
from catalog_classifier.stages.evaluate import run_cross_validation
from catalog_classifier.stages.fold_checkpoints import CHECKPOINT_DIR
from catalog_classifier.storage.lakehouse import Lakehouse

FOLDS = 3


class CountedMember(LengthMember):
    """The length member, counting its trained folds; raises at the ``fail_at``-th one."""

    name = "counted"
    trained: ClassVar[int] = 0
    fail_at: ClassVar[int | None] = None

    @classmethod
    def fit_fold(cls, lakehouse, config, training, test):  # type: ignore[no-untyped-def]
        cls.trained += 1
        if cls.fail_at is not None and cls.trained == cls.fail_at:
            raise KeyboardInterrupt("killed mid-fold")
        return super().fit_fold(lakehouse, config, training, test)


@pytest.fixture()
def counted():
    members.register(CountedMember)
    CountedMember.trained, CountedMember.fail_at = 0, None
    yield CountedMember
    members.unregister(CountedMember.name)


@pytest.fixture(scope="module")
def sample_lakehouse(spark, small_config: Config, small_sample, tmp_path_factory) -> Lakehouse:
    return featured_lakehouse(spark, small_config, small_sample, tmp_path_factory.mktemp("cv"))


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """e5-small's tokenizer with a 2-layer, 64-wide encoder, randomly initialised and saved."""
    from transformers import AutoConfig, AutoModel

    from catalog_classifier.models.e5_weights import write_architecture

    folder = write_architecture(tmp_path_factory.mktemp("encoder") / "e5-tiny")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.manual_seed(0)
    model = AutoModel.from_config(AutoConfig.from_pretrained(folder), add_pooling_layer=False)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def _scores(summary) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    return {e.model: e.fold_scores for e in summary.evaluations}


def _fold_files(out: Path, member: str) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted((out / CHECKPOINT_DIR).glob(f"{member}-*/fold*.npz"))
    }


def test_an_interrupted_cv_resumes_from_its_finished_folds(
    counted, sample_lakehouse, small_config, tmp_path, caplog
) -> None:
    out = tmp_path / "cv"
    counted.fail_at = 2  # killed while training the second fold
    with pytest.raises(KeyboardInterrupt):
        run_cross_validation(sample_lakehouse, small_config, FOLDS, str(out), ["counted"])
    assert list(_fold_files(out, "counted")) == ["fold1.npz"]

    counted.trained, counted.fail_at = 0, None
    with caplog.at_level(logging.INFO):
        resumed = run_cross_validation(
            sample_lakehouse, small_config, FOLDS, str(out), ["counted"]
        )
    assert counted.trained == FOLDS - 1  # fold 1 was loaded, not trained
    assert "cv counted fold 1/3: finished before, loaded from" in caplog.text

    counted.trained = 0
    fresh = run_cross_validation(
        sample_lakehouse, small_config, FOLDS, str(tmp_path / "fresh"), ["counted"]
    )
    assert counted.trained == FOLDS
    assert _scores(resumed) == _scores(fresh)
    assert _fold_files(out, "counted") == _fold_files(tmp_path / "fresh", "counted")

    # Everything finished: a third run trains nothing and gives the same figures.
    counted.trained = 0
    again = run_cross_validation(sample_lakehouse, small_config, FOLDS, str(out), ["counted"])
    assert counted.trained == 0 and _scores(again) == _scores(fresh)

    # A damaged checkpoint: that fold alone trains again, with one warning.
    damaged = next((out / CHECKPOINT_DIR).glob("counted-*/fold2.npz"))
    damaged.write_bytes(damaged.read_bytes()[:100])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        healed = run_cross_validation(
            sample_lakehouse, small_config, FOLDS, str(out), ["counted"]
        )
    assert counted.trained == 1 and _scores(healed) == _scores(fresh)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cv counted fold 2: ignoring checkpoint" in w for w in warnings)

    # Another setting the member's folds depend on (the seed): another key, every fold trained
    # again. (Another member's section is not part of its key: test_fold_checkpoints.)
    counted.trained = 0
    reseeded = dataclasses.replace(small_config.train, seed=small_config.train.seed + 1)
    changed = dataclasses.replace(small_config, train=reseeded)
    run_cross_validation(sample_lakehouse, changed, FOLDS, str(out), ["counted"])
    assert counted.trained == FOLDS
    assert len(list((out / CHECKPOINT_DIR).glob("counted-*"))) == 2

    # --no-resume trains every fold though all are saved.
    counted.trained = 0
    run_cross_validation(sample_lakehouse, changed, FOLDS, str(out), ["counted"], resume=False)
    assert counted.trained == FOLDS


def test_the_text_member_fine_tunes_each_fold_and_resumes(
    sample_lakehouse, small_config, tiny_encoder, tmp_path, caplog
) -> None:
    text = dataclasses.replace(
        small_config.train.text,
        encoder=str(tiny_encoder),
        mode="finetune",
        finetune_epochs=2,
        finetune_patience=1,
        finetune_reinit_layers=1,
        finetune_learning_rate=1e-3,
    )
    config = dataclasses.replace(
        small_config, train=dataclasses.replace(small_config.train, text=text)
    )
    out = tmp_path / "cv"
    with caplog.at_level(logging.INFO):
        first = run_cross_validation(sample_lakehouse, config, FOLDS, str(out), ["text"])
    log_text = caplog.text
    for fold in range(1, FOLDS + 1):
        assert f"step cv text fold {fold}/{FOLDS}: started" in log_text
    assert log_text.count("cv-text-finetune epoch 1/2") == FOLDS
    assert "1 top layer(s) re-initialised" in log_text
    (evaluation,) = first.evaluations
    assert len(evaluation.fold_scores) == FOLDS
    saved = _fold_files(out, "text")
    assert list(saved) == [f"fold{i}.npz" for i in range(1, FOLDS + 1)]
    rows = 0
    for name in saved:
        with np.load(next((out / CHECKPOINT_DIR).glob(f"text-*/{name}"))) as data:
            probs = data["probabilities"]
            assert probs.shape == (len(data["productid"]), len(config.label_codes))
            np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
            rows += len(probs)
    assert rows == evaluation.rows

    caplog.clear()
    with caplog.at_level(logging.INFO):
        second = run_cross_validation(sample_lakehouse, config, FOLDS, str(out), ["text"])
    assert "cv-text-finetune" not in caplog.text
    assert caplog.text.count("finished before, loaded from") == FOLDS
    assert _scores(second) == _scores(first)

    # Training the folds again from scratch gives the same probabilities: a fold retrained
    # after a kill is the fold an uninterrupted run would have made.
    retrained = run_cross_validation(
        sample_lakehouse, config, FOLDS, str(tmp_path / "again"), ["text"], resume=False
    )
    assert _scores(retrained) == _scores(first)
    assert _fold_files(tmp_path / "again", "text") == saved

    # The frozen mode is another key: its folds train (a head on embeddings), in their folder.
    # (the tiny encoder has 2 layers: both pooled)
    frozen_text = dataclasses.replace(text, mode="frozen", pool_layers=(1, 2))
    frozen = dataclasses.replace(
        config, train=dataclasses.replace(config.train, text=frozen_text)
    )
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_cross_validation(sample_lakehouse, frozen, FOLDS, str(out), ["text"])
    assert "finished before" not in caplog.text and "cv-text-finetune" not in caplog.text
    assert len(list((out / CHECKPOINT_DIR).glob("text-*"))) == 2


def test_fine_tuning_leaves_frozen_word_embeddings_and_reinitialises_the_top_layer(
    tiny_encoder, small_config
) -> None:
    cfg = dataclasses.replace(
        small_config.train.text,
        finetune_reinit_layers=1,
        finetune_freeze_word_embeddings=True,
    )
    source = str(tiny_encoder)
    pretrained = text_model.load_encoder_model(source)
    model = text_model.finetune_classifier(source, ClassifierHead(64, 3), cfg, seed=5)
    encoder = model.encoder
    layers = encoder.encoder.layer  # type: ignore[union-attr]
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    top, bottom = "encoder.encoder.layer.1.", "encoder.encoder.layer.0."
    reference = {f"encoder.{k}": v for k, v in pretrained.state_dict().items()}
    # The top layer is re-initialised (and the same way for the same seed), the bottom kept.
    assert not torch.equal(before[top + "attention.self.query.weight"],
                           reference[top + "attention.self.query.weight"])
    assert torch.equal(before[bottom + "attention.self.query.weight"],
                       reference[bottom + "attention.self.query.weight"])
    again = text_model.finetune_classifier(source, ClassifierHead(64, 3), cfg, seed=5)
    assert torch.equal(again.state_dict()[top + "output.dense.weight"],
                       before[top + "output.dense.weight"])
    assert len(layers) == 2

    texts = ["piscine tubulaire 3m", "Cahier 96 pages grands carreaux", "Puzzle 1000 pièces"] * 8
    labels = [0, 1, 2] * 8
    tokens = text_model.tokenize_unpadded(source, texts, 32, "passage: ")
    pad = text_model.pad_token_id(source)
    train = text_model.LengthBuckets(tokens, labels, 4, pad, True, seed=1)
    valid = text_model.LengthBuckets(tokens, labels, 8, pad, False)
    result = fit(
        model,
        train,
        valid,
        lambda b: ({"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]},
                   b["label"]),
        train_rows=train.rows,
        batch_size=4,
        epochs=2,
        patience=2,
        learning_rate=1e-3,
    )
    assert len(result.history) >= 1
    after = model.state_dict()
    word = "encoder.embeddings.word_embeddings.weight"
    assert torch.equal(after[word], before[word])  # frozen
    assert not torch.equal(after[top + "output.dense.weight"], before[top + "output.dense.weight"])


def test_length_buckets_pad_each_batch_to_its_own_rows() -> None:
    ids = [np.arange(1, n + 1) for n in (3, 9, 17, 5, 40, 1, 12)]
    buckets = text_model.LengthBuckets(ids, list(range(7)), 3, 0, False)
    served = []
    for rows in buckets.batches_of(0):
        batch = buckets.batch(rows)
        width = batch["input_ids"].shape[1]
        longest = max(len(ids[r]) for r in rows)
        assert longest <= width < longest + 8 and width % 8 == 0 or width == 40
        assert batch["attention_mask"].sum(1).tolist() == [len(ids[r]) for r in rows]
        served += batch["index"].tolist()
    assert served == buckets.order.tolist() and sorted(served) == list(range(7))
    shuffled = text_model.LengthBuckets(ids, list(range(7)), 2, 0, True, seed=3, window_batches=2)
    epoch1 = [r.tolist() for r in shuffled.batches_of(1)]
    assert sorted(sum(epoch1, [])) == list(range(7))  # every row once an epoch
    assert epoch1 == [r.tolist() for r in shuffled.batches_of(1)]  # seeded
    assert epoch1 != [r.tolist() for r in shuffled.batches_of(2)]  # reshuffled each epoch
