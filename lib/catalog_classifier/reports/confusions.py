"""Where a model still errs: per-class scores, confusion pairs, the image member's share.

Pure functions on arrays (class-index labels and predictions, probability matrices) that return
DataFrames or a small dataclass; ``stages.evaluate`` computes the inputs (the fused model's and
its members' predictions) and ``reports.evaluation`` renders the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support

from catalog_classifier.models.metrics import weighted_f1


def per_class_report(
    labels: np.ndarray | Sequence[int],
    predicted: np.ndarray | Sequence[int],
    codes: Sequence[int],
    names: Mapping[int, str],
) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class in ``labels`` or ``predicted`` (class
    indices into ``codes``), by code: ``prdtypecode, category, precision, recall, f1,
    support``."""
    present = sorted({int(v) for v in labels} | {int(v) for v in predicted})
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=present, zero_division=0
    )
    return pd.DataFrame(
        {
            "prdtypecode": [codes[i] for i in present],
            "category": [names.get(codes[i], str(codes[i])) for i in present],
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    )


def with_member_f1(
    report: pd.DataFrame,
    labels: np.ndarray,
    members: Mapping[str, tuple[np.ndarray, np.ndarray]],
    codes: Sequence[int],
) -> pd.DataFrame:
    """``report`` (a :func:`per_class_report`) with one ``f1_<member>`` column per member.

    ``members``: name -> (predicted class index per row, rows it scored). A member is scored on
    the listings it scored only (the image member on those with an image): a listing it never
    saw is not its mistake. A class without a listing among those is NaN, not 0.
    """
    out = report.copy()
    index = {code: i for i, code in enumerate(codes)}
    classes = [index[int(code)] for code in out["prdtypecode"]]
    for member, (predicted, covered) in members.items():
        covered = np.asarray(covered, bool)
        if not covered.any():
            out[f"f1_{member}"] = np.nan
            continue
        seen = np.asarray(labels)[covered]
        scores = f1_score(
            seen, np.asarray(predicted)[covered], labels=classes, average=None, zero_division=0
        )
        supported = np.isin(classes, seen)
        out[f"f1_{member}"] = np.where(supported, scores, np.nan)
    return out


def confusion_pairs(
    confusion: np.ndarray,
    codes: Sequence[int],
    names: Mapping[int, str],
    top: int,
    watched: Sequence[tuple[int, int]] = (),
    without_image: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``top`` off-diagonal cells of ``confusion`` (rows: true class, columns: predicted,
    in ``codes`` order) with the most listings, then each ``watched`` (true code, predicted
    code) pair not among them, even at 0 listings, so a known weak pair is followed from run to
    run. Columns: ``true, true_name, predicted, predicted_name, count, share_of_true`` (the
    share of the true class's listings), ``watched``. Watched pairs of a code outside ``codes``
    are left out.

    ``without_image``: the confusion matrix of the same model without its image members; its
    count of each pair is added as ``count_without_image`` (which pairs the image resolves).
    """
    matrix = np.asarray(confusion).copy()
    np.fill_diagonal(matrix, 0)
    totals = np.asarray(confusion).sum(1)
    # Stable: equal counts keep the matrix's order (the lower true code first).
    order = np.argsort(-matrix, axis=None, kind="stable")[:top]
    cells = [np.unravel_index(flat, matrix.shape) for flat in order]
    chosen = [(int(i), int(j)) for i, j in cells if matrix[i, j] > 0]
    index = {code: i for i, code in enumerate(codes)}
    marked = {(index[t], index[p]) for t, p in watched if t in index and p in index}
    chosen += [
        (index[t], index[p])
        for t, p in watched
        if t in index and p in index and (index[t], index[p]) not in chosen
    ]
    pairs = pd.DataFrame(
        {
            "true": [codes[i] for i, _ in chosen],
            "true_name": [names.get(codes[i], "") for i, _ in chosen],
            "predicted": [codes[j] for _, j in chosen],
            "predicted_name": [names.get(codes[j], "") for _, j in chosen],
            "count": [int(matrix[i, j]) for i, j in chosen],
            "share_of_true": [
                float(matrix[i, j] / totals[i]) if totals[i] else 0.0 for i, j in chosen
            ],
            "watched": [cell in marked for cell in chosen],
        },
        columns=[
            "true",
            "true_name",
            "predicted",
            "predicted_name",
            "count",
            "share_of_true",
            "watched",
        ],
    )
    if without_image is not None:
        pairs["count_without_image"] = [int(without_image[i, j]) for i, j in chosen]
    return pairs


@dataclass(frozen=True)
class ImageContribution:
    """The fused model with and without its image members, on the listings with an image."""

    with_image_rows: int
    weighted_f1_with: float  # the fusion as it is, on the listings with an image
    weighted_f1_without: float  # the fusion without its image members, on the same listings
    fixed: int  # listings with an image right with the image members, wrong without them
    broken: int  # right without them, wrong with them
    without_image_rows: int
    # Listings without an image whose fused prediction changes without the image members: 0
    # when, as the fusion intends, an absent image has no vote.
    without_image_changed: int
    by_class: pd.DataFrame  # per true class: listings with an image, fixed, broken, net

    def metrics(self) -> dict[str, float]:
        """The scalar figures, for the evaluation's metrics."""
        return {
            "image_contribution_weighted_f1_with": self.weighted_f1_with,
            "image_contribution_weighted_f1_without": self.weighted_f1_without,
            "image_contribution_fixed": float(self.fixed),
            "image_contribution_broken": float(self.broken),
            "image_contribution_without_image_changed": float(self.without_image_changed),
        }


def image_contribution(
    labels: np.ndarray,
    fused: np.ndarray,
    without: np.ndarray,
    has_image: np.ndarray,
    codes: Sequence[int],
    names: Mapping[int, str],
) -> ImageContribution:
    """``fused`` (the fusion's probabilities) against ``without`` (the same fusion without its
    image members, e.g. ``FusionModel.predict`` on ``fusion.without_members``) over the rows
    where ``has_image``; and whether the rows without an image change at all."""
    labels = np.asarray(labels)
    has_image = np.asarray(has_image, bool)
    right_with = fused.argmax(1) == labels
    right_without = without.argmax(1) == labels
    fixed = has_image & right_with & ~right_without
    broken = has_image & ~right_with & right_without
    changed = ~has_image & (fused.argmax(1) != without.argmax(1))
    frame = pd.DataFrame({"label": labels[has_image], "fixed": fixed[has_image]})
    frame["broken"] = broken[has_image]
    by_class = frame.groupby("label").agg(
        listings=("fixed", "size"), fixed=("fixed", "sum"), broken=("broken", "sum")
    )
    by_class = by_class[(by_class["fixed"] > 0) | (by_class["broken"] > 0)].reset_index()
    by_class.insert(0, "prdtypecode", [codes[int(i)] for i in by_class.pop("label")])
    by_class.insert(1, "category", [names.get(c, str(c)) for c in by_class["prdtypecode"]])
    by_class["net"] = by_class["fixed"] - by_class["broken"]
    by_class = by_class.sort_values(["net", "prdtypecode"], ascending=[False, True])
    rows = labels[has_image]
    return ImageContribution(
        with_image_rows=int(has_image.sum()),
        weighted_f1_with=weighted_f1(rows, fused[has_image].argmax(1)),
        weighted_f1_without=weighted_f1(rows, without[has_image].argmax(1)),
        fixed=int(fixed.sum()),
        broken=int(broken.sum()),
        without_image_rows=int((~has_image).sum()),
        without_image_changed=int(changed.sum()),
        by_class=by_class.reset_index(drop=True),
    )
