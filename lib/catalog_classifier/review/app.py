"""The review app: catalog analysts work through the listings the nightly flagged needs_review.

A FastAPI app (a framework Databricks Apps runs as is) serving plain HTML forms, so it works in
any browser with no script: the queue by predicted category; for each listing its image and
the Grad-CAM overlay of the predicted category, the title and cleaned description, the fused
top 3 with confidences and each member's opinion; and three decisions: accept the prediction,
correct it to another category, or mark the listing unclassifiable. Each decision is one row of
``bronze.review_decisions`` (see :mod:`catalog_classifier.review.store`); a decided listing
leaves the queue, and the next ``train`` takes the decided code as the listing's label.

Who decides: the user an authenticating proxy names in the header
``review.trusted_identity_header`` (Databricks Apps: ``X-Forwarded-Email``) when one is
configured, and no other header is believed, since any client can send one; else the analyst
``review.analyst`` names; else the name typed once in the form (the OS user at first, kept in
a cookie).

Forged decisions: every state-changing POST carries a token tied to the browser's session
cookie (HMAC of it under a key made at start-up) and comes from the app's own origin (its
Origin, else Referer, header names the host the request was sent to). A page of another
origin that posts a form here is refused (403) before anything is read or written.

Keys on a listing's page: a accept, c correct (focus the category list; Enter submits it),
u unclassifiable, s skip to the next listing.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog_classifier.config import Config, ReviewConfig
from catalog_classifier.reports.rendering import environment
from catalog_classifier.review.explain import Explanations
from catalog_classifier.review.store import DecisionError, ReviewStore, queue_by_category
from catalog_classifier.storage.tables import REVIEW_CORRECTED

log = logging.getLogger(__name__)

TEMPLATES = "catalog_classifier.review"  # its templates/ folder
ANALYST_COOKIE = "catalog_review_analyst"
# A random id per browser, which the forms' tokens are tied to.
SESSION_COOKIE = "catalog_review_session"
CSRF_FIELD = "csrf_token"


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment(TEMPLATES).get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return ""


def _analyst(request: Request, review: ReviewConfig) -> tuple[str, bool]:
    """The analyst's name and whether it is fixed (a trusted proxy's header or the conf's
    name: not editable). No other identity header is read: a client could send any."""
    if review.trusted_identity_header:
        return request.headers.get(review.trusted_identity_header, "").strip(), True
    if review.analyst:
        return review.analyst, True
    return request.cookies.get(ANALYST_COOKIE) or _local_user(), False


def _origin_of(value: str) -> str | None:
    """``host[:port]`` of an Origin or Referer header's URL, lowercase (None: not a URL)."""
    parts = urlsplit(value)
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def _foreign_origin(request: Request, review: ReviewConfig) -> str | None:
    """Why a state-changing request does not come from the app's own pages, or None.

    The browser says where a form was posted from (Origin; else Referer); it must be the host
    the request was addressed to (Host, or behind the trusted proxy X-Forwarded-Host). A page
    of another origin cannot set either header.
    """
    sent_from = request.headers.get("origin")
    header = "Origin"
    if not sent_from or sent_from == "null":
        sent_from, header = request.headers.get("referer"), "Referer"
    if not sent_from:
        return "no Origin or Referer header: cannot tell where the form was posted from"
    origin = _origin_of(sent_from)
    own = {request.headers.get("host", "").lower()}
    if review.trusted_identity_header and request.headers.get("x-forwarded-host"):
        own.add(request.headers["x-forwarded-host"].lower())
    if origin is None or origin not in own:
        return f"posted from another origin ({header} {sent_from[:100]!r})"
    return None


def create_app(
    store: ReviewStore, explanations: Explanations | None = None, secret: bytes | None = None
) -> FastAPI:
    """The app over ``store``; ``explanations`` draws the Grad-CAM overlays (none: no overlay);
    ``secret`` signs the forms' tokens (default: random, so a restart asks for a reload)."""
    app = FastAPI(title="Catalog review", docs_url=None, redoc_url=None, openapi_url=None)
    config: Config = store.config
    review = config.review
    names = config.category_names
    choices = [(code, names.get(code, str(code))) for code in config.label_codes]
    key = secret or secrets.token_bytes(32)

    def csrf_token(session: str) -> str:
        return hmac.new(key, session.encode(), hashlib.sha256).hexdigest()

    @app.middleware("http")
    async def session_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Give each browser a session id (its forms' tokens are tied to it)."""
        session = request.cookies.get(SESSION_COOKIE)
        new = not session or len(session) != 43
        request.state.session = secrets.token_urlsafe(32) if new else session
        response = await call_next(request)
        if new:
            response.set_cookie(
                SESSION_COOKIE, request.state.session, httponly=True, samesite="strict"
            )
        return response

    def common(request: Request) -> dict[str, Any]:
        analyst, fixed = _analyst(request, review)
        return {
            "version": store.version(),
            "analyst": analyst,
            "vouched": fixed,
            "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token(request.state.session),
        }

    def refused(request: Request, why: str) -> Response:
        log.warning("review: %s %s refused (403): %s", request.method, request.url.path, why)
        return _page("message.html", 403, message=f"Refused: {why}.", **common(request))

    async def forged(request: Request) -> str | None:
        """Why a POST is not a form of this app's pages, in this session, or None."""
        foreign = _foreign_origin(request, review)
        if foreign:
            return foreign
        form = await request.form()
        sent = str(form.get(CSRF_FIELD, ""))
        session = request.cookies.get(SESSION_COOKIE, "")
        # As bytes: compare_digest refuses str with non-ASCII characters (a forged token may).
        if not session or not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
            return "the form's token is missing or not this session's (reload the page)"
        if review.trusted_identity_header and not _analyst(request, review)[0]:
            return f"no {review.trusted_identity_header} header from the authenticating proxy"
        return None

    def next_listing(queue: pd.DataFrame, after: int | None, code: int | None) -> str:
        """The page to go to next: the queued listing after ``after`` in the queue's order
        (its category first, least confident first), wrapping; the queue page when none."""
        ids = [int(p) for p in queue["productid"]]
        if after in ids:
            start = ids.index(after)
            ids = ids[start + 1 :] + ids[:start]
        elif code is not None:
            same = [int(p) for p in queue.loc[queue["prdtypecode"] == code, "productid"]]
            ids = same + [p for p in ids if p not in same]
        return f"/listing/{ids[0]}" if ids else "/"

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        queue = store.queue()
        counts = queue_by_category(queue, names)
        decisions = store.decisions()
        return _page(
            "index.html",
            categories=counts.to_dict("records"),
            pending=len(queue),
            decided=len(decisions),
            **common(request),
        )

    @app.get("/category/{code}", response_class=HTMLResponse)
    def category(request: Request, code: int) -> HTMLResponse:
        queue = store.queue()
        rows = queue[queue["prdtypecode"] == code]
        titles = store.titles([int(p) for p in rows["productid"]])
        imageids = [int(i) for i in rows["imageid"].dropna()]
        photos = store.usable_images(imageids)
        listings = [
            {
                "productid": int(r["productid"]),
                # Only a sound image is linked: no <img> pointing at a 404.
                "imageid": None if pd.isna(r["imageid"]) else int(r["imageid"]),
                "has_photo": not pd.isna(r["imageid"]) and int(r["imageid"]) in photos,
                "title": titles.get(int(r["productid"]), ""),
                "confidence": float(r["confidence"]),
            }
            for r in rows.to_dict("records")
        ]
        return _page(
            "category.html",
            code=code,
            name=names.get(code, str(code)),
            listings=listings,
            **common(request),
        )

    def listing_page(request: Request, productid: int, error: str | None, status: int) -> Response:
        listing = store.listing(productid)
        if listing is None:
            return _page(
                "message.html",
                404,
                message=f"Listing {productid} is not among the listings flagged for review.",
                **common(request),
            )
        decided = productid in store.decided()
        skip = next_listing(store.queue(), productid, listing.prdtypecode)
        return _page(
            "listing.html",
            status,
            listing=listing,
            decided=decided,
            skip_url=None if skip == f"/listing/{productid}" else skip,
            decision_id=str(uuid.uuid4()),
            choices=choices,
            names=names,
            error=error,
            gradcam=explanations is not None and listing.has_image,
            **common(request),
        )

    @app.get("/listing/{productid}", response_class=HTMLResponse)
    def listing(request: Request, productid: int) -> Response:
        return listing_page(request, productid, None, 200)

    @app.post("/decide")
    async def decide(request: Request) -> Response:
        why = await forged(request)
        if why:
            return refused(request, why)
        form = await request.form()
        analyst, vouched = _analyst(request, review)
        if not vouched:
            analyst = str(form.get("analyst", ""))
        try:
            productid = int(str(form.get("productid", "")))
        except ValueError:
            return _page("message.html", 400, message="No listing given.", **common(request))
        decision = str(form.get("decision", ""))
        corrected_raw = str(form.get("corrected_code", "") or "")
        try:
            wants_code = decision == REVIEW_CORRECTED and corrected_raw
            corrected = int(corrected_raw) if wants_code else None
            store.decide(
                decision_id=str(form.get("decision_id", "")),
                productid=productid,
                decision=decision,
                corrected_code=corrected,
                analyst=analyst,
            )
        except (DecisionError, ValueError) as exc:
            log.info("review: decision on listing %s refused: %s", productid, exc)
            return listing_page(request, productid, str(exc), 400)
        # On to the next listing: of the same category first, then the others; the queue page
        # when every listing is decided.
        prediction = store.prediction(productid)
        assert prediction is not None  # store.decide refused any other listing
        target = next_listing(store.queue(), None, int(prediction["prdtypecode"]))
        response = RedirectResponse(target + "?done=" + quote(str(productid)), status_code=303)
        if not vouched:
            response.set_cookie(ANALYST_COOKIE, analyst, max_age=30 * 24 * 3600, samesite="lax")
        return response

    @app.get("/image/{imageid}")
    def image(imageid: int) -> Response:
        content = store.image(imageid)
        if content is None:
            return Response(status_code=404)
        return Response(content, media_type="image/jpeg")

    @app.get("/gradcam/{productid}.png")
    def gradcam(productid: int) -> Response:
        prediction = store.prediction(productid)
        if explanations is None or prediction is None or pd.isna(prediction["imageid"]):
            return Response(status_code=404)
        content = store.image(int(prediction["imageid"]))
        if content is None:
            return Response(status_code=404)
        png = explanations.overlay_png(
            str(prediction["model_version"]), content, int(prediction["prdtypecode"])
        )
        return Response(status_code=404) if png is None else Response(png, media_type="image/png")

    return app
