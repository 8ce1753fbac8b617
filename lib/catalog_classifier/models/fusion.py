"""Late fusion of the member models' class probabilities.

Fitted on the valid split, two ways, and the one that validates better is kept:

* ``vote``: a weighted soft vote, weights on a simplex grid chosen for weighted F1, then one
  temperature fitted by log-likelihood so that the fused probabilities stay calibrated;
* ``stacking``: a multinomial logistic regression on the members' log-probabilities;
* ``loglinear``: log-linear pooling, ``p ∝ prod_m p_m ** w_m`` (a weighted geometric mean,
  renormalised), the non-negative weights fitted by log-loss: the weights' scale is also the
  temperature. On the real sample's text members it beat the soft vote by 0 to +0.006 and
  stacking by 0.02-0.09 weighted F1 (issue 17).

Missing modalities are normal (no image, an invalid or blank one; an empty text). Each listing
is fused from the members it has: the fusion holds one fitted combiner per *availability group*
(every member, the text members, the image members: ``tfidf+text+image``, ``tfidf+text``,
``image`` with today's members), so a listing without an image gets exactly the text members'
fusion; it is never scored by a combiner that expects an image.

Everything here is numpy and scikit-learn on in-memory arrays, and imports only the two other
pure-numpy modules (calibration, metrics): no Spark, torch or registry. The members and their
modalities come in as arguments (from the member registry), and the same
object fuses in the driver (fitting, evaluation) and in the executors' pandas UDFs (scoring).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from catalog_classifier.models.calibration import fit_temperature, tempered
from catalog_classifier.models.metrics import paired_bootstrap_gain, weighted_f1

if TYPE_CHECKING:  # a batch is a pandas frame; this module needs no pandas at run time
    import pandas as pd

log = logging.getLogger(__name__)

EPSILON = 1e-6
FUSION_FILE = "fusion.json"
# What ``method: auto`` compares, in order of preference on a tie.
FUSION_CANDIDATES: tuple[Literal["vote", "stacking", "loglinear"], ...] = (
    "vote",
    "stacking",
    "loglinear",
)


def group_name(members: Sequence[str]) -> str:
    return "+".join(members)


def group_members(name: str) -> list[str]:
    """The members an availability group requires (its name's): a group that fell back to its
    best member (:func:`keep_if_it_gains`) still takes only the listings that have them all."""
    return name.split("+")


def _log_probs(probs: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.log(np.clip(p, EPSILON, 1.0)) for p in probs], axis=1)


def _tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    return tempered(np.log(np.clip(probs, EPSILON, 1.0)), temperature)


def fit_temperature_of_probs(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that maximises the log-likelihood of ``labels`` (a 1-D search)."""
    return fit_temperature(np.log(np.clip(probs, EPSILON, 1.0)), labels)


@dataclass
class GroupFusion:
    """The combiner of one availability group."""

    members: list[str]
    method: str  # vote | stacking | loglinear
    weights: list[float] = field(default_factory=list)
    temperature: float = 1.0
    coef: list[list[float]] = field(default_factory=list)
    intercept: list[float] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)

    def predict(self, probs: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
        if self.method == "vote":
            fused = sum(w * p for w, p in zip(self.weights, probs, strict=True))
            return _tempered(np.asarray(fused), self.temperature)
        if self.method == "loglinear":
            return loglinear_pool(probs, self.weights)
        scores = _log_probs(probs) @ np.asarray(self.coef).T + np.asarray(self.intercept)
        scores -= scores.max(axis=1, keepdims=True)
        known = np.exp(scores)
        known /= known.sum(axis=1, keepdims=True)
        out = np.zeros((len(known), n_classes))
        out[:, self.classes] = known  # classes absent from the valid split keep probability 0
        return out


def fit_vote(probs: Sequence[np.ndarray], labels: np.ndarray, step: float = 0.05) -> GroupFusion:
    """Grid search over the simplex for weighted F1 (ties: higher log-likelihood)."""
    n = len(probs)
    ticks = int(round(1 / step))
    best: tuple[float, float, tuple[float, ...]] | None = None
    for combo in itertools.product(range(ticks + 1), repeat=n):
        if sum(combo) != ticks:
            continue
        weights = tuple(c / ticks for c in combo)
        fused = np.asarray(sum(w * p for w, p in zip(weights, probs, strict=True)))
        f1 = weighted_f1(labels, fused.argmax(1))
        loglik = float(np.mean(np.log(np.clip(fused[np.arange(len(labels)), labels], 1e-12, 1))))
        if best is None or (f1, loglik) > best[:2]:
            best = (f1, loglik, weights)
    assert best is not None
    best_weights = list(best[2])
    fused = np.asarray(sum(w * p for w, p in zip(best_weights, probs, strict=True)))
    temperature = fit_temperature_of_probs(fused, labels)
    return GroupFusion([], "vote", weights=best_weights, temperature=temperature)


def fit_stacking(probs: Sequence[np.ndarray], labels: np.ndarray, c: float = 0.1) -> GroupFusion:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(_log_probs(probs), labels)
    return GroupFusion(
        [],
        "stacking",
        coef=model.coef_.tolist(),
        intercept=model.intercept_.tolist(),
        classes=[int(k) for k in model.classes_],
    )


def loglinear_pool(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """softmax(sum_m w_m log p_m): the members' weighted geometric mean, renormalised."""
    scores = sum(
        w * np.log(np.clip(p, EPSILON, 1.0)) for w, p in zip(weights, probs, strict=True)
    )
    scores = np.asarray(scores, dtype=np.float64)
    scores -= scores.max(axis=1, keepdims=True)
    pooled = np.exp(scores)
    return pooled / pooled.sum(axis=1, keepdims=True)


def fit_loglinear(
    probs: Sequence[np.ndarray], labels: np.ndarray, max_weight: float = 10.0
) -> GroupFusion:
    """Log-linear pooling: non-negative weights (one per member, at most ``max_weight``)
    minimising the mean log-loss of ``softmax(sum_m w_m log p_m)``, by L-BFGS-B with the
    exact gradient (a convex problem: the log-loss of a linear model in w)."""
    from scipy.optimize import minimize

    logs = np.stack([np.log(np.clip(p, EPSILON, 1.0)) for p in probs])  # (m, n, k)
    rows = np.arange(len(labels))
    at_label = logs[:, rows, labels]  # (m, n)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        scores = np.tensordot(w, logs, axes=1)  # (n, k)
        top = scores.max(axis=1, keepdims=True)
        exp = np.exp(scores - top)
        total = exp.sum(axis=1, keepdims=True)
        log_z = (np.log(total) + top)[:, 0]
        q = exp / total
        value = float(np.mean(log_z - scores[rows, labels]))
        # d/dw_m: E_q[log p_m] - log p_m[label], averaged over the rows
        gradient = np.einsum("mnk,nk->mn", logs, q).mean(axis=1) - at_label.mean(axis=1)
        return value, gradient

    start = np.full(len(probs), 1.0 / len(probs))
    result = minimize(
        loss, start, jac=True, method="L-BFGS-B", bounds=[(0.0, max_weight)] * len(probs)
    )
    return GroupFusion([], "loglinear", weights=[float(w) for w in result.x])


def _fitter(method: str, vote_step: float, stacking_c: float) -> Any:
    if method == "vote":
        return lambda probs, labels: fit_vote(probs, labels, vote_step)
    if method == "loglinear":
        return fit_loglinear
    return lambda probs, labels: fit_stacking(probs, labels, stacking_c)


def _cv_predictions(
    fitter: Any, probs: Sequence[np.ndarray], labels: np.ndarray, folds: int, seed: int
) -> np.ndarray | None:
    """Each row's class predicted by the fitter fitted on the other rows (stratified K-fold
    within these rows), or None when there are too few rows to fold."""
    from sklearn.model_selection import StratifiedKFold

    n_classes = probs[0].shape[1]
    counts = np.bincount(labels)
    k = max(2, min(folds, int(counts[counts > 0].min()) if len(counts) else 2))
    if len(labels) < 2 * k or not len(counts) or counts.max() < k:
        return None  # too few rows, or no class with a row per fold: nothing to stratify
    # Classes rarer than k cannot be stratified: the splitter only warns, the scores stay valid.
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    predicted = np.zeros(len(labels), dtype=int)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels):
            part = [p[train_idx] for p in probs]
            group = fitter(part, labels[train_idx])
            test = [p[test_idx] for p in probs]
            predicted[test_idx] = group.predict(test, n_classes).argmax(1)
    return predicted


def keep_if_it_gains(
    group: GroupFusion,
    member_probs: Sequence[np.ndarray],
    labels: np.ndarray,
    fused_out_of_fold: np.ndarray | None,
    confidence: float,
    samples: int,
    seed: int,
) -> tuple[GroupFusion, dict[str, Any]]:
    """The fitted combiner of a group if it beats the group's best single member, else that
    member alone (temperature-calibrated).

    It beats it when the paired bootstrap interval (``confidence``) of the weighted F1 gain of
    the combiner's out-of-fold predictions (``fused_out_of_fold``: fitted on the other inner
    folds, never on the rows it predicts) over the best member's lies above 0. The best member
    is picked on the same rows, which favours it: a fusion is kept on evidence, not on noise.
    """
    scores = [weighted_f1(labels, p.argmax(1)) for p in member_probs]
    best = int(np.argmax(scores))
    record: dict[str, Any] = {"best_member": group.members[best], "best_member_f1": scores[best]}
    if fused_out_of_fold is None:
        record["kept"] = False
        record["reason"] = "too few rows to measure the fusion's gain"
    else:
        interval = paired_bootstrap_gain(
            labels, fused_out_of_fold, member_probs[best].argmax(1), samples, confidence, seed
        )
        record.update(interval.as_dict())
        record["kept"] = interval.above_zero
    if record["kept"]:
        return group, record
    alone = fit_vote([member_probs[best]], labels)
    alone.members = [group.members[best]]
    return alone, record


@dataclass
class FusionModel:
    """One combiner per availability group, and how the method was chosen."""

    n_classes: int
    method: str
    groups: dict[str, GroupFusion]
    selection: dict[str, Any] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # member -> registry version
    review_threshold: float = 0.0
    review_precision: float = 0.0

    def predict(
        self, probs: Mapping[str, np.ndarray | None], available: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fused probabilities, and per row the availability group used (its name).

        ``probs[m]`` is an (n, classes) array (rows where ``m`` is unavailable are ignored);
        ``available[m]`` a boolean mask. A row with no member available gets a uniform
        distribution and the group ``none``.
        """
        n = len(next(iter(available.values())))
        out = np.full((n, self.n_classes), 1.0 / self.n_classes)
        used = np.full(n, "none", dtype=object)
        for name, group in self.groups.items():
            rows = used == "none"
            for m in group_members(name):
                rows &= np.asarray(available.get(m, np.zeros(n, bool)), bool)
            # A group takes the rows that have all its members; larger groups first (sorted).
            if not rows.any():
                continue
            member_probs = [np.asarray(probs[m])[rows] for m in group.members]
            out[rows] = group.predict(member_probs, self.n_classes)
            used[rows] = name
        return out, used

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        payload = asdict(self)
        (folder / FUSION_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path) -> FusionModel:
        payload = json.loads((Path(folder) / FUSION_FILE).read_text(encoding="utf-8"))
        groups = {k: GroupFusion(**v) for k, v in payload.pop("groups").items()}
        return cls(groups=groups, **payload)


class MemberBatchPredictor(Protocol):
    """What :func:`fuse_batch` calls per member (``models.member.BatchPredictor`` is one)."""

    def predict(self, batch: pd.DataFrame, n_classes: int) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class FusedBatch:
    """One batch fused: the fused probabilities, the group used per row, each member's."""

    fused: np.ndarray
    used: np.ndarray
    probs: dict[str, np.ndarray]
    available: dict[str, np.ndarray]


def fuse_batch(
    batch: pd.DataFrame,
    predictors: Mapping[str, MemberBatchPredictor],
    fusion: FusionModel,
    n_classes: int,
    seconds: MutableMapping[str, float] | None = None,
) -> FusedBatch:
    """The fused scorer's work on one pandas batch of scoring inputs: each member's batch
    predictor, then the fusion. Pure (no Spark, no Delta), so the scoring UDF and the GPU
    check (benchmarks/gpu_check.py) run the same code; ``seconds`` (when given) accumulates
    each member's and the fusion's (``fusion``) wall time."""
    probs: dict[str, np.ndarray] = {}
    available: dict[str, np.ndarray] = {}
    for name, predictor in predictors.items():
        started = time.perf_counter()
        probs[name], available[name] = predictor.predict(batch, n_classes)
        if seconds is not None:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    fused, used = fusion.predict(probs, available)
    if seconds is not None:
        seconds["fusion"] = seconds.get("fusion", 0.0) + time.perf_counter() - started
    return FusedBatch(fused, used, probs, available)


def group_order(groups: Mapping[str, GroupFusion]) -> dict[str, GroupFusion]:
    """Largest groups first, so a listing with every member uses the full combiner."""
    return dict(sorted(groups.items(), key=lambda kv: -len(group_members(kv[0]))))


def availability_groups(
    present: Sequence[str], modalities: Mapping[str, str]
) -> list[tuple[str, ...]]:
    """Every member together, the text members, the image members: of those ``present`` (in
    their order), ``modalities`` giving each member's (``text`` or ``image``)."""
    groups: list[tuple[str, ...]] = []
    everything = tuple(present)
    by_modality = [tuple(m for m in present if modalities[m] == kind) for kind in ("text", "image")]
    for group in (everything, *by_modality):
        members = tuple(m for m in group if m in present)
        if members and members not in groups:
            groups.append(members)
    return groups


def fit_fusion(
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    labels: np.ndarray,
    n_classes: int,
    modalities: Mapping[str, str],
    folds: int = 5,
    seed: int = 42,
    method: str = "auto",
    min_rows: int = 20,
    vote_step: float = 0.05,
    stacking_c: float = 0.1,
    fallback_to_best_member: bool = True,
    gain_confidence: float = 0.95,
    bootstrap_samples: int = 1000,
) -> FusionModel:
    """Fit every availability group on the valid rows that have its members.

    ``method``: ``vote``, ``stacking``, ``loglinear`` or ``auto`` (each validated by K-fold
    within the valid rows, pooled over the groups; the best one is kept, every score is
    recorded, and ``margin`` is its lead over the runner-up). With ``fallback_to_best_member``
    a group's combiner is kept only where its K-fold predictions beat the group's best member
    with a paired bootstrap interval above 0 (:func:`keep_if_it_gains`); else that member
    scores the group alone.
    """
    labels = np.asarray(labels, int)
    candidates = list(FUSION_CANDIDATES) if method == "auto" else [method]
    cv: dict[str, dict[str, float]] = {m: {} for m in candidates}
    out_of_fold: dict[str, dict[str, np.ndarray | None]] = {m: {} for m in candidates}
    group_rows: dict[str, tuple[list[np.ndarray], np.ndarray]] = {}
    fitted: dict[str, dict[str, GroupFusion]] = {m: {} for m in candidates}
    unfitted: list[str] = []
    for members in availability_groups(list(probs), modalities):
        rows = np.ones(len(labels), bool)
        for m in members:
            rows &= np.asarray(available[m], bool)
        if rows.sum() < min_rows:
            # Too few valid rows to fit: an equal-weight vote, so such listings are still fused.
            log.warning(
                "fusion: %s has %d valid rows only (< %d): equal weights",
                group_name(members),
                rows.sum(),
                min_rows,
            )
            for candidate in candidates:
                fitted[candidate][group_name(members)] = GroupFusion(
                    list(members), "vote", weights=[1.0 / len(members)] * len(members)
                )
            unfitted.append(group_name(members))
            continue
        member_probs = [np.asarray(probs[m])[rows] for m in members]
        group_rows[group_name(members)] = (member_probs, labels[rows])
        for candidate in candidates:
            group = _fitter(candidate, vote_step, stacking_c)(member_probs, labels[rows])
            group.members = list(members)
            fitted[candidate][group_name(members)] = group
            if len(candidates) > 1 or (fallback_to_best_member and len(members) > 1):
                predicted = _cv_predictions(
                    _fitter(candidate, vote_step, stacking_c),
                    member_probs,
                    labels[rows],
                    folds,
                    seed,
                )
                out_of_fold[candidate][group_name(members)] = predicted
                cv[candidate][group_name(members)] = (
                    float("nan") if predicted is None else weighted_f1(labels[rows], predicted)
                )
    if not any(fitted.values()):
        raise ValueError("fusion: no member probabilities to fuse")
    if len(candidates) > 1:
        pooled = {
            m: float(np.nanmean(list(cv[m].values()))) if cv[m] else float("nan")
            for m in candidates
        }
        # Ties go to the earlier candidate (the soft vote first).
        chosen = max(
            candidates,
            key=lambda m: (np.nan_to_num(pooled[m], nan=-1.0), -candidates.index(m)),
        )
        runner_up = max(np.nan_to_num(pooled[m], nan=-1.0) for m in candidates if m != chosen)
        selection = {
            "chosen": chosen,
            "cv_weighted_f1": pooled,
            "per_group": cv,
            "margin": pooled[chosen] - runner_up,
        }
    else:
        chosen, selection = candidates[0], {"chosen": candidates[0]}
    selection["equal_weight_groups"] = unfitted
    groups = fitted[chosen]
    if fallback_to_best_member:
        gains: dict[str, dict[str, Any]] = {}
        for name, (member_probs, group_labels) in group_rows.items():
            if len(groups[name].members) < 2:
                continue
            groups[name], gains[name] = keep_if_it_gains(
                groups[name],
                member_probs,
                group_labels,
                out_of_fold[chosen].get(name),
                gain_confidence,
                bootstrap_samples,
                seed,
            )
            if not gains[name]["kept"]:
                log.info(
                    "fusion: %s does not beat %s alone (gain %s): %s scores those listings",
                    name,
                    gains[name]["best_member"],
                    json.dumps({k: gains[name].get(k) for k in ("gain", "low", "high")}),
                    gains[name]["best_member"],
                )
        selection["gain_over_best_member"] = gains
        selection["fallback_groups"] = [g for g, r in gains.items() if not r["kept"]]
    log.info("fusion: %s chosen (%s)", chosen, json.dumps(selection))
    return FusionModel(n_classes, chosen, group_order(groups), selection)


def fusion_settings(config: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`fit_fusion` that ``train.fusion`` (a FusionConfig) sets
    besides its method and folds: one mapping for the registered fusion and the cascade's
    stages alike."""
    return {
        "min_rows": config.min_rows,
        "vote_step": config.vote_step,
        "stacking_c": config.stacking_c,
        "fallback_to_best_member": config.fallback_to_best_member,
        "gain_confidence": config.gain_confidence,
        "bootstrap_samples": config.bootstrap_samples,
    }


def fit_fusion_from_config(
    probs: Mapping[str, np.ndarray],
    available: Mapping[str, np.ndarray],
    labels: np.ndarray,
    n_classes: int,
    modalities: Mapping[str, str],
    config: Any,
    seed: int,
) -> FusionModel:
    """``fit_fusion`` with the settings of ``train.fusion`` (a FusionConfig)."""
    return fit_fusion(
        probs,
        available,
        labels,
        n_classes,
        modalities,
        folds=config.cv_folds,
        seed=seed,
        method=config.method,
        **fusion_settings(config),
    )


def review_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    target_precision: float,
    min_review_share: float = 0.0,
) -> tuple[float, float, float]:
    """The lowest confidence threshold whose listings at or above it reach ``target_precision``,
    raised if needed so that at least ``min_review_share`` of the listings fall under it.

    Returns (threshold, precision above it, share of listings above it). When no threshold
    reaches the target, the highest confidence is returned (everything goes to review). The
    thresholds are scikit-learn's precision-recall curve's: each distinct confidence, so tied
    listings are never split by a threshold (``confidence >= threshold`` takes them all).
    """
    threshold, precision, share = _precision_threshold(confidence, correct, target_precision)
    confidence = np.asarray(confidence, float)
    wanted = int(np.ceil(min_review_share * len(confidence)))
    if wanted and (confidence < threshold).sum() < wanted:
        # The wanted-th smallest confidence: the listings strictly under it, plus ties that a
        # threshold cannot split, are at least the floor when confidences are distinct.
        threshold = float(np.sort(confidence)[min(wanted, len(confidence) - 1)])
        above = confidence >= threshold
        hits = np.asarray(correct, bool)
        precision = float(hits[above].mean()) if above.any() else 0.0
        share = float(above.mean())
    return threshold, precision, share


def _precision_threshold(
    confidence: np.ndarray, correct: np.ndarray, target_precision: float
) -> tuple[float, float, float]:
    confidence = np.asarray(confidence, float)
    hits = np.asarray(correct, bool)
    if not len(confidence):
        return 1.0, 0.0, 0.0
    if not hits.any():
        return float(confidence.max()) + 1e-9, 0.0, 0.0
    # Imported here: the scoring workers import this module but never choose a threshold.
    from sklearn.metrics import precision_recall_curve

    precision, _, thresholds = precision_recall_curve(hits, confidence)
    # precision[i] is that of the listings with confidence >= thresholds[i] (increasing).
    ok = np.nonzero(precision[:-1] >= target_precision)[0]
    if not len(ok):
        return float(confidence.max()) + 1e-9, 0.0, 0.0
    first = int(ok.min())
    threshold = float(thresholds[first])
    return threshold, float(precision[first]), float((confidence >= threshold).mean())


def reliability_curve(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> tuple[list[dict[str, float]], float]:
    """Per confidence bin: mean confidence, accuracy, count; and the expected calibration error.

    scikit-learn's ``calibration_curve`` gives the first two but not the bins' counts, which the
    evaluation page prints beside each point and the ECE weighs by: hence these few lines."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if not inside.any():
            continue
        mean_conf = float(confidence[inside].mean())
        accuracy = float(np.asarray(correct)[inside].mean())
        rows.append(
            {
                "low": lo,
                "high": hi,
                "confidence": mean_conf,
                "accuracy": accuracy,
                "count": int(inside.sum()),
            }
        )
        ece += inside.mean() * abs(mean_conf - accuracy)
    return rows, float(ece)


# --------------------------------------------------------------- members' predictions


@dataclass
class MemberPredictions:
    """The members' probabilities over the same listings (one row per productid)."""

    productids: np.ndarray
    labels: np.ndarray
    probs: dict[str, np.ndarray]
    available: dict[str, np.ndarray]


def with_image(members: MemberPredictions, modalities: Mapping[str, str]) -> np.ndarray:
    """Rows where an image member gave an opinion."""
    mask = np.zeros(len(members.labels), bool)
    for member, available in members.available.items():
        if modalities.get(member) == "image":
            mask |= np.asarray(available, bool)
    return mask


def without_members(
    available: Mapping[str, np.ndarray], dropped: Collection[str]
) -> dict[str, np.ndarray]:
    """``available`` with the ``dropped`` members absent from every row.

    ``FusionModel.predict`` given this fuses each listing from the group of its other members,
    the same fitted combiner a listing lacking the dropped members gets: the fusion without
    them, with no refit (what the evaluation page compares to measure a member's share)."""
    return {
        member: np.zeros(len(mask), bool) if member in dropped else np.asarray(mask, bool)
        for member, mask in available.items()
    }


def evaluate_groups(
    fused: np.ndarray,
    used: np.ndarray,
    members: MemberPredictions,
    modalities: Mapping[str, str],
) -> dict[str, float]:
    """Fusion vs each member on the listings with an image, and on those without one."""
    out: dict[str, float] = {}
    labels = members.labels
    image_rows = with_image(members, modalities)
    for name, rows in (("with_image", image_rows), ("without_image", ~image_rows)):
        if not rows.any():
            continue
        out[f"{name}_rows"] = float(rows.sum())
        out[f"{name}_fusion_weighted_f1"] = weighted_f1(labels[rows], fused[rows].argmax(1))
        for member, p in members.probs.items():
            covered = rows & members.available[member]
            if covered.sum() == rows.sum():
                out[f"{name}_{member}_weighted_f1"] = weighted_f1(labels[rows], p[rows].argmax(1))
    return out
