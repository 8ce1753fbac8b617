"""The data-quality and exploration report: one offline HTML page with PNG figures.

Every figure is drawn from aggregates computed by Spark (counts, approximate quantiles, top
words), so the report costs the same few Spark jobs on 2,000 listings or on millions. Listings
without a label are shown as one group of their own: the report reads labelled and unlabelled
catalogs alike.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on the machines that run the report

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from pyspark.ml.feature import RegexTokenizer, StopWordsRemover  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from catalog_classifier.config import Config  # noqa: E402
from catalog_classifier.features.image import SHARPNESS_BUCKET_NAMES  # noqa: E402
from catalog_classifier.reports.rendering import html_table, render, save_figure  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.tables import (  # noqa: E402
    BRONZE_LABELS,
    BRONZE_QUARANTINE,
    SILVER_IMAGE_FEATURES,
    SILVER_TEXT_FEATURES,
)

log = logging.getLogger(__name__)

UNLABELLED = "(unlabelled)"
TOP_WORDS = 200
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Words of fewer letters are mostly units and abbreviations ("cm", "x", "de").
MIN_WORD_LETTERS = 3
STOP_WORD_LANGUAGES = ("french", "english", "german")
MAX_LANGUAGES_SHOWN = 6


@dataclass
class Figure:
    name: str
    title: str
    reading: str


@dataclass
class Report:
    out_dir: Path
    html_path: Path
    figures: list[Figure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------
# Aggregates (Spark -> small pandas frames)


def category_column(labels: DataFrame | None, names: dict[int, str]) -> DataFrame | None:
    """(productid, category): ``"2583 Pool and accessories"`` from the labels and conf names."""
    if labels is None:
        return None
    mapping = F.create_map(*[x for code, name in names.items() for x in (F.lit(code), F.lit(name))])
    return labels.select(
        "productid",
        F.concat_ws(
            " ",
            F.col("prdtypecode").cast("string"),
            F.coalesce(mapping[F.col("prdtypecode")], F.lit("")),
        ).alias("category"),
    )


def with_category(df: DataFrame, categories: DataFrame | None) -> DataFrame:
    if categories is None:
        return df.withColumn("category", F.lit(UNLABELLED))
    return df.join(categories, "productid", "left").withColumn(
        "category", F.coalesce("category", F.lit(UNLABELLED))
    )


def listing_aggregates(text: DataFrame) -> pd.DataFrame:
    """Per category: listings, with description, length quantiles (one Spark job)."""
    quantiles = list(QUANTILES)
    rows = (
        text.groupBy("category")
        .agg(
            F.count(F.lit(1)).alias("listings"),
            F.sum(F.col("has_description").cast("int")).alias("with_description"),
            F.percentile_approx("designation_chars", quantiles, 1000).alias("designation_q"),
            F.percentile_approx(
                F.when(F.col("has_description"), F.col("description_chars")), quantiles, 1000
            ).alias("description_q"),
            F.mean("designation_chars").alias("designation_mean"),
            F.mean(F.when(F.col("has_description"), F.col("description_chars"))).alias(
                "description_mean"
            ),
        )
        .toPandas()
    )
    return rows.sort_values("listings", ascending=False).reset_index(drop=True)


def image_aggregates(images: DataFrame) -> pd.DataFrame:
    """Per category: images, valid, blank, invalid, sharpness quantiles and buckets (one job)."""
    bucket_counts = [
        F.sum((F.col("sharpness_bucket") == b).cast("int")).alias(f"bucket_{b}")
        for b in SHARPNESS_BUCKET_NAMES
    ]
    rows = (
        images.groupBy("category")
        .agg(
            F.count(F.lit(1)).alias("images"),
            F.sum(F.col("is_valid").cast("int")).alias("valid"),
            F.sum(F.coalesce(F.col("is_blank"), F.lit(False)).cast("int")).alias("blank"),
            F.sum((~F.col("is_valid")).cast("int")).alias("invalid"),
            F.percentile_approx("sharpness", list(QUANTILES), 1000).alias("sharpness_q"),
            *bucket_counts,
        )
        .toPandas()
    )
    return rows.sort_values("images", ascending=False).reset_index(drop=True)


def language_mix(text: DataFrame) -> pd.DataFrame:
    """Listings per (category, language) (one Spark job)."""
    return (
        text.groupBy("category", F.coalesce("language", F.lit("none")).alias("language"))
        .count()
        .toPandas()
    )


def top_words(text: DataFrame, n: int = TOP_WORDS) -> pd.DataFrame:
    """The ``n`` most frequent words of the cleaned lowercase text, stop words removed.

    Spark ML's tokenizer and stop-word lists (French, English, German): spark-nlp cannot run on
    these machines (STACK.md). Words are runs of letters of at least three.
    """
    tokens = RegexTokenizer(
        inputCol="text_lower",
        outputCol="tokens",
        pattern=r"[^\p{L}]+",
        minTokenLength=MIN_WORD_LETTERS,
        toLowercase=True,
    ).transform(text.select("text_lower"))
    stop_words = sorted(
        {w for lang in STOP_WORD_LANGUAGES for w in StopWordsRemover.loadDefaultStopWords(lang)}
    )
    kept = StopWordsRemover(inputCol="tokens", outputCol="words", stopWords=stop_words).transform(
        tokens
    )
    return (
        kept.select(F.explode("words").alias("word"))
        .groupBy("word")
        .count()
        .orderBy(F.desc("count"), "word")
        .limit(n)
        .toPandas()
    )


def duplicates_across_categories(images: DataFrame, limit: int = 30) -> pd.DataFrame:
    """Duplicate groups whose images belong to listings of more than one category."""
    return (
        images.filter(F.col("duplicate_group").isNotNull())
        .groupBy("duplicate_group")
        .agg(
            F.count(F.lit(1)).alias("images"),
            F.countDistinct("category").alias("n_categories"),
            F.array_sort(F.collect_set("category")).alias("categories"),
            F.array_sort(F.collect_set("imageid")).alias("imageids"),
        )
        .filter(F.col("n_categories") > 1)
        .orderBy(F.desc("images"), "duplicate_group")
        .limit(limit)
        .toPandas()
    )


def quarantine_by_reason(quarantine: DataFrame) -> pd.DataFrame:
    return (
        quarantine.groupBy("record_kind", "reason")
        .count()
        .orderBy(F.desc("count"), "record_kind", "reason")
        .toPandas()
    )


# --------------------------------------------------------------------------------------------
# Figures (pandas -> PNG); each returns the one-line reading printed under it


def _short(category: str, width: int = 34) -> str:
    return category if len(category) <= width else category[: width - 1] + "…"


def _box_stats(label: str, q: list[float] | None, mean: float | None) -> dict[str, Any] | None:
    if q is None or any(v is None for v in q):
        return None
    p5, p25, p50, p75, p95 = q
    return {
        "label": label,
        "whislo": p5,
        "q1": p25,
        "med": p50,
        "q3": p75,
        "whishi": p95,
        "mean": mean if mean is not None and not math.isnan(mean) else p50,
        "fliers": [],
    }


def plot_class_distribution(listings: pd.DataFrame, path: Path) -> str:
    data = listings.sort_values("listings")
    total = int(data["listings"].sum())
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(data) + 1)))
    bars = ax.barh([_short(c, 44) for c in data["category"]], data["listings"], color="#3b75af")
    for bar, count in zip(bars, data["listings"], strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {count:,} ({count / total:.1%})",
            va="center",
            fontsize=7,
        )
    ax.set_title("Listings per product category")
    ax.set_xlabel("listings")
    ax.set_ylabel("category (prdtypecode and name)")
    ax.set_xlim(0, data["listings"].max() * 1.25)
    save_figure(fig, path)
    labelled = data[data["category"] != UNLABELLED]
    if labelled.empty:
        return f"{total:,} listings, none labelled: categories are unknown."
    largest, smallest = labelled.iloc[-1], labelled.iloc[0]
    ratio = largest["listings"] / max(1, smallest["listings"])
    return (
        f"{int(labelled['listings'].sum()):,} labelled listings in {len(labelled)} categories; "
        f"largest {largest['category']} ({largest['listings'] / total:.1%}), smallest "
        f"{smallest['category']} ({smallest['listings'] / total:.1%}): a {ratio:.0f}:1 imbalance."
    )


def _category_boxes(
    ax: plt.Axes, categories: list[str], quantiles: list[Any], means: list[Any] | None
) -> list[dict[str, Any]]:
    """Horizontal box plots from precomputed quantiles, one row per category (empty rows kept)."""
    stats, positions = [], []
    for position, (category, q, mean) in enumerate(
        zip(categories, quantiles, means or [None] * len(categories), strict=True), start=1
    ):
        box = _box_stats(_short(category), None if q is None else list(q), mean)
        if box is not None:
            stats.append(box)
            positions.append(position)
    if stats:
        ax.bxp(
            stats,
            positions=positions,
            orientation="horizontal",
            showmeans=means is not None,
            showfliers=False,
        )
    ax.set_yticks(range(1, len(categories) + 1), [_short(c) for c in categories])
    ax.set_ylim(0.5, len(categories) + 0.5)
    return stats


def plot_text_lengths(listings: pd.DataFrame, path: Path) -> str:
    data = listings.sort_values("category", ascending=False)
    categories = list(data["category"])
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3.5, 0.3 * len(data) + 1.5)), sharey=True)
    panels = (("designation", "designation (title)"), ("description", "description (when present)"))
    for ax, (column, label) in zip(axes, panels, strict=True):
        _category_boxes(ax, categories, list(data[f"{column}_q"]), list(data[f"{column}_mean"]))
        ax.set_title(f"Characters of the {label}")
        ax.set_xlabel("characters (box: quartiles, whiskers: 5th-95th pct, triangle: mean)")
    axes[0].set_ylabel("category")
    fig.suptitle("Text length per category")
    save_figure(fig, path)
    longest = data.sort_values("description_mean", ascending=False).iloc[0]
    return (
        f"Titles average {listings['designation_mean'].mean():.0f} characters per category; "
        f"the longest descriptions are in {longest['category']} "
        f"(mean {0 if pd.isna(longest['description_mean']) else longest['description_mean']:.0f})."
    )


def plot_description_presence(listings: pd.DataFrame, path: Path) -> str:
    data = listings.assign(
        share_with=listings["with_description"] / listings["listings"]
    ).sort_values("share_with")
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(data) + 1)))
    names = [_short(c, 44) for c in data["category"]]
    ax.barh(names, data["share_with"], color="#4c9a5b", label="with description")
    ax.barh(
        names,
        1 - data["share_with"],
        left=data["share_with"],
        color="#d9d9d9",
        label="without description",
    )
    ax.set_xlim(0, 1)
    ax.set_title("Share of listings with and without a description")
    ax.set_xlabel("share of the category's listings")
    ax.set_ylabel("category")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)
    overall = listings["with_description"].sum() / listings["listings"].sum()
    least = data.iloc[0]
    return (
        f"{1 - overall:.1%} of listings have no description; the fewest descriptions are in "
        f"{least['category']} ({least['share_with']:.0%} with one)."
    )


def plot_word_cloud(words: pd.DataFrame, path: Path) -> str:
    from wordcloud import WordCloud

    fig, ax = plt.subplots(figsize=(10, 5.5))
    if words.empty:
        ax.text(0.5, 0.5, "no words", ha="center")
    else:
        cloud = WordCloud(
            width=1000, height=500, background_color="white", random_state=0, max_words=TOP_WORDS
        ).generate_from_frequencies(dict(zip(words["word"], words["count"], strict=True)))
        ax.imshow(cloud, interpolation="bilinear")
    ax.set_title(
        f"The {TOP_WORDS} most frequent words (French, English, German stop words removed)"
    )
    ax.set_xlabel("word size: frequency in titles and descriptions")
    ax.set_ylabel("")
    ax.set_xticks([])
    ax.set_yticks([])
    save_figure(fig, path)
    top = ", ".join(f"{w} ({c:,})" for w, c in words.head(5).itertuples(index=False))
    return f"Most frequent words: {top}." if top else "No text to count."


def plot_language_mix(languages: pd.DataFrame, path: Path) -> str:
    totals = languages.groupby("language")["count"].sum().sort_values(ascending=False)
    shown = list(totals.index[:MAX_LANGUAGES_SHOWN])
    data = languages.assign(
        language=languages["language"].where(languages["language"].isin(shown), "other")
    )
    table = data.pivot_table(index="category", columns="language", values="count", aggfunc="sum")
    table = table.fillna(0)
    shares = table.div(table.sum(axis=1), axis=0)
    order = [c for c in [*shown, "other"] if c in shares.columns]
    shares = shares[order].sort_values(order[0])
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(shares) + 1)))
    left = pd.Series(0.0, index=shares.index)
    for language in order:
        ax.barh([_short(c, 44) for c in shares.index], shares[language], left=left, label=language)
        left = left + shares[language]
    ax.set_xlim(0, 1)
    ax.set_title("Detected language of the listings, per category")
    ax.set_xlabel("share of the category's listings")
    ax.set_ylabel("category")
    ax.legend(title="language", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)
    overall = totals / totals.sum()
    mix = ", ".join(f"{lang} {share:.1%}" for lang, share in overall.head(4).items())
    least = shares.index[0]
    return (
        f"Overall: {mix}. The least {order[0]} category is {least} "
        f"({shares.loc[least, order[0]]:.0%})."
    )


def plot_sharpness_buckets(images: pd.DataFrame, path: Path) -> str:
    counts = pd.Series({b: int(images[f"bucket_{b}"].sum()) for b in SHARPNESS_BUCKET_NAMES})
    fig, ax = plt.subplots(figsize=(6.5, 5))
    nonzero = counts[counts > 0]
    if nonzero.empty:
        ax.text(0.5, 0.5, "no valid images", ha="center")
    else:
        ax.pie(
            nonzero,
            labels=[b.replace("_", " ") for b in nonzero.index],
            autopct="%1.1f%%",
            colors=["#2e7d32", "#9ccc65", "#ffb74d", "#e53935"][: len(nonzero)],
            startangle=90,
        )
    ax.set_title("Images by sharpness (variance of the Laplacian)")
    ax.set_xlabel("sharp >= 200, moderately sharp 100-199, slightly blurry 50-99, blurry < 50")
    save_figure(fig, path)
    total = counts.sum()
    if not total:
        return "No valid image to measure."
    return (
        f"{counts['sharp'] / total:.1%} of {total:,} valid images are sharp; "
        f"{counts['blurry'] / total:.1%} are blurry (variance under 50)."
    )


def plot_sharpness_by_category(images: pd.DataFrame, path: Path) -> str:
    data = images.sort_values("category", ascending=False)
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(data) + 1)))
    stats = _category_boxes(ax, list(data["category"]), list(data["sharpness_q"]), None)
    if stats:
        ax.set_xscale("symlog", linthresh=10)
        for threshold in (50, 100, 200):
            ax.axvline(threshold, color="#999999", lw=0.7, ls="--")
    ax.set_title("Image sharpness per category")
    ax.set_xlabel("variance of the Laplacian, log scale (dashes: 50, 100, 200)")
    ax.set_ylabel("category")
    save_figure(fig, path)
    medians = [(s["med"], s["label"]) for s in stats]
    if not medians:
        return "No valid image to measure."
    low, high = min(medians), max(medians)
    return (
        f"Sharpest median: {high[1]} ({high[0]:,.0f}); least sharp median: {low[1]} "
        f"({low[0]:,.0f})."
    )


def plot_blank_invalid(images: pd.DataFrame, path: Path) -> str:
    data = images.sort_values("category")
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(data) + 1)))
    names = [_short(c, 44) for c in data["category"]]
    positions = range(len(names))
    ax.barh(
        [p - 0.2 for p in positions],
        data["blank"],
        height=0.4,
        label="blank (solid)",
        color="#7e57c2",
    )
    ax.barh(
        [p + 0.2 for p in positions],
        data["invalid"],
        height=0.4,
        label="invalid (corrupt, truncated, ...)",
        color="#e53935",
    )
    ax.set_yticks(list(positions), names)
    ax.set_title("Blank and invalid images per category")
    ax.set_xlabel("images")
    ax.set_ylabel("category")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)
    blank, invalid, total = data["blank"].sum(), data["invalid"].sum(), data["images"].sum()
    return (
        f"{blank:,} blank and {invalid:,} invalid images out of {total:,}: neither tells an "
        "image model anything about the product."
    )


# --------------------------------------------------------------------------------------------
# The page


def render_html(report: Report, tables: dict[str, pd.DataFrame]) -> str:
    """The page, from ``templates/quality/page.html``; ``tables``: duplicates, quarantine."""
    return render(
        "quality/page.html",
        facts=report.facts,
        figures=report.figures,
        duplicates=html_table(tables["duplicates"]),
        quarantine=html_table(tables["quarantine"]),
    )


def build_report(lakehouse: Lakehouse, config: Config, out_dir: str | Path) -> Report:
    """Compute the aggregates, draw the figures and write ``index.html`` under ``out_dir``."""
    started = time.monotonic()
    out = Path(out_dir)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    for required in (SILVER_TEXT_FEATURES, SILVER_IMAGE_FEATURES):
        if not lakehouse.exists(required):
            raise FileNotFoundError(
                f"{required.qualified_name} does not exist: run the features job first"
            )
    labels = lakehouse.read(BRONZE_LABELS) if lakehouse.exists(BRONZE_LABELS) else None
    categories = category_column(labels, config.category_names)
    text = with_category(lakehouse.read(SILVER_TEXT_FEATURES), categories).select(
        "productid",
        "category",
        "designation_chars",
        "description_chars",
        "has_description",
        "language",
        "text_lower",
    )
    images = with_category(lakehouse.read(SILVER_IMAGE_FEATURES), categories)
    text.persist()
    images.persist()
    try:
        log.info("report: aggregating listings")
        listings = listing_aggregates(text)
        languages = language_mix(text)
        log.info("report: counting words")
        words = top_words(text)
        log.info("report: aggregating images")
        image_stats = image_aggregates(images)
        duplicates = duplicates_across_categories(images)
    finally:
        text.unpersist()
        images.unpersist()
    quarantine = (
        quarantine_by_reason(lakehouse.read(BRONZE_QUARANTINE))
        if lakehouse.exists(BRONZE_QUARANTINE)
        else pd.DataFrame(columns=["record_kind", "reason", "count"])
    )

    if listings.empty:
        raise ValueError(
            f"{SILVER_TEXT_FEATURES.qualified_name} is empty: ingest listings and run the "
            "features job before the report"
        )
    report = Report(out, out / "index.html")
    labelled = int(listings.loc[listings["category"] != UNLABELLED, "listings"].sum())
    report.facts = {
        "generated at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "lakehouse": lakehouse.root,
        "listings": f"{int(listings['listings'].sum()):,}",
        "labelled listings": f"{labelled:,}",
        "images": f"{int(image_stats['images'].sum()):,}",
        "valid images": f"{int(image_stats['valid'].sum()):,}",
        "quarantined records": f"{int(quarantine['count'].sum()):,}",
        "table versions": ", ".join(
            f"{spec.qualified_name}={lakehouse.version(spec)}"
            for spec in (SILVER_TEXT_FEATURES, SILVER_IMAGE_FEATURES)
        ),
    }
    plots = (
        ("class_distribution", "Class distribution", plot_class_distribution, listings),
        ("text_length", "Title and description length per category", plot_text_lengths, listings),
        (
            "description_presence",
            "Listings with and without a description",
            plot_description_presence,
            listings,
        ),
        ("word_cloud", "Most frequent words", plot_word_cloud, words),
        ("language_mix", "Language mix per category", plot_language_mix, languages),
        ("sharpness_buckets", "Image sharpness buckets", plot_sharpness_buckets, image_stats),
        (
            "sharpness_by_category",
            "Image sharpness per category",
            plot_sharpness_by_category,
            image_stats,
        ),
        ("blank_invalid", "Blank and invalid images per category", plot_blank_invalid, image_stats),
    )
    for name, title, plot, data in plots:
        reading = plot(data, figures_dir / f"{name}.png")
        report.figures.append(Figure(name, title, reading))
    duplicates_table = (
        duplicates.assign(
            categories=duplicates["categories"].map(lambda c: "; ".join(c)),
            imageids=duplicates["imageids"].map(lambda ids: ", ".join(str(i) for i in ids)),
        ).drop(columns=["n_categories"])
        if not duplicates.empty
        else duplicates
    )
    report.facts["duplicate groups across categories"] = f"{len(duplicates):,}"
    report.html_path.write_text(
        render_html(report, {"duplicates": duplicates_table, "quarantine": quarantine}),
        encoding="utf-8",
    )
    report.seconds = time.monotonic() - started
    log.info("report written to %s in %.1f s", report.html_path, report.seconds)
    return report
