"""Run-to-run monitoring: the measures, the PSI, the alerts, and gold.run_metrics rows.

The pure functions are checked on small pandas frames; the stage on a lakehouse filled with a
normal delivery, then a delivery whose category mix shifted and whose descriptions are empty:
the first raises no alert, the second exactly category_shift and empty_descriptions.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from tests.helpers import rows_of

from catalog_classifier.config import MonitoringConfig
from catalog_classifier.stages.monitor import (
    CATEGORY_SHIFT,
    EMPTY_DESCRIPTIONS,
    LOW_AGREEMENT,
    REVIEW_SHARE_HIGH,
    RunMeasures,
    agreement,
    measure,
    psi,
    raise_alerts,
    run_monitor,
)
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_LISTINGS,
    GOLD_PREDICTIONS,
    GOLD_RUN_METRICS,
    SILVER_IMAGE_FEATURES,
    SILVER_SPLITS,
    SILVER_TEXT_FEATURES,
)

# ---------------------------------------------------------------------- pure functions


def test_psi_is_zero_on_equal_mixes_and_grows_with_the_shift():
    mix = {"10": 0.5, "40": 0.3, "50": 0.2}
    assert psi(mix, mix) == pytest.approx(0.0)
    small = psi({"10": 0.55, "40": 0.25, "50": 0.2}, mix)
    large = psi({"10": 0.9, "40": 0.05, "50": 0.05}, mix)
    assert small is not None and large is not None and 0 < small < 0.1 < 0.25 < large
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.05 - 0.3) * math.log(0.05 / 0.3)
    expected += (0.05 - 0.2) * math.log(0.05 / 0.2)
    assert large == pytest.approx(expected)
    # A category on one side only is floored, not infinite.
    one_sided = psi({"10": 1.0}, {"40": 1.0})
    assert one_sided is not None and math.isfinite(one_sided) and one_sided > 10
    assert psi({}, mix) is None and psi(mix, {}) is None


def _members(text: int | None, image: int | None) -> str:
    out: dict[str, Any] = {"tfidf": {"prdtypecode": text or 10, "probability": 0.5}}
    if text is not None:
        out["text"] = {"prdtypecode": text, "probability": 0.7}
    if image is not None:
        out["image"] = {"prdtypecode": image, "probability": 0.6}
    return json.dumps(out)


def test_agreement_counts_only_listings_both_members_scored():
    members = pd.Series(
        [_members(10, 10), _members(10, 40), _members(10, None), _members(None, 40), "not json"]
    )
    rate, both = agreement(members)
    assert (rate, both) == (0.5, 2)
    assert agreement(pd.Series([_members(10, None)])) == (None, 0)


def test_measure_on_small_frames():
    predictions = pd.DataFrame(
        {
            "productid": [1, 2, 3, 4],
            "imageid": [11, 12, 13, 14],
            "prdtypecode": [10, 10, 40, 50],
            "confidence": [0.9, 0.8, 0.5, 0.6],
            "needs_review": [False, False, True, False],
            "members": [_members(10, 10), _members(10, 10), _members(40, 10), _members(50, None)],
        }
    )
    # Listing 4 has no text features row: no description, unknown language.
    text = pd.DataFrame(
        {
            "productid": [1, 2, 3],
            "has_description": [True, False, True],
            "language": ["fr", "fr", None],
        }
    )
    # 12 invalid, 13 blank, 14 missing: only 11 is usable.
    images = pd.DataFrame(
        {"imageid": [11, 12, 13], "is_valid": [True, False, True], "is_blank": [False, None, True]}
    )
    m = measure(predictions, text, images)
    assert m.listings_scored == 4
    assert m.no_description_share == 0.5
    assert m.no_image_share == 0.75
    assert m.language_mix == {"fr": 0.5, "unknown": 0.5}
    assert m.category_shares == {"10": 0.5, "40": 0.25, "50": 0.25}
    assert m.mean_confidence == pytest.approx(0.7)
    assert m.review_share == 0.25
    assert (m.agreement, m.agreement_listings) == (pytest.approx(2 / 3), 3)
    with pytest.raises(ValueError, match="no scored listing"):
        measure(predictions.iloc[:0], text, images)


def _measures(**changes: Any) -> RunMeasures:
    base = {
        "listings_scored": 100,
        "no_description_share": 0.3,
        "no_image_share": 0.05,
        "language_mix": {"fr": 0.8, "en": 0.2},
        "category_shares": {"10": 0.5, "40": 0.5},
        "mean_confidence": 0.8,
        "review_share": 0.1,
        "agreement": 0.8,
        "agreement_listings": 90,
    }
    return RunMeasures(**{**base, **changes})


def test_each_threshold_raises_its_alert_and_only_it():
    cfg = MonitoringConfig()
    assert raise_alerts(_measures(), cfg, 0.01, 0.01, 0.02) == []
    assert raise_alerts(_measures(), cfg, None, None, None) == []

    def names(measures: RunMeasures, *psis: float | None) -> list[str]:
        return [a.name for a in raise_alerts(measures, cfg, *psis)]

    assert names(_measures(), 0.3, 0.0, 0.0) == [CATEGORY_SHIFT]
    assert names(_measures(), 0.0, 0.0, 0.3) == [CATEGORY_SHIFT]  # against training alone
    assert names(_measures(), 0.3, 0.0, 0.3) == [CATEGORY_SHIFT]  # once, both reasons
    assert names(_measures(), 0.0, 0.3, 0.0) == ["language_shift"]
    assert names(_measures(no_description_share=0.61), None, None, None) == [EMPTY_DESCRIPTIONS]
    assert names(_measures(no_image_share=0.21), None, None, None) == ["missing_images"]
    assert names(_measures(agreement=0.49), None, None, None) == [LOW_AGREEMENT]
    assert names(_measures(agreement=None), None, None, None) == []
    assert names(_measures(review_share=0.51), None, None, None) == [REVIEW_SHARE_HIGH]
    # Thresholds come from the conf.
    strict = MonitoringConfig(max_review_share=0.05)
    assert [a.name for a in raise_alerts(_measures(), strict, None, None, None)] == [
        REVIEW_SHARE_HIGH
    ]


# ---------------------------------------------------------------------- the stage

CODES = (10, 40, 50, 60)
TRAIN_MIX = (0.4, 0.3, 0.2, 0.1)
LANGUAGES = ("fr", "fr", "fr", "en", "de")


def _codes(n: int, mix: tuple[float, ...]) -> list[int]:
    out: list[int] = []
    for code, share in zip(CODES, mix, strict=True):
        out += [code] * round(n * share)
    return out[:n]


def _other(code: int) -> int:
    return CODES[(CODES.index(code) + 1) % len(CODES)]


def _deliver(
    lakehouse: Lakehouse,
    first_id: int,
    codes: list[int],
    described: float,
    scored_at: datetime,
) -> None:
    """A delivery scored by fused version 1: bronze listings, their features, predictions."""
    ids = list(range(first_id, first_id + len(codes)))
    n_described = round(len(ids) * described)
    rows_of(lakehouse, BRONZE_LISTINGS, [{"productid": p, "imageid": p} for p in ids])
    rows_of(
        lakehouse,
        SILVER_TEXT_FEATURES,
        [
            {
                "productid": p,
                "has_description": i < n_described,
                "language": LANGUAGES[i % len(LANGUAGES)],
            }
            for i, p in enumerate(ids)
        ],
    )
    rows_of(
        lakehouse,
        SILVER_IMAGE_FEATURES,
        [{"imageid": p, "productid": p, "is_valid": True, "is_blank": False} for p in ids],
    )
    rows_of(
        lakehouse,
        GOLD_PREDICTIONS,
        [
            {
                "productid": p,
                "model_version": "1",
                "prdtypecode": code,
                "confidence": 0.85,
                "needs_review": i % 10 == 0,
                # The image member disagrees on one listing in eight.
                "members": _members(code, code if i % 8 else _other(code)),
                "imageid": p,
                "scored_at": scored_at,
            }
            for i, (p, code) in enumerate(zip(ids, codes, strict=True))
        ],
    )


def test_a_shifted_delivery_with_empty_descriptions_raises_exactly_its_alerts(
    spark, config, tmp_path, caplog
):
    lakehouse = Lakehouse(spark, str(tmp_path / "lakehouse"), "delta-rs")
    train = _codes(400, TRAIN_MIX)
    rows_of(
        lakehouse,
        SILVER_SPLITS,
        [{"productid": 10_000 + i, "prdtypecode": c, "split": "train"} for i, c in enumerate(train)]
        # Valid/test rows are not training data: a mix that would shift the reference.
        + [{"productid": 20_000 + i, "prdtypecode": 60, "split": "test"} for i in range(300)],
    )
    start = datetime.now(UTC) - timedelta(hours=1)

    # Night 1: the training mix, 70% described.
    _deliver(lakehouse, 1, _codes(200, TRAIN_MIX), described=0.7, scored_at=start)
    first = run_monitor(lakehouse, config)
    assert first.measures is not None and first.alerts == [], first.format()
    assert first.measures.listings_scored == 200
    assert first.category_psi_previous is None and first.category_psi_training == pytest.approx(0)
    assert first.measures.agreement == pytest.approx(1 - 25 / 200)

    # Nothing scored since: nothing measured, nothing written.
    idle = run_monitor(lakehouse, config)
    assert idle.measures is None
    assert lakehouse.read(GOLD_RUN_METRICS).count() == 1

    # Night 2: a supplier floods one category and sends no descriptions.
    shifted = _codes(200, (0.1, 0.1, 0.1, 0.7))
    _deliver(lakehouse, 1_001, shifted, described=0.1, scored_at=datetime.now(UTC))
    with caplog.at_level("WARNING", logger="catalog_classifier.stages.monitor"):
        second = run_monitor(lakehouse, config, page_dir=tmp_path / "monitoring")
    assert second.measures is not None and second.measures.listings_scored == 200  # night 2 only
    assert [a.name for a in second.alerts] == [CATEGORY_SHIFT, EMPTY_DESCRIPTIONS], second.format()
    assert second.category_psi_previous is not None and second.category_psi_previous > 0.25
    assert second.language_psi_previous == pytest.approx(0)
    assert "alert category_shift" in caplog.text and "alert empty_descriptions" in caplog.text

    rows = lakehouse.read(GOLD_RUN_METRICS).orderBy("monitored_at").collect()
    assert [r["listings_scored"] for r in rows] == [200, 200]
    assert json.loads(rows[0]["alerts"]) == []
    assert [a["name"] for a in json.loads(rows[1]["alerts"])] == [
        CATEGORY_SHIFT,
        EMPTY_DESCRIPTIONS,
    ]
    assert rows[1]["no_description_share"] == pytest.approx(0.9)
    assert json.loads(rows[1]["category_shares"])["60"] == pytest.approx(0.7)
    assert json.loads(rows[1]["thresholds"])["max_category_psi"] == 0.25
    assert json.loads(rows[1]["input_versions"])["gold.predictions"] is not None

    # The monitoring page: both runs, the alerts of night 2 in its table, every figure drawn.
    assert second.page == str(tmp_path / "monitoring" / "index.html")
    page = (tmp_path / "monitoring" / "index.html").read_text(encoding="utf-8")
    assert "2 of 2 monitored scoring runs shown" in page
    alerts = page.split("<h2>Alerts</h2>")[1].split("</section>")[0]
    assert alerts.count("<tr") == 3  # the header and night 2's two alerts
    assert CATEGORY_SHIFT in alerts and EMPTY_DESCRIPTIONS in alerts
    for name in ("volumes", "inputs", "predictions", "drift", "categories"):
        png = tmp_path / "monitoring" / "figures" / f"{name}.png"
        assert f"figures/{name}.png" in page
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def test_the_job_exit_code_follows_fail_on_alert(spark, config, tmp_path):
    import jobs.monitor

    root = tmp_path / "lakehouse"
    lakehouse = Lakehouse(spark, str(root), "delta-rs")
    # No training labels, one delivery whose descriptions are all empty.
    _deliver(lakehouse, 1, _codes(40, TRAIN_MIX), described=0.0, scored_at=datetime.now(UTC))
    args = ["--lakehouse", str(root), "--set", "monitoring.fail_on_alert=true"]
    assert jobs.monitor.main(args) == 1
    rows = lakehouse.read(GOLD_RUN_METRICS).collect()
    assert [a["name"] for a in json.loads(rows[0]["alerts"])] == [EMPTY_DESCRIPTIONS]
    # By default an alert is logged and written, and the job succeeds.
    _deliver(lakehouse, 101, _codes(40, TRAIN_MIX), described=0.0, scored_at=datetime.now(UTC))
    report = tmp_path / "report"
    assert jobs.monitor.main(["--lakehouse", str(root), "--report-dir", str(report)]) == 0
    assert lakehouse.read(GOLD_RUN_METRICS).count() == 2
    assert "2 of 2 monitored scoring runs shown" in (
        report / "monitoring" / "index.html"
    ).read_text(encoding="utf-8")


def test_monitor_after_a_real_scoring_run(trained, small_config, tmp_path):
    """On a copy of the session's trained project: score, then monitor; the row's measures are
    those of gold.predictions and the features, and a second run without scoring writes none."""
    from tests.test_promote import copy_lakehouse

    from catalog_classifier.stages.score import run_score

    source, _ = trained
    lakehouse = copy_lakehouse(source, tmp_path / "lakehouse")
    scored = run_score(lakehouse, small_config)
    summary = run_monitor(lakehouse, small_config)
    m = summary.measures
    assert m is not None and summary.model_version == scored.model_version
    predictions = (
        lakehouse.read(GOLD_PREDICTIONS)
        .where(f"model_version = '{scored.model_version}'")
        .toPandas()
    )
    assert m.listings_scored == len(predictions) == scored.scored
    assert m.mean_confidence == pytest.approx(predictions["confidence"].mean())
    assert m.review_share == pytest.approx(predictions["needs_review"].mean())
    expected, both = agreement(predictions["members"])
    assert both > 0 and (m.agreement, m.agreement_listings) == (pytest.approx(expected), both)
    assert sum(m.category_shares.values()) == pytest.approx(1)
    assert sum(m.language_mix.values()) == pytest.approx(1)
    assert summary.category_psi_training is not None and summary.category_psi_previous is None
    assert run_monitor(lakehouse, small_config).measures is None
    assert lakehouse.read(GOLD_RUN_METRICS).count() == 1
