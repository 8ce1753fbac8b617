"""The typed configuration: conf files, includes, overrides and their errors."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from catalog_classifier.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["local.yaml", "cluster.yaml", "databricks.yaml"])
def test_every_conf_file_loads_with_the_27_categories(name):
    config = load_config(REPO / "conf" / name)
    assert len(config.categories) == 27
    assert config.category_names[2583] == "Pool and accessories"
    # The priors are the real Y_train.csv counts (84,916 rows).
    assert sum(config.category_priors.values()) == 84_916


def test_overrides_and_top_level_values():
    config = load_config(
        REPO / "conf" / "local.yaml",
        [
            "ingest.image_batch_files=7",
            "spark.conf.spark.sql.shuffle.partitions=3",
            "sample.images=null",
        ],
        lakehouse="/tmp/elsewhere",
    )
    assert config.ingest.image_batch_files == 7
    assert config.spark.conf["spark.sql.shuffle.partitions"] == "3"
    assert config.sample.images is None
    assert config.lakehouse == "/tmp/elsewhere"


def test_unknown_keys_and_bad_values_fail_at_start(tmp_path):
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(REPO / "conf" / "local.yaml", ["ingest.image_batch_filez=7"])
    with pytest.raises(ConfigError, match="expected int"):
        load_config(REPO / "conf" / "local.yaml", ["ingest.image_batch_files=many"])
    with pytest.raises(ConfigError, match="delta_engine"):
        load_config(REPO / "conf" / "local.yaml", ["delta_engine=parquet"])
    with pytest.raises(ConfigError, match="tfidf_engine"):
        load_config(REPO / "conf" / "local.yaml", ["scoring.tfidf_engine=java"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_include_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("include: [b.yaml]\n")
    (tmp_path / "b.yaml").write_text("include: [a.yaml]\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")


def test_override_strings_are_read_as_yaml_and_coerced_to_the_field_types():
    config = load_config(
        REPO / "conf" / "local.yaml",
        [
            "train.text.epochs=3",
            "ingest.max_compression_ratio=7",
            "registry.experiment=2024",
            "train.tfidf.binary=false",
            "train.text.class_weights=true",
            "features.languages=[fr, en]",
            "train.tfidf.char_ngrams=[2, '3']",
            "train.models=[tfidf, fusion]",
            "train.image.weights_path=null",
        ],
    )
    assert config.train.text.epochs == 3 and isinstance(config.train.text.epochs, int)
    assert config.ingest.max_compression_ratio == 7.0
    assert isinstance(config.ingest.max_compression_ratio, float)
    assert config.registry.experiment == "2024"
    assert config.train.tfidf.binary is False and config.train.text.class_weights is True
    # Tuples, not lists: the language list is an lru_cache key (features.text).
    assert config.features.languages == ("fr", "en")
    assert config.train.tfidf.char_ngrams == (2, 3)
    assert config.train.models == ("tfidf", "fusion")
    assert config.train.image.weights_path is None
    # Spark takes strings: YAML's numbers and booleans under spark.conf are turned into them.
    assert load_config(overrides=["spark.conf.spark.x.y=true"]).spark.conf["spark.x.y"] == "True"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.text.epochs=3.5", "config.train.text.epochs: expected int, got 3.5"),
        ("train.tfidf.binary=1", "config.train.tfidf.binary: expected true or false, got 1"),
        ("train.tfidf.binary='no'", "config.train.tfidf.binary: expected true or false, got 'no'"),
        ("features.languages=fr", "config.features.languages: expected a list, got 'fr'"),
        ("train.tfidf.char_ngrams=[3, x]", "config.train.tfidf.char_ngrams[1]: expected int"),
        ("registry.experiment=[a]", "config.registry.experiment: expected str, got ['a']"),
        ("spark.conf=[a]", "config.spark.conf: expected a mapping, got list"),
        ("ingest=3", "config.ingest: expected a mapping, got int"),
        ("train.text.mode=gpu", "config.train.text.mode: expected 'auto', 'frozen' or 'finetune'"),
        ("train.models=[tfidf, bert]", "config.train.models[1]: expected 'tfidf', 'text', 'ima"),
        ("train.reader_pool=thread", "config.train.reader_pool: thread loses rows"),
        ("train.fusion.review_precision=0", "config.train.fusion.review_precision: input should"),
        ("splits.test=0.2", "config.splits: train, valid and test must be >= 0 and sum to 1"),
        ("train.image.hidden=8", "config.train.image: head_solver lbfgs fits linear heads"),
        ("sample.images=some", "config.sample.images: expected int, got 'some'"),
        ("train.petastorm_cache=null", "config.train.petastorm_cache: expected str, got None"),
        ("scoring.cascade=sometimes", "config.scoring.cascade: expected true or false, got 'so"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_dotted_key_and_the_reason(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "conf" / "local.yaml", [override])
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("ingest.max_image_pixels=-5", "config.ingest.max_image_pixels: input should be greater "),
        ("ingest.image_batch_files=0", "config.ingest.image_batch_files: input should be greater"),
        (
            "ingest.image_name_pattern='image_(?P<imageid>[0-9+'",
            "config.ingest.image_name_pattern: invalid regular expression",
        ),
        (
            "ingest.image_name_pattern='(?P<imageid>[0-9]+)'",
            "config.ingest.image_name_pattern: '(?P<imageid>[0-9]+)' lacks the named group(s) "
            "['productid']",
        ),
        ("ingest.max_compression_ratio=0.5", "config.ingest.max_compression_ratio: input should"),
        (
            "train.tfidf.min_doc_freq=100000",
            "config.train.tfidf.min_doc_freq: input should be less than or equal to 1000",
        ),
        ("train.tfidf.min_doc_freq=0", "config.train.tfidf.min_doc_freq: input should be greater"),
        ("train.tfidf.char_ngrams=[3, 0]", "config.train.tfidf.char_ngrams[1]: input should be"),
        ("train.text.dropout=1", "config.train.text.dropout: input should be less than 1"),
        ("train.image.learning_rate=0", "config.train.image.learning_rate: input should be gr"),
        ("train.fusion.cv_folds=1", "config.train.fusion.cv_folds: input should be greater"),
        ("splits.cv_folds=1", "config.splits.cv_folds: input should be greater than or equal"),
        ("scoring.chunk_rows=0", "config.scoring.chunk_rows: input should be greater than or e"),
        ("scoring.torch_threads=-1", "config.scoring.torch_threads: input should be greater"),
        (
            "train.fusion.cascade_max_f1_drop=-0.01",
            "config.train.fusion.cascade_max_f1_drop: input should be greater than or equal",
        ),
        ("features.image_batch_rows=0", "config.features.image_batch_rows: input should be gr"),
    ],
)
def test_a_setting_out_of_its_bounds_is_refused_at_load_naming_the_key_and_the_bound(
    override, message
):
    """Values no run can use (a negative pixel limit, batches of no file, a pattern that does not
    compile) are refused by load_config, before Spark starts, not deep in a job."""
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "conf" / "local.yaml", [override])
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_unknown_keys_are_rejected_with_the_keys_their_section_knows(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(
            REPO / "conf" / "local.yaml",
            ["train.text.epoch=3", "train.text.paitence=1", "trian.seed=1", "train.text.epochs=x"],
            log_levle="DEBUG",
        )
    message = str(caught.value)
    assert (
        "config.train.text: unknown key(s) ['epoch', 'paitence']; known: ['batch_size'," in message
    )
    assert "config: unknown key(s) ['log_levle', 'trian']; known: ['categories'," in message
    # Every error is reported at once, on one line.
    assert "config.train.text.epochs: expected int, got 'x'" in message and "\n" not in message
    (tmp_path / "c.yaml").write_text(
        "categories:\n  - {code: 1, count: 2, name_en: a, name_fr: b, name_de: c}\n"
    )
    with pytest.raises(
        ConfigError, match=r"config\.categories\[0\]: unknown key\(s\) \['name_de'\]"
    ):
        load_config(tmp_path / "c.yaml")


def test_categories_are_checked(tmp_path):
    (tmp_path / "dup.yaml").write_text(
        "categories:\n  - {code: 1, count: 2, name_en: a, name_fr: b}\n"
        "  - {code: 1, count: 3, name_en: c, name_fr: d}\n"
    )
    with pytest.raises(ConfigError, match=r"^config\.categories: duplicate prdtypecode \[1\]$"):
        load_config(tmp_path / "dup.yaml")
    (tmp_path / "short.yaml").write_text("categories:\n  - {code: 2, count: 3, name_en: e}\n")
    with pytest.raises(ConfigError, match=r"^config\.categories\[0\]\.name_fr: missing$"):
        load_config(tmp_path / "short.yaml")


def test_sections_stay_frozen_dataclasses_that_replace_validates_and_pickle_keeps():
    config = load_config(REPO / "conf" / "local.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lakehouse = "elsewhere"  # type: ignore[misc]
    folds = dataclasses.replace(config, splits=dataclasses.replace(config.splits, cv_folds=3))
    assert folds.splits.cv_folds == 3 and folds.categories == config.categories
    with pytest.raises(ValueError, match="delta-rs"):
        dataclasses.replace(config, delta_engine="parquet")
    settings = dataclasses.asdict(config.train.tfidf)
    assert settings["char_ngrams"] == (3, 4, 5) and settings["loss"] == "hinge"
    assert dataclasses.asdict(config)["categories"][0]["code"] == config.label_codes[0]
    # Configs travel to Spark's Python workers inside pickled closures.
    assert pickle.loads(pickle.dumps(config)) == config
