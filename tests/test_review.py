"""The review app: its queue and decision rules, concurrent decisions, the labels they give the
next training, and an analyst's session in a real browser (headless Chromium, Playwright)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F
from tests.helpers import free_port, rows_of

from catalog_classifier.config import load_config
from catalog_classifier.features.splits import NEVER_HELD_OUT, hash_unit, run_splits, split_of
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

REPO = Path(__file__).resolve().parents[1]
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
    rows = {r["productid"]: r for r in lakehouse.read(SILVER_SPLITS).collect()}
    assert {p: r["prdtypecode"] for p, r in rows.items()} == {1: 60, 3: 40, 4: 10, 5: 40}
    # An accepted prediction trains but is never evaluated: the model's own answer is no
    # independent label (train split, never a CV fold's test part); a correction is evaluated.
    assert {p: (r["split"], r["fold"]) for p, r in rows.items() if p in (3, 5)} == {
        3: ("train", NEVER_HELD_OUT),
        5: ("train", NEVER_HELD_OUT),
    }
    assert rows[1]["fold"] >= 0 and rows[4]["fold"] >= 0
    assert rows[1]["split"] == split_of(hash_unit(1, config.splits.salt), config.splits)


# ------------------------------------------------------------------------------------------
# In a browser


# Debian's Chromium on a machine without network: no background connections, no sandbox (root).
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
    port = free_port()
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
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
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


# ------------------------------------------------------------------------------------------
# Forged decisions, identity headers, photos and keys: an app over a store held in memory (no
# Spark, no trained model); its decisions go to bronze.review_decisions through delta-rs.

QUEUE = [  # productid, imageid (None: no image), its photo is sound, category, confidence
    (101, 9101, True, 10, 0.10),
    (201, 9201, True, 40, 0.20),
    (202, 9202, False, 40, 0.30),  # an image the ingest flagged: no photo to show
    (203, None, False, 40, 0.40),
]


class MemoryReviewStore(ReviewStore):
    """:class:`ReviewStore` with its flagged predictions, texts and photos in memory."""

    def __init__(self, root: str, config) -> None:
        super().__init__(root, config, "1")
        from tests.helpers import jpeg

        self.frame = pd.DataFrame(
            {
                "productid": [q[0] for q in QUEUE],
                "imageid": [q[1] for q in QUEUE],
                "model_version": "1",
                "prdtypecode": [q[3] for q in QUEUE],
                "category": [config.category_names[q[3]] for q in QUEUE],
                "confidence": [q[4] for q in QUEUE],
                "top3": [f'[{{"prdtypecode": {q[3]}, "probability": {q[4]}}}]' for q in QUEUE],
                "members": [
                    f'{{"tfidf": {{"prdtypecode": {q[3]}, "probability": 0.5}}}}' for q in QUEUE
                ],
                "needs_review": True,
            }
        )
        self.photos = {q[1]: jpeg((80, 60)) for q in QUEUE if q[2]}

    def predictions(self) -> pd.DataFrame:
        return self.frame

    def titles(self, productids: list[int]) -> dict[int, str]:
        return {p: f"Listing {p}" for p in productids}

    def listing(self, productid: int):
        from catalog_classifier.review.store import Listing

        row = self.prediction(productid)
        if row is None:
            return None
        imageid = None if pd.isna(row["imageid"]) else int(row["imageid"])
        return Listing(
            productid=productid,
            imageid=imageid,
            model_version="1",
            prdtypecode=int(row["prdtypecode"]),
            category=str(row["category"]),
            confidence=float(row["confidence"]),
            top3=json.loads(row["top3"]),
            members=json.loads(row["members"]),
            designation=f"Listing {productid}",
            description=None,
            has_image=imageid in self.photos,
        )

    def usable_images(self, imageids: list[int]) -> set[int]:
        return {i for i in imageids if i in self.photos}

    def image(self, imageid: int) -> bytes | None:
        return self.photos.get(imageid)


@contextlib.contextmanager
def _serving(app, port: int | None = None) -> Iterator[str]:
    """``app`` (ASGI) on 127.0.0.1 and a free port, for the block's length: its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _memory_app(tmp_path, config, **review):
    from catalog_classifier.review.app import create_app

    if review:
        config = dataclasses.replace(config, review=dataclasses.replace(config.review, **review))
    store = MemoryReviewStore(str(tmp_path / "lakehouse"), config)
    return create_app(store), store


def _decisions(store: ReviewStore) -> list[tuple[int, str, int | None, str]]:
    rows = store.decisions().sort_values("decided_at").to_dict("records")
    return [
        (
            int(r["productid"]),
            r["decision"],
            None if pd.isna(r["prdtypecode"]) else int(r["prdtypecode"]),
            r["decided_by"],
        )
        for r in rows
    ]


def _post(url: str, fields: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    """POST a form outside any browser (headers as a script could forge them)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    request = urllib.request.Request(
        url, urllib.parse.urlencode(fields).encode(), headers=headers, method="POST"
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_page_of_another_origin_cannot_post_a_decision(chromium, config, tmp_path):
    """An analyst's browser, with the app open, visits a page served from another origin
    (another port) that submits a decision form to the app on load: refused (403) by the
    Origin check and the missing token, and nothing is written. Each check alone refuses too,
    and the analyst's own decision through the page still goes through."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    app, store = _memory_app(tmp_path, config)
    with _serving(app) as url, sync_playwright() as playwright:
        forged = f"""<!DOCTYPE html><html><body>
<form id="f" method="post" action="{url}/decide">
<input name="decision_id" value="{uuid.uuid4()}"><input name="productid" value="101">
<input name="decision" value="corrected"><input name="corrected_code" value="40">
<input name="analyst" value="mallory"><input name="csrf_token" value="guessed">
</form><script>document.getElementById("f").submit();</script></body></html>"""

        class Evil(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = forged.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/listing/101")  # the analyst's session with the app
        with page.expect_response(lambda r: r.url == f"{url}/decide") as posted:
            page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        assert posted.value.status == 403
        assert "another origin" in page.inner_text("body")
        assert store.decisions().empty

        # The app's own origin without the page's token (a script on the page could not read
        # it from another origin either): refused.
        page.goto(f"{url}/listing/101")
        status = page.evaluate(
            """async () => (await fetch("/decide", {method: "POST", body: new URLSearchParams(
                {decision_id: crypto.randomUUID(), productid: "101", decision: "accepted",
                 analyst: "mallory"})})).status"""
        )
        assert status == 403
        # The right token and cookie, but posted from elsewhere: refused.
        token = page.input_value("input[name=csrf_token]")
        session = next(c["value"] for c in page.context.cookies() if "session" in c["name"])
        fields = {
            "decision_id": str(uuid.uuid4()),
            "productid": "101",
            "decision": "accepted",
            "analyst": "mallory",
            "csrf_token": token,
        }
        cookie = {"Cookie": f"catalog_review_session={session}"}
        for where in ({"Origin": "http://127.0.0.1:1"}, {"Referer": "http://evil.test/x"}, {}):
            assert _post(f"{url}/decide", fields, {**cookie, **where})[0] == 403, where
        assert store.decisions().empty
        # From the app's own page, the analyst's decision lands.
        page.fill("#analyst", "Ana Lyst")
        page.click("#accept")
        page.wait_for_url(f"{url}/listing/201?done=101")
        browser.close()
        evil.shutdown()
    assert _decisions(store) == [(101, REVIEW_ACCEPTED, 10, "Ana Lyst")]


def test_identity_headers_are_believed_only_from_the_configured_proxy(chromium, config, tmp_path):
    """With no trusted header configured, X-Forwarded-Email is anyone's to send: ignored (the
    decision is the form's analyst's). With review.trusted_identity_header set, that header is
    the analyst, and a decision without it is refused."""
    from playwright.sync_api import sync_playwright

    app, store = _memory_app(tmp_path / "open", config)
    with _serving(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page()
        page.set_extra_http_headers({"X-Forwarded-Email": "boss@example.com"})
        page.goto(f"{url}/listing/101")
        assert page.get_attribute("#analyst", "readonly") is None
        assert page.input_value("#analyst") != "boss@example.com"
        page.fill("#analyst", "Ana Lyst")
        page.click("#accept")
        page.wait_for_url(f"{url}/listing/201?done=101")
        assert "boss@example.com" not in page.inner_text("body")
        browser.close()
    assert _decisions(store) == [(101, REVIEW_ACCEPTED, 10, "Ana Lyst")]

    app, store = _memory_app(
        tmp_path / "proxied", config, trusted_identity_header="X-Forwarded-Email"
    )
    with _serving(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page()
        page.set_extra_http_headers({"X-Forwarded-Email": "ana@example.com"})
        page.goto(f"{url}/listing/101")
        assert page.get_attribute("#analyst", "readonly") is not None
        token = page.input_value("input[name=csrf_token]")
        session = next(c["value"] for c in page.context.cookies() if "session" in c["name"])
        page.click("#accept")
        page.wait_for_url(f"{url}/listing/201?done=101")
        browser.close()
        fields = {
            "decision_id": str(uuid.uuid4()),
            "productid": "201",
            "decision": "accepted",
            "analyst": "mallory",  # a name in the form is not read behind the proxy
            "csrf_token": token,
        }
        same_origin = {"Origin": url, "Cookie": f"catalog_review_session={session}"}
        status, body = _post(f"{url}/decide", fields, same_origin)
        assert status == 403 and "no X-Forwarded-Email header" in body
        proxied = {**same_origin, "X-Forwarded-Email": "bob@example.com"}
        assert _post(f"{url}/decide", fields, proxied)[0] == 303
    assert _decisions(store) == [
        (101, REVIEW_ACCEPTED, 10, "ana@example.com"),
        (201, REVIEW_ACCEPTED, 40, "bob@example.com"),
    ]


def test_an_analyst_goes_through_the_queue_with_the_keyboard(chromium, config, tmp_path):
    """a accepts, s skips, c focuses the category list (Enter corrects), u marks
    unclassifiable; each decision moves on to the next listing. A listing without a sound
    photo shows a "no photo" placeholder, never an <img> of a missing image."""
    import getpass

    from playwright.sync_api import sync_playwright

    app, store = _memory_app(tmp_path, config)
    with _serving(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page()
        broken: list[str] = []
        page.on("response", lambda r: broken.append(r.url) if r.status == 404 else None)

        page.goto(f"{url}/category/40")
        assert page.locator("#listings .no-photo").count() == 2
        assert page.locator("#listings img").count() == 1

        page.goto(f"{url}/listing/101")
        page.keyboard.press("a")
        page.wait_for_url(f"{url}/listing/201?done=101")
        page.keyboard.press("s")
        page.wait_for_url(f"{url}/listing/202")
        assert page.inner_text("#no-photo") == "no photo"
        assert page.locator(".images img").count() == 0
        page.keyboard.press("c")
        assert page.evaluate("document.activeElement.id") == "corrected_code"
        page.select_option("#corrected_code", "10")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/listing/201?done=202")
        page.keyboard.press("u")
        page.wait_for_url(f"{url}/listing/203?done=201")
        assert page.inner_text("#no-photo") == "no photo"
        page.keyboard.press("a")
        page.wait_for_url(f"{url}/?done=203")
        assert page.inner_text("#summary").startswith("0 listings to review; 4 decisions")
        browser.close()
    assert broken == []
    me = getpass.getuser()
    assert _decisions(store) == [
        (101, REVIEW_ACCEPTED, 10, me),
        (202, REVIEW_CORRECTED, 10, me),
        (201, REVIEW_UNCLASSIFIABLE, None, me),
        (203, REVIEW_ACCEPTED, 40, me),
    ]


@pytest.mark.parametrize(
    "args, environ",
    [
        (["--host", "0.0.0.0"], {}),
        ([], {"REVIEW_HOST": "0.0.0.0"}),
        (["--set", "review.host=192.168.1.20"], {}),
    ],
)
def test_the_app_refuses_to_listen_beyond_this_machine_without_authentication(
    tmp_path, monkeypatch, capsys, args, environ
):
    import jobs.review

    from catalog_classifier.review.bind import unauthenticated_bind

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert jobs.review.main(["--lakehouse", str(tmp_path), *args]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "review.trusted_identity_header" in error, error
    proxied = load_config(REPO / "conf" / "databricks.yaml").review
    assert proxied.host == "0.0.0.0" and unauthenticated_bind(proxied.host, proxied) is None
