"""The TF-IDF member's two word tokenizers side by side (``train.tfidf.word_tokenizer``).

    .venv/bin/python benchmarks/word_tokenizers.py --listings 50000 \
        --real ../shared/data/rakuten/X_train.csv

Spark ML's RegexTokenizer + StopWordsRemover (``spark_ml``) against Spark NLP's DocumentAssembler
-> Tokenizer -> Normalizer -> StopWordsCleaner -> Finisher (``spark_nlp``), each fitted then run
over the same cleaned lowercase texts (generated listings, and the real sample with ``--real``)
in one local Spark session: listings/s (the best of ``--repeat`` passes, each a full pass that
counts every word), the JVM's peak resident memory during the passes, and the share of listings
whose words the two give alike. The compute limit of the same work: the same words split by
Python's ``re`` in one process, times the cores. Member F1 (5-fold CV) is measured by
``evaluate --cv`` (docs/results.md). Needs the default (Spark 3.5) line: Spark NLP.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from pyspark.ml import Pipeline  # noqa: E402
from pyspark.ml.feature import StopWordsRemover  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from catalog_classifier.config import TfidfConfig, load_config  # noqa: E402
from catalog_classifier.features.text import clean_text, join_text  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.models.tfidf import build_pipeline  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402
from record import load_average, write_results  # noqa: E402  (this folder: sys.path[0])

TOKENIZERS = ("spark_ml", "spark_nlp")
# Python's equivalent of the Spark ML tokenizer's gaps pattern (letters and digits make words).
PYTHON_GAPS = re.compile(r"[\W_]+")


def lower_texts(x_csv: Path) -> list[str]:
    """designation + description of a listings CSV, cleaned and lowercased as the features job
    writes ``text_lower``."""
    x = pd.read_csv(x_csv, index_col=0, dtype=str, keep_default_na=False)
    return [
        join_text(clean_text(d), clean_text(e)).lower()
        for d, e in zip(x["designation"], x["description"], strict=True)
    ]


def word_stages(tokenizer: str) -> list:
    stages = build_pipeline(TfidfConfig(word_tokenizer=tokenizer), 27).getStages()  # type: ignore[arg-type]
    names = [
        s.getOutputCols()[0] if type(s).__name__ == "Finisher" else s.getOrDefault("outputCol")
        for s in stages[:-1]  # the last, the logistic regression, has no output column
    ]
    return stages[: names.index("tok_words_1") + 1]


class PeakRss:
    """The peak resident memory of this process's JVM children, sampled every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            rss = 0
            for child in me.children(recursive=True):
                try:
                    if "java" in child.name():
                        rss += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_side_by_side(spark, texts: list[str], repeat: int) -> dict:
    frame = spark.createDataFrame(
        [(i, t) for i, t in enumerate(texts)], "id long, text_lower string"
    )
    frame = frame.repartition(spark.sparkContext.defaultParallelism).cache()
    frame.count()
    out: dict = {"listings": len(texts)}
    words: dict[str, DataFrame] = {}
    for tokenizer in TOKENIZERS:
        model = Pipeline(stages=word_stages(tokenizer)).fit(frame)
        tokens = model.transform(frame).select("id", "tok_words_1")
        seconds = []
        with PeakRss() as memory:
            for _ in range(repeat):
                started = time.perf_counter()
                tokens.agg(F.sum(F.size("tok_words_1"))).first()
                seconds.append(time.perf_counter() - started)
        out[tokenizer] = {
            "per_s": round(len(texts) / min(seconds), 1),
            "seconds": [round(s, 2) for s in seconds],
            "jvm_peak_rss_mb": round(memory.peak / 2**20),
        }
        words[tokenizer] = tokens.withColumnRenamed("tok_words_1", tokenizer)
    joined = words["spark_ml"].join(words["spark_nlp"], "id")
    out["same_words_share"] = round(
        joined.filter(F.col("spark_ml") == F.col("spark_nlp")).count() / len(texts), 4
    )
    stop = {
        w
        for lang in ("french", "german", "english")
        for w in StopWordsRemover.loadDefaultStopWords(lang)
    }
    started = time.perf_counter()
    for text in texts:
        [w for w in PYTHON_GAPS.split(text) if w and w not in stop]
    single = len(texts) / (time.perf_counter() - started)
    cores = os.cpu_count() or 1
    out["python_single_process_per_s"] = round(single, 1)
    out["limit_per_s"] = round(single * cores, 1)
    for tokenizer in TOKENIZERS:
        out[tokenizer]["ratio_to_limit"] = round(out[tokenizer]["per_s"] / out["limit_per_s"], 3)
    frame.unpersist()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=50000, help="generated listings")
    parser.add_argument("--real", default=None, help="a real listings CSV (X_train.csv) too")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--results", default=str(REPO / "benchmarks" / "results" / "word-tokenizers.json")
    )
    args = parser.parse_args()
    setup_logging("WARNING")
    config = load_config(REPO / "conf" / "local.yaml")
    load_start = load_average()
    spark = build_spark(config, "benchmark tokenizers")
    figures: dict = {"benchmark": "tokenizers", "cores": os.cpu_count() or 1}
    with tempfile.TemporaryDirectory() as tmp:
        sample = generate_sample(
            Path(tmp) / "sample",
            n_listings=args.listings,
            n_images=0,
            seed=5,
            priors=config.category_priors,
            write_folder=False,
            write_zip=False,
        )
        figures["generated"] = run_side_by_side(
            spark, lower_texts(sample.listings_csv), args.repeat
        )
    if args.real:
        figures["real"] = run_side_by_side(spark, lower_texts(Path(args.real)), args.repeat)
    figures["load_average_start"], figures["load_average_end"] = load_start, load_average()
    write_results(args.results, figures, targets={})
    for name in ("generated", "real"):
        if name in figures:
            r = figures[name]
            print(
                f"{name}: {r['listings']} listings; spark_ml {r['spark_ml']['per_s']}/s, spark_nlp "
                f"{r['spark_nlp']['per_s']}/s, limit {r['limit_per_s']}/s; same words "
                f"{r['same_words_share']:.1%}"
            )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
