"""The typed configuration: conf files, includes, overrides and their errors."""

from __future__ import annotations

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
