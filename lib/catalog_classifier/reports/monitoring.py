"""The monitoring page: the last scoring runs of ``gold.run_metrics`` as one offline HTML page.

Written by the ``monitor`` job (and the pipeline's last step) under ``<report-dir>/monitoring``:
volumes, missing inputs, confidence and review share, text-image agreement and the drift
statistics of each run, each plotted against its conf threshold, the category shares of the
last run beside the training labels', and every alert raised. ``gold.run_metrics`` holds one
small row per run, so the page reads it whole into pandas; the figures are pure functions of
that frame.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import pandas as pd  # noqa: E402

from catalog_classifier.config import Config, MonitoringConfig  # noqa: E402
from catalog_classifier.reports.rendering import html_table, render, save_figure  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.tables import GOLD_RUN_METRICS  # noqa: E402

log = logging.getLogger(__name__)

# Runs plotted (the table keeps them all).
LAST_RUNS = 30


@dataclass
class MonitoringPage:
    html_path: Path
    runs: int
    alerts: int
    figures: list[dict[str, str]] = field(default_factory=list)


def runs_frame(metrics: pd.DataFrame, last: int = LAST_RUNS) -> pd.DataFrame:
    """The last ``last`` rows of ``gold.run_metrics`` in time order, with a run label (``#n``:
    its rank among all runs) and the alerts' names as a list."""
    if metrics.empty:
        return metrics.assign(run=pd.Series(dtype=str), alert_names=pd.Series(dtype=object))
    runs = metrics.sort_values("monitored_at").reset_index(drop=True)
    runs["run"] = [f"#{i + 1}" for i in range(len(runs))]
    runs["alert_names"] = [[a["name"] for a in json.loads(text)] for text in runs["alerts"]]
    return runs.tail(last).reset_index(drop=True)


def _threshold(ax: Any, value: float, label: str) -> None:
    ax.axhline(value, color="#c0392b", linestyle="--", linewidth=1, label=label)


def plot_volumes(runs: pd.DataFrame, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(runs["run"], runs["listings_scored"], color="#2c7fb8")
    ax.set_ylabel("listings scored")
    ax.tick_params(axis="x", labelrotation=45)
    save_figure(fig, path, dpi=100)
    last = runs.iloc[-1]
    return f"Last run: {int(last['listings_scored']):,} listings scored."


def plot_inputs(runs: pd.DataFrame, cfg: MonitoringConfig, path: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharex=True)
    for ax, column, limit, title in (
        (axes[0], "no_description_share", cfg.max_no_description_share, "without description"),
        (axes[1], "no_image_share", cfg.max_no_image_share, "without usable image"),
    ):
        ax.plot(runs["run"], runs[column], marker="o", color="#2c7fb8")
        _threshold(ax, limit, f"alert above {limit}")
        ax.set_ylim(0, 1)
        ax.set_title(f"share of listings {title}")
        ax.tick_params(axis="x", labelrotation=45)
        ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path, dpi=100)
    last = runs.iloc[-1]
    return (
        f"Last run: {last['no_description_share']:.1%} without description (alert above "
        f"{cfg.max_no_description_share:.0%}), {last['no_image_share']:.1%} without usable image "
        f"(alert above {cfg.max_no_image_share:.0%})."
    )


def plot_predictions(runs: pd.DataFrame, cfg: MonitoringConfig, path: Path) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharex=True)
    agreement = runs["agreement"].astype(float)
    panels = (
        (axes[0], runs["mean_confidence"], None, "mean fused confidence"),
        (axes[1], runs["review_share"], (cfg.max_review_share, "above"), "share needing review"),
        (axes[2], agreement, (cfg.min_agreement, "below"), "text-image agreement"),
    )
    for ax, values, limit, title in panels:
        ax.plot(runs["run"], values, marker="o", color="#2c7fb8")
        if limit is not None:
            _threshold(ax, limit[0], f"alert {limit[1]} {limit[0]}")
            ax.legend(loc="lower left", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=45)
    save_figure(fig, path, dpi=100)
    last = runs.iloc[-1]
    agree = "n/a" if pd.isna(last["agreement"]) else f"{last['agreement']:.1%}"
    return (
        f"Last run: mean confidence {last['mean_confidence']:.3f}, {last['review_share']:.1%} "
        f"need review, text and image members agree on {agree} of the listings both scored."
    )


def plot_drift(runs: pd.DataFrame, cfg: MonitoringConfig, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for column, label, color in (
        ("category_psi_previous", "categories vs previous run", "#2c7fb8"),
        ("category_psi_training", "categories vs training labels", "#7fcdbb"),
        ("language_psi_previous", "languages vs previous run", "#fdae61"),
    ):
        ax.plot(runs["run"], runs[column].astype(float), marker="o", label=label, color=color)
    _threshold(ax, cfg.max_category_psi, f"category alert above {cfg.max_category_psi}")
    ax.set_ylabel("population stability index")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path, dpi=100)
    last = runs.iloc[-1]
    values = [
        f"{name} {last[column]:.3f}"
        for name, column in (
            ("against the previous run", "category_psi_previous"),
            ("against the training labels", "category_psi_training"),
        )
        if not pd.isna(last[column])
    ]
    return "Category PSI of the last run: " + (", ".join(values) or "n/a") + "."


def plot_category_shares(
    runs: pd.DataFrame, names: dict[int, str], training: dict[str, float], path: Path
) -> str:
    last = json.loads(runs.iloc[-1]["category_shares"])
    codes = sorted(set(last) | set(training), key=lambda c: -last.get(c, 0.0))
    labels = [f"{c} {names.get(int(c), '')}"[:34] for c in codes]
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.28 * len(codes) + 1)))
    positions = range(len(codes))
    ax.barh(
        [p + 0.2 for p in positions],
        [last.get(c, 0.0) for c in codes],
        height=0.4,
        label="last run",
        color="#2c7fb8",
    )
    if training:
        ax.barh(
            [p - 0.2 for p in positions],
            [training.get(c, 0.0) for c in codes],
            height=0.4,
            label="training labels",
            color="#bdbdbd",
        )
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of listings")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path, dpi=100)
    top = codes[0]
    return (
        f"Largest predicted category in the last run: {top} {names.get(int(top), '')} "
        f"({last.get(top, 0.0):.1%})."
    )


def alerts_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per alert raised in the plotted runs, newest first."""
    rows = [
        {
            "run": run["run"],
            "monitored at (UTC)": pd.Timestamp(run["monitored_at"]).strftime("%Y-%m-%d %H:%M"),
            "fused version": run["model_version"],
            "alert": alert["name"],
            "message": alert["message"],
        }
        for _, run in runs.iloc[::-1].iterrows()
        for alert in json.loads(run["alerts"])
    ]
    return pd.DataFrame(
        rows, columns=["run", "monitored at (UTC)", "fused version", "alert", "message"]
    )


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "run": runs["run"],
            "monitored at (UTC)": [
                pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in runs["monitored_at"]
            ],
            "fused version": runs["model_version"],
            "listings": runs["listings_scored"],
            "no description": runs["no_description_share"].map("{:.3f}".format),
            "no image": runs["no_image_share"].map("{:.3f}".format),
            "confidence": runs["mean_confidence"].map("{:.3f}".format),
            "review": runs["review_share"].map("{:.3f}".format),
            "agreement": runs["agreement"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}"),
            "alerts": [", ".join(names) or "none" for names in runs["alert_names"]],
        }
    )
    return table.iloc[::-1]


def build_monitoring_page(
    lakehouse: Lakehouse,
    config: Config,
    out_dir: str | Path,
    training_shares: dict[str, float] | None = None,
) -> MonitoringPage:
    """Draw the last runs of ``gold.run_metrics`` and write ``index.html`` under ``out_dir``
    (a page saying there is no run yet when the table is empty or missing)."""
    out = Path(out_dir)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    metrics = (
        lakehouse.read(GOLD_RUN_METRICS).toPandas()
        if lakehouse.exists(GOLD_RUN_METRICS)
        else pd.DataFrame(columns=GOLD_RUN_METRICS.column_names)
    )
    all_runs = len(metrics)
    runs = runs_frame(metrics)
    cfg = config.monitoring
    figures: list[dict[str, str]] = []
    if not runs.empty:
        names = config.category_names
        drawn = (
            ("volumes", "Listings scored per run", lambda p: plot_volumes(runs, p)),
            ("inputs", "Missing inputs", lambda p: plot_inputs(runs, cfg, p)),
            (
                "predictions",
                "Confidence, review and agreement",
                lambda p: plot_predictions(runs, cfg, p),
            ),
            ("drift", "Drift (population stability index)", lambda p: plot_drift(runs, cfg, p)),
            (
                "categories",
                "Category shares of the last run",
                lambda p: plot_category_shares(runs, names, training_shares or {}, p),
            ),
        )
        for name, title, plot in drawn:
            reading = plot(figures_dir / f"{name}.png")
            figures.append({"name": name, "title": title, "reading": reading})
    alerts = alerts_table(runs) if not runs.empty else pd.DataFrame()
    html = render(
        "monitoring/page.html",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        lakehouse=lakehouse.root,
        runs_total=all_runs,
        runs_shown=len(runs),
        figures=figures,
        alerts=html_table(alerts),
        runs=html_table(runs_table(runs)) if not runs.empty else None,
        thresholds=cfg,
    )
    path = out / "index.html"
    path.write_text(html, encoding="utf-8")
    log.info("monitoring page: %s (%d runs, %d alerts shown)", path, len(runs), len(alerts))
    return MonitoringPage(path, all_runs, len(alerts), figures)
