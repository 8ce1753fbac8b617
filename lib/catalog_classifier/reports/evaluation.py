"""The model-evaluation page: figures (matplotlib PNGs) and HTML (Jinja2 templates).

``stages.evaluate`` computes the evaluations and calls these functions; this module only draws
and renders. Sections are returned as ``Markup`` (rendered, trusted HTML) and joined by
:func:`write_page`; every other value reaches the templates escaped. The templates are in
``templates/evaluation/``.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from markupsafe import Markup  # noqa: E402

from catalog_classifier.config import Config  # noqa: E402
from catalog_classifier.models.fusion import reliability_curve  # noqa: E402
from catalog_classifier.reports.confusions import ImageContribution  # noqa: E402
from catalog_classifier.reports.rendering import macro, render, save_figure  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.tables import (  # noqa: E402
    BRONZE_IMAGES,
    BRONZE_LISTINGS,
    SILVER_TEXT_FEATURES,
)

# The fusion table's member columns, in the page's order, unless the caller names them.
FUSION_MEMBERS = ("tfidf", "text", "image")


class EvaluationResult(Protocol):
    """What the page reads of an evaluation (``stages.evaluate.Evaluation`` has it)."""

    model: str
    split: str
    version: str | None
    rows: int
    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: np.ndarray
    codes: list[int]
    fold_scores: list[float]

    @property
    def weighted_f1_std(self) -> float | None: ...


# ---------------------------------------------------------------------------------- figures


def plot_confusion(evaluation: EvaluationResult, names: dict[int, str], path: Path) -> Path:
    """Row-normalised confusion matrix (each true class sums to 1) as a PNG."""
    matrix = evaluation.confusion.astype(float)
    sums = matrix.sum(1, keepdims=True)
    normalized = np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)
    labels = [f"{c} {names.get(c, '')}"[:28] for c in evaluation.codes]
    fig, ax = plt.subplots(figsize=(12, 10.5))
    image = ax.imshow(normalized, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted category")
    ax.set_ylabel("true category")
    ax.set_title(
        f"{evaluation.model}: confusion matrix on {evaluation.split} "
        f"(row-normalised, {evaluation.rows} listings)"
    )
    for i in range(len(labels)):
        for j in range(len(labels)):
            if normalized[i, j] >= 0.1:
                color = "white" if normalized[i, j] > 0.5 else "black"
                ax.text(
                    j,
                    i,
                    f"{normalized[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color=color,
                )
    fig.colorbar(image, ax=ax, fraction=0.04, label="share of the true class")
    save_figure(fig, path, dpi=90)
    return path


def plot_reliability(
    confidence: np.ndarray, correct: np.ndarray, path: Path, title: str
) -> tuple[Path, float]:
    """Reliability curve of the fused top probability (calibrated: on the diagonal)."""
    bins, ece = reliability_curve(confidence, correct)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect calibration")
    ax.plot(
        [b["confidence"] for b in bins],
        [b["accuracy"] for b in bins],
        marker="o",
        label=f"fused (ECE {ece:.3f})",
    )
    for b in bins:
        ax.annotate(str(b["count"]), (b["confidence"], b["accuracy"]), fontsize=7)
    ax.set_xlabel("confidence (fused top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    return path, ece


# ---------------------------------------------------------------------------------- examples


def misclassified_examples(
    lakehouse: Lakehouse, config: Config, frame: pd.DataFrame, probs: np.ndarray, limit: int
) -> Markup:
    """A table of the most confident mistakes, with the listing's text and image.

    ``frame`` holds ``productid`` and ``label`` (class index) per row of ``probs``.
    """
    if not len(frame) or not limit:
        return Markup("")
    codes, names = config.label_codes, config.category_names
    predicted = probs.argmax(1)
    wrong = np.flatnonzero(predicted != frame["label"].to_numpy())
    wrong = wrong[np.argsort(-probs[wrong].max(1))][:limit]
    products = [int(p) for p in frame["productid"].to_numpy()[wrong]]
    details = _listing_details(lakehouse, products) if products else {}
    rows = []
    for index in wrong:
        productid = int(frame["productid"].iloc[index])
        info = details.get(productid, {})
        true_code = codes[int(frame["label"].iloc[index])]
        pred_code = codes[int(predicted[index])]
        rows.append(
            {
                "productid": productid,
                "thumb": info.get("thumb"),
                "text": (info.get("text") or "")[:300],
                "true_code": true_code,
                "true_name": names.get(true_code, ""),
                "pred_code": pred_code,
                "pred_name": names.get(pred_code, ""),
                "confidence": float(probs[index].max()),
            }
        )
    return render("evaluation/misclassified.html", rows=rows)


def _listing_details(lakehouse: Lakehouse, products: list[int]) -> dict[int, dict[str, Any]]:
    """productid -> cleaned text and a base64 JPEG thumbnail (None without a decodable image)."""
    wanted = lakehouse.spark.createDataFrame([(p,) for p in products], "productid long")
    text = lakehouse.read(SILVER_TEXT_FEATURES).select("productid", "text")
    listings = lakehouse.read(BRONZE_LISTINGS).select("productid", "imageid")
    images = lakehouse.read(BRONZE_IMAGES).select("imageid", "content")
    rows = (
        wanted.join(text, "productid", "left")
        .join(listings, "productid", "left")
        .join(images, "imageid", "left")
        .collect()
    )
    return {r["productid"]: {"text": r["text"], "thumb": _thumbnail(r["content"])} for r in rows}


def _thumbnail(content: bytes | None, size: int = 96) -> str | None:
    if not content:
        return None
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(bytes(content))).convert("RGB")
        image.thumbnail((size, size))
    except Exception:  # noqa: BLE001 - an undecodable image just gets no thumbnail
        return None
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return base64.b64encode(buffer.getvalue()).decode()


def gradcam_section(
    lakehouse: Lakehouse,
    config: Config,
    folder: Path,
    frame: pd.DataFrame,
    probs: np.ndarray,
    out: Path,
) -> Markup:
    """Grad-CAM overlays for a sample of correct and wrong image predictions.

    ``frame`` holds ``imageid`` and ``label`` per row of ``probs``; ``folder`` is the saved
    image model. The overlays are written under ``out/figures``.
    """
    # Imported here: the image encoder pulls in torch, which the rest of the page never needs.
    from catalog_classifier.models.image_encoder import gradcam_overlays

    limit = config.evaluation.gradcam_examples
    if not len(frame) or not limit:
        return Markup("")
    predicted = probs.argmax(1)
    correct = np.flatnonzero(predicted == frame["label"].to_numpy())
    wrong = np.flatnonzero(predicted != frame["label"].to_numpy())
    rng = np.random.default_rng(config.train.seed)
    chosen = [
        *rng.permutation(correct)[: limit // 2].tolist(),
        *rng.permutation(wrong)[: limit - min(limit // 2, len(correct))].tolist(),
    ]
    if not chosen:
        return Markup("")
    imageids = [int(frame["imageid"].iloc[i]) for i in chosen]
    files = gradcam_overlays(lakehouse, folder, imageids, [int(predicted[i]) for i in chosen], out)
    codes, names = config.label_codes, config.category_names
    figures = []
    for index, imageid in zip(chosen, imageids, strict=True):
        if imageid not in files:
            continue
        true_code, pred_code = codes[int(frame["label"].iloc[index])], codes[int(predicted[index])]
        figures.append(
            {
                "path": files[imageid],
                "verdict": "correct" if true_code == pred_code else "wrong",
                "pred_code": pred_code,
                "pred_name": names.get(pred_code, ""),
                "confidence": float(probs[index].max()),
                "true_code": true_code,
                "true_name": names.get(true_code, ""),
            }
        )
    return render("evaluation/gradcam.html", figures=figures)


# ---------------------------------------------------------------------------------- sections


def model_section(
    evaluation: EvaluationResult,
    figure: Path,
    pairs: pd.DataFrame,
    examples: Markup | None = None,
    gradcams: Markup | None = None,
    per_class: pd.DataFrame | None = None,
) -> Markup:
    """One model's section: scores, confusion matrix, most confused ``pairs`` (as
    ``reports.confusions.confusion_pairs`` gives them, watched ones marked, with the count
    without the image members when they have it), per-category table, and the optional
    examples and Grad-CAM fragments.

    ``per_class`` replaces the evaluation's per-category report: one with members' F1 columns
    (``reports.confusions.with_member_f1``) shows them beside the model's, open on the page.
    """
    per_class = (evaluation.per_class if per_class is None else per_class).sort_values(
        "f1", kind="stable"
    )
    members = [c.removeprefix("f1_") for c in per_class.columns if c.startswith("f1_")]
    rows = [
        {
            **row,
            "member_f1": [
                "-" if pd.isna(row[f"f1_{m}"]) else format(row[f"f1_{m}"], ".2f") for m in members
            ],
        }
        for row in per_class.to_dict("records")
    ]
    spread = (
        f" ± {evaluation.weighted_f1_std:.4f} over {len(evaluation.fold_scores)} folds "
        f"({', '.join(f'{s:.3f}' for s in evaluation.fold_scores)})"
        if evaluation.fold_scores
        else ""
    )
    return render(
        "evaluation/model_section.html",
        e=evaluation,
        spread=spread,
        worst=per_class.iloc[0] if len(per_class) else None,
        figure=figure.name,
        pairs=pairs.to_dict("records"),
        without_image="count_without_image" in pairs,
        per_class=rows,
        members=members,
        examples=examples,
        gradcams=gradcams,
    )


def fusion_section(
    groups: Mapping[str, float],
    reliability: Path,
    ece: float,
    note: Markup,
    members: Sequence[str] = FUSION_MEMBERS,
) -> Markup:
    """Fusion against its ``members`` on the listings with and without an image, the ``note``
    (:func:`fusion_note` or :func:`fusion_cv_note`) and the reliability figure. ``groups`` holds
    ``<with_image|without_image>_rows`` and ``..._<fusion|member>_weighted_f1``."""
    rows = []
    for name in ("with_image", "without_image"):
        if f"{name}_rows" not in groups:
            continue
        cells = [f"{groups.get(f'{name}_fusion_weighted_f1', float('nan')):.4f}"]
        for member in members:
            value = groups.get(f"{name}_{member}_weighted_f1")
            cells.append("-" if value is None else f"{value:.4f}")
        rows.append(
            {"name": name.replace("_", " "), "rows": int(groups[f"{name}_rows"]), "cells": cells}
        )
    return render(
        "evaluation/fusion_section.html",
        rows=rows,
        members=members,
        note=note,
        reliability=reliability.name,
        ece=ece,
    )


def image_contribution_section(contribution: ImageContribution, members: Sequence[str]) -> Markup:
    """What the image ``members`` add to the fusion (:func:`reports.confusions.image_contribution`):
    weighted F1 with and without them on the listings with an image, the listings they fix and
    break (per true category too), and that the listings without an image do not change."""
    by_class = contribution.by_class.to_dict("records")
    return render(
        "evaluation/image_contribution.html", c=contribution, members=members, by_class=by_class
    )


def fusion_note(
    method: str,
    members: Mapping[str, Any],
    selection: Any,
    review_threshold: float,
    review_precision: float,
    metrics: Mapping[str, float],
) -> Markup:
    """The registered fusion model: its method, members, selection and review threshold."""
    return macro("evaluation/fusion_notes.html", "registered")(
        method,
        str(members),
        json.dumps(selection),
        review_threshold,
        review_precision,
        metrics["needs_review_share"],
        metrics.get("precision_not_reviewed"),
    )


def fusion_cv_note(
    chosen: Sequence[str], gains: Sequence[float], metrics: Mapping[str, float] | None = None
) -> Markup:
    """Cross-validated fusion: the method chosen in each fold, the gain over the best member
    on listings with an image, and (from ``metrics``) the gain on every listing with its
    interval and the review load."""
    methods = ", ".join(f"{m} ×{list(chosen).count(m)}" for m in sorted(set(chosen)))
    return macro("evaluation/fusion_notes.html", "cross_validated")(
        methods,
        float(np.mean(gains)) if len(gains) else float("nan"),
        float(np.std(gains)) if len(gains) else 0.0,
        dict(metrics or {}),
    )


# ---------------------------------------------------------------------------------- page


def write_page(
    out: Path,
    title: str,
    evaluations: Sequence[EvaluationResult],
    sections: Sequence[Markup],
    run_id: str,
    name: str = "index.html",
    at: datetime | None = None,
) -> Path:
    """The page ``out/name``: a summary table of ``evaluations`` and the rendered ``sections``.

    A section given as a plain ``str`` is escaped, not trusted: render it with this module.
    """
    page = render(
        "evaluation/page.html",
        title=title,
        run_id=run_id,
        at=at or datetime.now(UTC),
        evaluations=evaluations,
        sections=sections,
    )
    path = out / name
    path.write_text(page, encoding="utf-8")
    return path
