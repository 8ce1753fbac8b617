"""A scoring cascade over the fused model's members: the cheap members first, the expensive
ones only on the listings the cheap ones leave unsure.

The members run in order of their scoring cost (``Member.scoring_cost``: TF-IDF, USE, the
image model, e5 with today's members). After each member but the last, the members run so far
are fused by a *prefix* combiner (a :class:`~catalog_classifier.models.fusion.FusionModel`
fitted by :func:`~catalog_classifier.models.fusion.fit_fusion` on those members alone, with the
full fusion's method); a listing whose prefix-fused confidence reaches that stage's threshold
leaves the cascade with the prefix's probabilities, and the later members never score it. The
listings left after the last member get the registered full fusion, unchanged.

The thresholds are chosen on the valid split (the rows the fusion itself is fit on, never an
evaluation fold): the stages' fused probabilities are made out of fold by K-fold within those
rows (each fold's combiners fit on the other folds), then the thresholds with the smallest
expected scoring cost whose weighted F1 stays within ``max_f1_drop`` of the full fusion's on the
same out-of-fold rows are kept. The cascade is saved as ``cascade.json`` beside ``fusion.json``
in the fused model's folder; a fused model without one (trained before, or of a single member)
scores with the full fusion.

Pure numpy like the fusion: the same object decides in the driver (fitting, cross-validation
on arrays) and in the scoring UDF (on pandas batches), through one function, :func:`run`.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from catalog_classifier.models.fusion import (
    FUSION_CANDIDATES,
    FusedBatch,
    FusionModel,
    MemberBatchPredictor,
    fit_fusion,
    group_members,
)
from catalog_classifier.models.metrics import weighted_f1, weighted_f1_of_counts

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CASCADE_FILE = "cascade.json"
# Candidate thresholds per stage: these quantiles of the stage's out-of-fold confidence (and
# "never leave here"). 15 per stage keep the search under a few thousand combinations for
# today's three early stages.
THRESHOLD_QUANTILES = tuple(np.linspace(0.30, 0.98, 14))

# A member's rows: (probabilities (n, classes), available (n,) bool) of the listings ``rows``.
ScoreMember = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Cascade:
    """Members in scoring order; per early stage (all but the last member) its prefix
    combiner and its exit threshold (None: no listing leaves there)."""

    order: list[str]
    stages: list[FusionModel]
    thresholds: list[float | None]
    # How the thresholds were chosen: the valid rows' out-of-fold figures.
    selection: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: Path) -> Path:
        payload = {
            "order": self.order,
            "thresholds": self.thresholds,
            "stages": [json.loads(_fusion_json(stage)) for stage in self.stages],
            "selection": self.selection,
        }
        path = Path(folder) / CASCADE_FILE
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> Cascade | None:
        """The cascade saved with a fused model, or None (none was chosen: full fusion)."""
        path = Path(folder) / CASCADE_FILE
        if not path.exists():
            return None
        payload = json.loads(path.read_text(encoding="utf-8"))
        stages = []
        for stage in payload["stages"]:
            from catalog_classifier.models.fusion import GroupFusion

            groups = {k: GroupFusion(**v) for k, v in stage.pop("groups").items()}
            stages.append(FusionModel(groups=groups, **stage))
        return cls(payload["order"], stages, payload["thresholds"], payload["selection"])


def _fusion_json(model: FusionModel) -> str:
    from dataclasses import asdict

    return json.dumps(asdict(model))


@dataclass
class CascadeResult(FusedBatch):
    """A fused batch, plus which members scored each row (``scored[m]``: bool per row)."""

    scored: dict[str, np.ndarray] = field(default_factory=dict)


def fused_members(full: FusionModel) -> list[str]:
    """The members the full fusion's availability groups require, in first-seen order: a group
    that fell back to its best member (fusion.keep_if_it_gains) still takes only the listings
    that have every member of its name, so each of them is scored before the full fusion."""
    return list(dict.fromkeys(m for name in full.groups for m in group_members(name)))


def run(
    n: int,
    n_classes: int,
    full: FusionModel,
    cascade: Cascade | None,
    score_member: ScoreMember,
    members: Sequence[str] | None = None,
) -> CascadeResult:
    """Score ``n`` listings: members in the cascade's order, each on the listings still in it.

    ``score_member(name, rows)`` gives that member's probabilities and availability on the row
    indices ``rows``. Without a cascade (or ``members`` with no cascade), every member in
    ``members`` (default: the full fusion's) scores every row and the full fusion decides: the
    output is then exactly the full fusion's.
    """
    order = list(cascade.order) if cascade is not None else list(members or fused_members(full))
    probs = {m: np.zeros((n, n_classes)) for m in order}
    available = {m: np.zeros(n, bool) for m in order}
    scored = {m: np.zeros(n, bool) for m in order}
    fused = np.full((n, n_classes), 1.0 / n_classes)
    used = np.full(n, "none", dtype=object)
    remaining = np.arange(n)
    for position, member in enumerate(order):
        if not len(remaining):
            break
        p, a = score_member(member, remaining)
        probs[member][remaining], available[member][remaining] = p, np.asarray(a, bool)
        scored[member][remaining] = True
        last = position == len(order) - 1
        threshold = None if cascade is None or last else cascade.thresholds[position]
        if last:
            f, u = full.predict(
                {m: probs[m][remaining] for m in order},
                {m: available[m][remaining] for m in order},
            )
            fused[remaining], used[remaining] = f, u
        elif threshold is not None and cascade is not None:
            so_far = order[: position + 1]
            f, u = cascade.stages[position].predict(
                {m: probs[m][remaining] for m in so_far},
                {m: available[m][remaining] for m in so_far},
            )
            leave = f.max(1) >= threshold
            fused[remaining[leave]], used[remaining[leave]] = f[leave], u[leave]
            remaining = remaining[~leave]
    return CascadeResult(fused, used, probs, available, scored)


def cascade_batch(
    batch: pd.DataFrame,
    predictors: Mapping[str, MemberBatchPredictor],
    full: FusionModel,
    cascade: Cascade | None,
    n_classes: int,
    seconds: MutableMapping[str, float] | None = None,
) -> CascadeResult:
    """The scoring UDF's work on one pandas batch, through the cascade (``cascade`` None: every
    member on every row, then the full fusion, as ``fusion.fuse_batch``). ``seconds``
    accumulates each member's wall time."""
    names = [m for m in (cascade.order if cascade is not None else predictors) if m in predictors]
    if cascade is not None and set(names) != set(cascade.order):
        missing = sorted(set(cascade.order) - set(names))
        raise ValueError(f"cascade: no batch predictor for {', '.join(missing)}")

    def score_member(name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        part = batch if len(rows) == len(batch) else batch.iloc[rows].reset_index(drop=True)
        try:
            return predictors[name].predict(part, n_classes)
        finally:
            if seconds is not None:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

    return run(len(batch), n_classes, full, cascade, score_member, names)


# ------------------------------------------------------------------------ choosing thresholds


def _stage_fits(
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    labels: np.ndarray,
    n_classes: int,
    modalities: Mapping[str, str],
    order: Sequence[str],
    method: str,
    settings: Mapping[str, Any],
    rows: np.ndarray,
) -> list[FusionModel]:
    """The combiner of every prefix of ``order`` (the last: every member) fit on ``rows``."""
    fits = []
    for size in range(1, len(order) + 1):
        prefix = order[:size]
        fits.append(
            fit_fusion(
                {m: np.asarray(probs[m])[rows] for m in prefix},
                {m: np.asarray(available[m])[rows] for m in prefix},
                labels[rows],
                n_classes,
                modalities,
                method=method,
                **settings,
            )
        )
    return fits


def _out_of_fold_stages(
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    labels: np.ndarray,
    n_classes: int,
    modalities: Mapping[str, str],
    order: Sequence[str],
    method: str,
    settings: Mapping[str, Any],
    folds: int,
    seed: int,
) -> list[np.ndarray]:
    """Per stage (prefix), its fused probabilities on every row, each row's from combiners fit
    on the other inner folds."""
    import warnings

    from sklearn.model_selection import StratifiedKFold

    n = len(labels)
    counts = np.bincount(labels)
    k = max(2, min(folds, int(counts[counts > 0].min()) if len(counts) else 2))
    out = [np.full((n, n_classes), 1.0 / n_classes) for _ in order]
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Classes rarer than k cannot be stratified: the splitter only warns.
        warnings.simplefilter("ignore", UserWarning)
        for train_idx, test_idx in splitter.split(np.zeros(n), labels):
            fits = _stage_fits(
                probs, available, labels, n_classes, modalities, order, method, settings, train_idx
            )
            for stage, model in enumerate(fits):
                prefix = order[: stage + 1]
                fused, _ = model.predict(
                    {m: np.asarray(probs[m])[test_idx] for m in prefix},
                    {m: np.asarray(available[m])[test_idx] for m in prefix},
                )
                out[stage][test_idx] = fused
    return out


def choose_thresholds(
    stage_probs: Sequence[np.ndarray],
    labels: np.ndarray,
    member_rows: Sequence[np.ndarray],
    costs: Sequence[float],
    max_f1_drop: float,
) -> tuple[list[float | None], dict[str, Any]]:
    """The early stages' thresholds with the least expected cost whose weighted F1 on these
    rows is at least the last stage's minus ``max_f1_drop`` (ties: the higher F1).

    ``stage_probs[s]``: stage s's fused probabilities per row (the last: the full fusion);
    ``member_rows[s]``: the rows stage s's new member costs anything on (e.g. the image member
    on listings with an image); ``costs[s]``: its cost per such row."""
    n_classes = stage_probs[-1].shape[1]
    n = len(labels)
    confidence = [p.max(1) for p in stage_probs]
    predicted = [p.argmax(1) for p in stage_probs]
    full_f1 = weighted_f1_of_counts(labels, predicted[-1], n_classes)
    floor = full_f1 - max_f1_drop
    early = len(stage_probs) - 1
    candidates = [
        [None, *sorted({float(np.quantile(confidence[s], q)) for q in THRESHOLD_QUANTILES})]
        for s in range(early)
    ]
    weights = [np.asarray(r, bool) * c for r, c in zip(member_rows, costs, strict=True)]
    full_cost = float(sum(w.sum() for w in weights))
    best: tuple[float, float, tuple[float | None, ...], np.ndarray] | None = None
    for combo in itertools.product(*candidates):
        stage_of = np.full(n, early)
        still = np.ones(n, bool)
        for s, threshold in enumerate(combo):
            if threshold is None:
                continue
            leave = still & (confidence[s] >= threshold)
            stage_of[leave] = s
            still &= ~leave
        chosen = np.choose(stage_of, predicted)
        f1 = weighted_f1_of_counts(labels, chosen, n_classes)
        if f1 < floor:
            continue
        # A row pays for the members of every stage up to the one it leaves at.
        cost = float(sum(w[stage_of >= s].sum() for s, w in enumerate(weights)))
        if best is None or (cost, -f1) < (best[0], -best[1]):
            best = (cost, f1, combo, stage_of)
    assert best is not None  # every threshold None is the full fusion: it always qualifies
    cost, f1, combo, stage_of = best
    figures = {
        "valid_rows": n,
        "max_f1_drop": max_f1_drop,
        "valid_oof_full_weighted_f1": full_f1,
        "valid_oof_cascade_weighted_f1": f1,
        "valid_cost_share": cost / full_cost if full_cost else 1.0,
        "valid_exit_share": [float((stage_of == s).mean()) for s in range(early + 1)],
    }
    return list(combo), figures


def fit_cascade(
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    labels: np.ndarray,
    full: FusionModel,
    modalities: Mapping[str, str],
    costs: Mapping[str, float],
    max_f1_drop: float,
    folds: int = 5,
    seed: int = 42,
    settings: Mapping[str, Any] | None = None,
) -> Cascade | None:
    """The cascade of ``full``'s members on these (valid) rows; None when the fused model has
    a single member (nothing to skip).

    ``costs``: each member's scoring cost per listing (relative); ``settings``: the other
    arguments of ``fit_fusion`` (min_rows, vote_step, stacking_c) as the full fusion's."""
    order = sorted(fused_members(full), key=lambda m: costs.get(m, 1.0))
    if len(order) < 2:
        return None
    labels = np.asarray(labels, int)
    method = full.method if full.method in FUSION_CANDIDATES else "loglinear"
    settings = dict(settings or {})
    stage_probs = _out_of_fold_stages(
        probs, available, labels, full.n_classes, modalities, order, method, settings, folds, seed
    )
    # The image member decodes and encodes only listings with a usable image.
    everyone = np.ones(len(labels), bool)
    member_rows = [
        np.asarray(available[m], bool) if modalities.get(m) == "image" else everyone for m in order
    ]
    thresholds, figures = choose_thresholds(
        stage_probs, labels, member_rows, [costs.get(m, 1.0) for m in order], max_f1_drop
    )
    stages = _stage_fits(
        probs,
        available,
        labels,
        full.n_classes,
        modalities,
        order[:-1],
        method,
        settings,
        np.arange(len(labels)),
    )
    figures["method"] = method
    figures["costs"] = {m: costs.get(m, 1.0) for m in order}
    log.info("cascade: order %s, thresholds %s (%s)", order, thresholds, json.dumps(figures))
    return Cascade(order, stages, thresholds, figures)


def cross_validate(
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    labels: np.ndarray,
    folds: np.ndarray,
    fit_full: Callable[[np.ndarray], FusionModel],
    modalities: Mapping[str, str],
    costs: Mapping[str, float],
    max_f1_drop: float,
    inner_folds: int = 5,
    seed: int = 42,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Outer K-fold over out-of-fold member probabilities (``evaluate --cv``'s): per fold, the
    full fusion (``fit_full(train_mask)``) and its cascade are fit on the other folds (their
    rows stand for the valid split), and both score the held-out fold. Weighted F1 per fold of
    each, and the share of listings each member scored under the cascade."""
    labels = np.asarray(labels, int)
    n_classes = None
    full_scores, cascade_scores = [], []
    scored_counts: dict[str, int] = {}
    thresholds = []
    for fold in sorted(set(np.asarray(folds).tolist())):
        train, test = folds != fold, folds == fold
        full = fit_full(train)
        n_classes = full.n_classes
        cascade = fit_cascade(
            {m: p[train] for m, p in probs.items()},
            {m: a[train] for m, a in available.items()},
            labels[train],
            full,
            modalities,
            costs,
            max_f1_drop,
            inner_folds,
            seed,
            settings,
        )
        rows = np.flatnonzero(test)

        def score_member(
            name: str, at: np.ndarray, rows: np.ndarray = rows
        ) -> tuple[np.ndarray, np.ndarray]:
            return probs[name][rows[at]], available[name][rows[at]]

        whole = run(len(rows), n_classes, full, None, score_member)
        early = run(len(rows), n_classes, full, cascade, score_member)
        full_scores.append(weighted_f1(labels[test], whole.fused.argmax(1)))
        cascade_scores.append(weighted_f1(labels[test], early.fused.argmax(1)))
        for member, mask in early.scored.items():
            scored_counts[member] = scored_counts.get(member, 0) + int(mask.sum())
        thresholds.append(cascade.thresholds if cascade is not None else None)
    total = int(np.asarray(folds).size)
    return {
        "full_weighted_f1": float(np.mean(full_scores)),
        "cascade_weighted_f1": float(np.mean(cascade_scores)),
        "full_fold_weighted_f1": [round(s, 4) for s in full_scores],
        "cascade_fold_weighted_f1": [round(s, 4) for s in cascade_scores],
        "member_scored_share": {m: round(c / total, 4) for m, c in sorted(scored_counts.items())},
        "thresholds": thresholds,
    }
