"""The review app: catalog analysts work through the listings the nightly flagged needs_review.

A FastAPI app (a framework Databricks Apps runs as is) serving plain HTML forms, so it works in
any browser with no script: the queue by predicted category; for each listing its image and
the Grad-CAM overlay of the predicted category, the title and cleaned description, the fused
top 3 with confidences and each member's opinion; and three decisions: accept the prediction,
correct it to another category, or mark the listing unclassifiable. Each decision is one row of
``bronze.review_decisions`` (see :mod:`catalog_classifier.review.store`); a decided listing
leaves the queue, and the next ``train`` takes the decided code as the listing's label.

Who decides: on Databricks Apps the signed-in user (the ``X-Forwarded-Email`` header the
platform sets); locally the name the analyst types once (kept in a cookie).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog_classifier.config import Config
from catalog_classifier.reports.rendering import environment
from catalog_classifier.review.explain import Explanations
from catalog_classifier.review.store import DecisionError, ReviewStore, queue_by_category
from catalog_classifier.storage.tables import REVIEW_CORRECTED

log = logging.getLogger(__name__)

TEMPLATES = "catalog_classifier.review"  # its templates/ folder
ANALYST_COOKIE = "catalog_review_analyst"
# Set by Databricks Apps in front of the app: the signed-in user.
USER_HEADERS = ("x-forwarded-email", "x-forwarded-preferred-username", "x-forwarded-user")


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment(TEMPLATES).get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


def _analyst(request: Request) -> tuple[str, bool]:
    """The analyst's name and whether the platform vouches for it (then it is not editable)."""
    for header in USER_HEADERS:
        value = request.headers.get(header)
        if value:
            return value, True
    return request.cookies.get(ANALYST_COOKIE, ""), False


def create_app(store: ReviewStore, explanations: Explanations | None = None) -> FastAPI:
    """The app over ``store``; ``explanations`` draws the Grad-CAM overlays (none: no overlay)."""
    app = FastAPI(title="Catalog review", docs_url=None, redoc_url=None, openapi_url=None)
    config: Config = store.config
    names = config.category_names
    choices = [(code, names.get(code, str(code))) for code in config.label_codes]

    def common(request: Request) -> dict[str, Any]:
        analyst, vouched = _analyst(request)
        return {"version": store.version(), "analyst": analyst, "vouched": vouched}

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
        listings = [
            {
                "productid": int(r["productid"]),
                "imageid": None if pd.isna(r["imageid"]) else int(r["imageid"]),
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
        return _page(
            "listing.html",
            status,
            listing=listing,
            decided=decided,
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
        form = await request.form()
        analyst, vouched = _analyst(request)
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
        # On to the next listing of the same category, or back to the queue when it is done.
        prediction = store.prediction(productid)
        assert prediction is not None  # store.decide refused any other listing
        code = int(prediction["prdtypecode"])
        queue = store.queue()
        rest = queue[queue["prdtypecode"] == code]
        target = f"/listing/{int(rest.iloc[0]['productid'])}" if len(rest) else f"/category/{code}"
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
