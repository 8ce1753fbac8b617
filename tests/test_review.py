"""The review app: its queue and decision rules, concurrent decisions, the labels they give the
next training, and an analyst's session in a real browser (headless Chromium, Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pyspark.sql import functions as F
from tests.helpers import rows_of

from catalog_classifier.features.splits import run_splits
from catalog_classifier.review.store import (
    DecisionError,
    ReviewStore,
    decision_row,
    queue_by_category,
    review_queue,
)
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.tables import (
    BRONZE_LABELS,
    BRONZE_LISTINGS,
    BRONZE_REVIEW_DECISIONS,
    GOLD_PREDICTIONS,
    REVIEW_ACCEPTED,
    REVIEW_CORRECTED,
    REVIEW_UNCLASSIFIABLE,
    SILVER_SPLITS,
)

CODES = [10, 40, 50, 60]
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _row(**overrides):
    values = {
        "decision_id": str(uuid.uuid4()),
        "productid": 7,
        "model_version": "3",
        "predicted_code": 40,
        "decision": REVIEW_ACCEPTED,
        "corrected_code": None,
        "analyst": "ana",
        "label_codes": CODES,
        "at": NOW,
    }
    values.update(overrides)
    return decision_row(**values)


def test_the_queue_is_the_undecided_flagged_listings_by_category_least_confident_first():
    predictions = pd.DataFrame(
        {
            "productid": [1, 2, 3, 4, 5],
            "prdtypecode": [40, 10, 40, 40, 10],
            "confidence": [0.3, 0.2, 0.1, 0.9, 0.25],
            "needs_review": [True, True, True, False, True],
        }
    )
    queue = review_queue(predictions, decided={5})
    assert queue["productid"].tolist() == [2, 3, 1]  # 4 is confident, 5 decided
    counts = queue_by_category(queue, {10: "books", 40: "games"})
    assert counts.to_dict("records") == [
        {"prdtypecode": 40, "category": "games", "pending": 2},
        {"prdtypecode": 10, "category": "books", "pending": 1},
    ]


def test_a_decision_row_carries_the_label_it_decides():
    assert _row()["prdtypecode"] == 40  # accepted: the prediction
    corrected = _row(decision=REVIEW_CORRECTED, corrected_code=60)
    assert (corrected["prdtypecode"], corrected["predicted_code"]) == (60, 40)
    assert _row(decision=REVIEW_UNCLASSIFIABLE)["prdtypecode"] is None
    assert _row(analyst="  bob ")["decided_by"] == "bob"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"analyst": " "}, "analyst's name is empty"),
        ({"decision": "maybe"}, "unknown decision 'maybe'"),
        ({"decision": REVIEW_CORRECTED}, "needs the right category"),
        ({"decision": REVIEW_CORRECTED, "corrected_code": 999}, "999 is not a product type"),
        ({"decision_id": "x"}, "malformed decision id"),
    ],
)
def test_a_bad_decision_is_refused_with_its_reason(overrides, message):
    with pytest.raises(DecisionError, match=message):
        _row(**overrides)


def test_concurrent_decisions_all_land_once(tmp_path, config):
    """Eight analysts at once, each submitting five decisions and every form twice: exactly
    forty rows, none lost, none doubled."""
    store = ReviewStore(str(tmp_path / "lakehouse"), config)
    rows = [
        _row(productid=1000 * a + i, analyst=f"analyst {a}") for a in range(8) for i in range(5)
    ]
    results: list[bool] = []
    lock = threading.Lock()

    def work(analyst: int) -> None:
        mine = [r for r in rows if r["decided_by"] == f"analyst {analyst}"]
        for row in mine + mine:  # every form submitted twice
            stored = store.record(row)
            with lock:
                results.append(stored)

    threads = [threading.Thread(target=work, args=(a,)) for a in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = store.decisions()
    assert sorted(stored["decision_id"]) == sorted(r["decision_id"] for r in rows)
    assert results.count(True) == 40 and results.count(False) == 40
    assert set(stored["productid"]) == {r["productid"] for r in rows}


def test_review_decisions_take_precedence_over_supplier_labels(spark, lakehouse, config):
    listings = [{"productid": p, "imageid": p} for p in range(1, 7)]
    rows_of(lakehouse, BRONZE_LISTINGS, listings)
    rows_of(lakehouse, BRONZE_LABELS, [{"productid": p, "prdtypecode": 10} for p in (1, 2, 3, 4)])
    run_splits(lakehouse, config.splits)
    assert sorted(r["productid"] for r in lakehouse.read(SILVER_SPLITS).collect()) == [1, 2, 3, 4]

    def decided(productid, decision, code, minutes):
        row = _row(
            productid=productid,
            decision=decision,
            corrected_code=code,
            predicted_code=40,
            at=NOW + timedelta(minutes=minutes),
        )
        return {k: row[k] for k in BRONZE_REVIEW_DECISIONS.column_names}

    rows_of(
        lakehouse,
        BRONZE_REVIEW_DECISIONS,
        [
            decided(1, REVIEW_CORRECTED, 60, 0),  # corrects a supplier label
            decided(2, REVIEW_UNCLASSIFIABLE, None, 0),  # leaves training
            decided(5, REVIEW_ACCEPTED, None, 0),  # an unlabelled listing gains a label
            decided(3, REVIEW_CORRECTED, 50, 0),  # corrected, then re-decided: the latest wins
            decided(3, REVIEW_ACCEPTED, None, 5),
        ],
    )
    run_splits(lakehouse, config.splits)
    labels = {r["productid"]: r["prdtypecode"] for r in lakehouse.read(SILVER_SPLITS).collect()}
    assert labels == {1: 60, 3: 40, 4: 10, 5: 40}


# ------------------------------------------------------------------------------------------
# In a browser


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium; missing it fails under CI=true (CI installs it) and skips elsewhere."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "no chromium on PATH: apt-get install chromium (see .ci/run)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def review_server(trained, small_config, tmp_path) -> Iterator[tuple[str, Lakehouse, list[int]]]:
    """The trained sample scored, four of its listings flagged needs_review (as the nightly
    flags the least confident), and the app serving it on a free port."""
    import uvicorn
    from tests.test_promote import copy_lakehouse

    from catalog_classifier.review.app import create_app
    from catalog_classifier.review.explain import Explanations
    from catalog_classifier.stages.score import run_score

    source, _ = trained
    lakehouse = copy_lakehouse(source, tmp_path / "lakehouse")
    scored = run_score(lakehouse, small_config)
    predictions = lakehouse.read(GOLD_PREDICTIONS).where(
        F.col("model_version") == scored.model_version
    )
    with_image = predictions.where(F.col("members").contains('"image"'))
    flagged = [int(r["productid"]) for r in with_image.orderBy("confidence").limit(4).collect()]
    lakehouse.merge(
        GOLD_PREDICTIONS,
        predictions.where(F.col("productid").isin(flagged)).withColumn("needs_review", F.lit(True)),
        update_columns=["needs_review"],
        insert=False,
    )
    store = ReviewStore(lakehouse.root, small_config)
    app = create_app(store, Explanations(lakehouse.root, small_config))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = datetime.now() + timedelta(seconds=30)
    while not server.started:
        assert datetime.now() < deadline, "the review app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", lakehouse, flagged
    server.should_exit = True
    thread.join(timeout=10)


def test_an_analyst_corrects_one_listing_and_accepts_another_in_a_browser(
    chromium, review_server, small_config
):
    from playwright.sync_api import sync_playwright

    url, lakehouse, flagged = review_server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.goto(url)
        assert page.inner_text("#summary").startswith("4 listings to review; 0 decisions")
        page.click("#categories a >> nth=0")
        page.click("#listings a >> nth=0")
        first = int(page.url.rsplit("/", 1)[1])
        assert first in flagged
        # What the analyst decides on: the photo, its Grad-CAM overlay, the fused top 3 and
        # each member's opinion.
        page.wait_for_function(
            "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)",
            timeout=60_000,
        )
        assert page.locator("img[alt='Grad-CAM overlay']").count() == 1
        assert page.locator("#top3 tr").count() == 4
        members = page.inner_text("#members")
        assert "tfidf" in members and "image" in members
        predicted = int(page.locator("#top3 tr >> nth=1 >> td >> nth=2").inner_text())

        # A first decision without a name is refused, with the reason on the page.
        page.fill("#analyst", "")
        page.click("#unclassifiable")
        assert "analyst's name is empty" in page.inner_text("#error")

        # Correct the first listing to another category.
        other = next(c for c in small_config.label_codes if c != predicted)
        page.fill("#analyst", "Ana Lyst")
        page.select_option("#corrected_code", str(other))
        page.click("#correct")
        page.wait_for_load_state()
        assert f"done={first}" in page.url
        # The next listing of the category, or the category page: accept the next listing.
        if "/category/" in page.url:
            page.goto(url)
            page.click("#categories a >> nth=0")
            page.click("#listings a >> nth=0")
        second = int(page.url.split("?")[0].rsplit("/", 1)[1])
        assert second != first and second in flagged
        assert page.input_value("#analyst") == "Ana Lyst"  # remembered
        second_code = int(page.locator("#top3 tr >> nth=1 >> td >> nth=2").inner_text())
        page.click("#accept")
        page.wait_for_load_state()

        page.goto(url)
        assert page.inner_text("#summary").startswith("2 listings to review; 2 decisions")
        browser.close()

    decisions = lakehouse.read(BRONZE_REVIEW_DECISIONS).orderBy("decided_at").collect()
    assert [
        (d["productid"], d["decision"], d["prdtypecode"], d["decided_by"]) for d in decisions
    ] == [
        (first, REVIEW_CORRECTED, other, "Ana Lyst"),
        (second, REVIEW_ACCEPTED, second_code, "Ana Lyst"),
    ]
    assert decisions[0]["predicted_code"] == predicted

    # The next training's labels: the analysts' codes.
    run_splits(lakehouse, small_config.splits)
    labels = {
        r["productid"]: r["prdtypecode"]
        for r in lakehouse.read(SILVER_SPLITS)
        .where(F.col("productid").isin(first, second))
        .collect()
    }
    assert labels == {first: other, second: second_code}
