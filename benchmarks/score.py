"""Scoring throughput, end to end (Delta in, Delta out), against the compute limit.

    .venv/bin/python benchmarks/score.py --listings 20000            # TF-IDF text-only scoring
    .venv/bin/python benchmarks/score.py --listings 3000 --images    # fused: the conf's members
    .venv/bin/python benchmarks/score.py --listings 20000 --set scoring.tfidf_engine=spark
    .venv/bin/python benchmarks/score.py --listings 1000000 --train-listings 50000 --runs 1 \
        --memory                                                # 1M listings, 4 GB driver

Builds a lakehouse from a generated sample (ingest, features), trains small models on it
(TF-IDF alone, or with --images the members of conf/local.yaml) and their fusion, then:
  - times ``run_score --full`` ``--runs`` times (Spark: pending listings -> UDF -> MERGE into
    gold.predictions): listings/s end to end, and per step. The first run pays the start-up
    costs (JVM JIT, MLflow import, Python workers, reading the Spark ML pipeline); the last run
    is the steady state, and ``chunk_listings_per_s`` (listings / the chunks' seconds) the
    rate at which a longer run grows;
  - with --images, times the same models on the same batches in one plain Python process with
    one thread (no Spark), as each Spark task runs them: that rate x the cores is the compute
    limit, and Spark's share of it the figure to watch (torch and ONNX Runtime on two threads
    of a busy machine wait on each other: a two-thread process is no limit); each member's
    share of that process's time is printed;
  - with --images, times the naive way on a subset: models reloaded for every batch;
  - with --images, every Spark run and the plain process twice, with the scoring cascade
    (``scoring.cascade: true``, the default: cheap members first, a listing leaving once they are
    confident) and without it (the full fusion), alternating, on the same lakehouse; the share
    of listings each member scored (``gold.predictions.members_scored`` after a cascade run);
    with ``--cv-npz FILE`` (the ``out_of_fold.npz`` ``evaluate --cv`` writes: the real sample's
    members' out-of-fold probabilities) the K-fold weighted F1 of the cascade beside the full
    fusion's, both fit per fold on the other folds as in ``evaluate --cv`` (issue 33: within
    0.005).
The figures come last, as one JSON line, and go to ``benchmarks/results/score.json``
(``score-images.json`` with --images) with the commit and the load average. ``--work DIR``
keeps the lakehouse; ``--reuse`` then
scores it again without rebuilding (e.g. to compare ``--set`` overrides on the same data).
``--train-listings M`` trains on the first M generated listings, then ingests and features all
``--listings`` (the models of a small catalog scoring a large one; training on a million
listings is not what this measures). ``--memory`` samples the resident memory of this process
and its children (the driver JVM, the Python workers) every second: peaks in the JSON line.
They are high-water marks since each process started, so a run that also builds the lakehouse
reports the build's peaks too: build once, then measure with ``--reuse``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from catalog_classifier.config import load_config  # noqa: E402
from catalog_classifier.logs import setup_logging  # noqa: E402
from catalog_classifier.sample.generator import generate_sample  # noqa: E402
from catalog_classifier.stages.features import run_features  # noqa: E402
from catalog_classifier.stages.ingest import run_ingest  # noqa: E402
from catalog_classifier.stages.score import (  # noqa: E402
    FusedScorer,
    load_scoring_models,
    run_score,
    scoring_inputs,
)
from catalog_classifier.stages.train import run_train  # noqa: E402
from catalog_classifier.storage.lakehouse import Lakehouse  # noqa: E402
from catalog_classifier.storage.registry import Registry  # noqa: E402
from catalog_classifier.storage.spark import build_spark  # noqa: E402
from record import write_results  # noqa: E402  (this folder: sys.path[0])

RESULTS = REPO / "benchmarks" / "results"
# Issue 15: fused scoring with the default members on 2 CPU cores, end to end.
IMAGE_TARGETS = {"spark_listings_per_s": 100.0}
# Issue 33: the cascade's CV weighted F1 within 0.005 of the full fusion's.
CASCADE_F1_TARGETS = {"cv_cascade_minus_full_weighted_f1": -0.005}

SMALL = [
    "train.tfidf.max_iter=30",
    "train.text.mode=frozen",
    "train.text.epochs=5",
    "train.image.mode=frozen",
    "train.image.epochs=5",
    "train.image.augment_copies=0",
    "train.image.minority_extra_copies=0",
]


class PeakMemory:
    """Peak resident memory (VmHWM) of this process and its descendants, sampled from /proc
    (Linux) in a thread: per role (driver Python, driver JVM, each Python worker) and the
    largest sum over the tree at one sample."""

    def __init__(self, interval: float = 1.0) -> None:
        import threading

        self.interval, self.peaks, self.tree_peak = interval, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _children(pid: int) -> list[int]:
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return found

    def _run(self) -> None:
        while True:
            todo, total = [os.getpid()], 0
            while todo:
                pid = todo.pop()
                todo += self._children(pid)
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                fields = {
                    line.split(":")[0]: int(line.split()[1])
                    for line in status.splitlines()
                    if line.startswith(("VmHWM", "VmRSS"))
                }
                if not fields:
                    continue
                total += fields["VmRSS"]
                role = (
                    "driver_python"
                    if pid == os.getpid()
                    else "driver_jvm"
                    if "java" in cmd.split(" ")[0]
                    else "python_worker_max"
                    if "pyspark" in cmd
                    else "other_max"
                )
                self.peaks[role] = max(self.peaks.get(role, 0), fields["VmHWM"])
            self.tree_peak = max(self.tree_peak, total)
            if self._stop.wait(self.interval):
                return

    def figures(self) -> dict[str, float]:
        mb = {role: round(kb / 1024, 1) for role, kb in sorted(self.peaks.items())}
        return {f"{role}_peak_mb": value for role, value in mb.items()} | {
            "tree_rss_peak_mb": round(self.tree_peak / 1024, 1)
        }


class TimedPredictor:
    """A member's batch predictor that adds up the seconds it spends (its share of the time)."""

    def __init__(self, predictor, seconds: dict[str, float], name: str) -> None:
        self.predictor, self.seconds, self.name = predictor, seconds, name
        seconds.setdefault(name, 0.0)

    def predict(self, batch, n_classes: int):
        started = time.monotonic()
        try:
            return self.predictor.predict(batch, n_classes)
        finally:
            self.seconds[self.name] += time.monotonic() - started


def plain_python(
    models,
    config,
    batches,
    reload_each: bool = False,
    member_seconds: dict | None = None,
    cascade: bool = False,
) -> float:
    """Listings/s of the fused models on ``batches`` in this process on one thread (as one
    Spark task); ``member_seconds`` receives each member's seconds."""
    import torch

    from catalog_classifier.models import image_encoder as image_model
    from catalog_classifier.models import text_encoder as text_model
    from catalog_classifier.models.members import image as image_member
    from catalog_classifier.models.members import text as text_member
    from catalog_classifier.stages import score as scoring

    torch.set_num_threads(1)
    fitted = models.fitted()
    predictors = {name: m.batch_predictor(config, 1) for name, m in fitted.items()}
    if member_seconds is not None:
        predictors = {n: TimedPredictor(p, member_seconds, n) for n, p in predictors.items()}
    scorer = FusedScorer(
        models,
        "{}",
        time.time(),  # type: ignore[arg-type]
        predictors,  # type: ignore[arg-type]
        cascade=cascade,
    )
    started, rows = time.monotonic(), 0
    for batch in batches:
        if reload_each:
            text_model.get_encoder.cache_clear()
            image_model.get_backbone.cache_clear()
            image_model.get_features.cache_clear()
            text_member._predictor.cache_clear()
            image_member._predictor.cache_clear()
            scoring._fusion_model.cache_clear()
            scoring._cascade.cache_clear()
        scorer.score_batch(batch, scoring._fusion_model(models.fusion_folder))
        rows += len(batch)
    return rows / (time.monotonic() - started)


def cascade_cv(config, npz: Path) -> dict:
    """The cascade's K-fold weighted F1 beside the full fusion's on ``evaluate --cv``'s
    out-of-fold member probabilities: each fold's fusion and cascade fit on the other folds."""
    import numpy as np

    from catalog_classifier.models import cascade, fusion
    from catalog_classifier.models.members import get_member, modalities

    with np.load(npz, allow_pickle=False) as data:
        members = [k.removeprefix("probs_") for k in data.files if k.startswith("probs_")]
        probs = {m: data[f"probs_{m}"] for m in members}
        available = {m: data[f"available_{m}"].astype(bool) for m in members}
        labels, folds = data["label"].astype(int), data["fold"].astype(int)
    cfg = config.train.fusion
    kinds = modalities()

    def fit_full(train):
        return fusion.fit_fusion_from_config(
            {m: p[train] for m, p in probs.items()},
            {m: a[train] for m, a in available.items()},
            labels[train],
            probs[members[0]].shape[1],
            kinds,
            cfg,
            config.train.seed,
        )

    started = time.monotonic()
    cv = cascade.cross_validate(
        probs,
        available,
        labels,
        folds,
        fit_full,
        kinds,
        {m: get_member(m).scoring_cost for m in members},
        cfg.cascade_max_f1_drop,
        inner_folds=cfg.cv_folds,
        seed=config.train.seed,
        settings=fusion.fusion_settings(cfg),
    )
    return {
        "cv_listings": int(len(labels)),
        "cv_folds": int(len(set(folds.tolist()))),
        "cv_npz": str(npz),
        "cv_full_weighted_f1": round(cv["full_weighted_f1"], 4),
        "cv_cascade_weighted_f1": round(cv["cascade_weighted_f1"], 4),
        "cv_cascade_minus_full_weighted_f1": round(
            cv["cascade_weighted_f1"] - cv["full_weighted_f1"], 4
        ),
        "cv_full_fold_weighted_f1": cv["full_fold_weighted_f1"],
        "cv_cascade_fold_weighted_f1": cv["cascade_fold_weighted_f1"],
        "cv_member_scored_share": cv["member_scored_share"],
        "cv_thresholds": cv["thresholds"],
        "cv_max_f1_drop_on_valid": cfg.cascade_max_f1_drop,
        "cv_seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=20000)
    parser.add_argument("--images", action="store_true", help="fused scoring with images")
    parser.add_argument("--work", default=None, help="working folder (default: a temp folder)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score the lakehouse and models a previous run built in --work (same --listings "
        "and --images), skipping generation, ingest, features and training",
    )
    parser.add_argument("--encoder", default=None, help="train.text.encoder (default: conf)")
    parser.add_argument("--runs", type=int, default=2, help="scoring runs (the last: steady)")
    parser.add_argument(
        "--train-listings", type=int, default=None, help="train on the first M listings only"
    )
    parser.add_argument("--memory", action="store_true", help="peak resident memory, per role")
    parser.add_argument(
        "--cv-npz",
        default=None,
        help="with --images: out_of_fold.npz of evaluate --cv (the real sample's): the CV "
        "weighted F1 of the scoring cascade beside the full fusion's",
    )
    parser.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    parser.add_argument(
        "--results",
        default=None,
        help="JSON file for the figures (default: benchmarks/results/score-images.json with "
        "--images, score.json without; '' for none)",
    )
    args = parser.parse_args()
    setup_logging("WARNING")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-score-"))
    overrides = [*SMALL, "spark.conf.spark.sql.shuffle.partitions=4", *args.set]
    if args.encoder:
        overrides.append(f"train.text.encoder={args.encoder}")
    config = load_config(REPO / "conf" / "local.yaml", overrides)
    n_images = args.listings if args.images else 0
    built = work / f"built-{args.listings}-{'images' if args.images else 'text'}"
    if args.reuse and not built.exists():
        parser.error(f"--reuse: no lakehouse built by a run with these arguments in {work}")
    spark = build_spark(config, "bench-score")
    lakehouse = Lakehouse(spark, str(work / "lakehouse"))
    train_seconds = None
    if not args.reuse:
        trained_on = min(args.train_listings or args.listings, args.listings)

        def build(listings: int) -> None:
            # The same seed: a larger sample starts with the smaller one's listings.
            sample = generate_sample(
                work / f"sample-{listings}",
                n_listings=listings,
                n_images=min(n_images, listings),
                seed=11,
                image_size=160,
                priors=config.category_priors,
                write_folder=False,
            )
            images = [str(sample.images_zip)] if sample.images_zip and n_images else []
            run_ingest(
                spark,
                lakehouse,
                config,
                [str(sample.listings_csv)],
                [str(sample.labels_csv)],
                images,
            )
            run_features(lakehouse, config)

        build(trained_on)
        # --images: the conf's members (local.yaml: TF-IDF, e5, Lite0, USE and the fusion)
        models = list(config.train.models) if args.images else ["tfidf", "fusion"]
        started = time.monotonic()
        run_train(lakehouse, config, models)
        train_seconds = round(time.monotonic() - started, 1)
        if trained_on < args.listings:
            build(args.listings)
        built.touch()

    runs: list[dict] = []
    runs_full: list[dict] = []
    # --images: the full fusion (scoring.cascade false) then the cascade, alternating on the
    # same lakehouse, the cascade last (its members_scored are then the table's).
    config_full = load_config(REPO / "conf" / "local.yaml", [*overrides, "scoring.cascade=false"])
    memory = PeakMemory() if args.memory else None

    def timed(run_config) -> dict:
        summary = run_score(lakehouse, run_config, full=True)
        chunk_seconds = summary.steps.get("chunks", 0.0)
        return {
            "seconds": round(summary.seconds, 2),
            "listings_per_s": round(summary.listings_per_s, 1),
            "chunk_listings_per_s": round(summary.scored / chunk_seconds, 1)
            if chunk_seconds
            else None,
            "steps": summary.steps,
            "summary": summary,
        }

    with memory or contextlib.nullcontext():
        for _ in range(max(1, args.runs)):
            if args.images:
                runs_full.append(timed(config_full))
            runs.append(timed(config))
    summary = runs[-1].pop("summary")
    for run in [*runs, *runs_full]:
        run.pop("summary", None)
    figures = {
        "listings": args.listings,
        "train_listings": args.train_listings,
        "driver_memory": config.spark.conf.get("spark.driver.memory"),
        "images": bool(args.images),
        "cores": os.cpu_count(),
        # the machine's 1-minute load when the figures were taken (shared machines are noisy)
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "overrides": args.set,
        "train_seconds": train_seconds,
        "scored": summary.scored,
        "first_run": runs[0],
        "steady_run": runs[-1],
        # end to end, the last (warm) run
        "spark_seconds": runs[-1]["seconds"],
        "spark_listings_per_s": runs[-1]["listings_per_s"],
    }
    if memory is not None:
        figures["memory"] = memory.figures()
    if args.images:
        from pyspark.sql import functions as F

        from catalog_classifier.storage.tables import GOLD_PREDICTIONS

        figures["spark_listings_per_s_full_fusion"] = runs_full[-1]["listings_per_s"]
        figures["steady_run_full_fusion"] = runs_full[-1]
        figures["cascade_speedup_spark"] = round(
            runs[-1]["listings_per_s"] / runs_full[-1]["listings_per_s"], 2
        )
        scored_by = (
            lakehouse.read(GOLD_PREDICTIONS)
            .filter(F.col("model_version") == summary.model_version)
            .select(F.explode(F.split("members_scored", "[+]")).alias("member"))
            .groupBy("member")
            .count()
            .collect()
        )
        figures["member_scored_share"] = {
            r["member"]: round(r["count"] / summary.scored, 3)
            for r in sorted(scored_by, key=lambda r: r["member"])
        }
        registry = Registry(config, lakehouse.root)
        scoring_models = load_scoring_models(registry, config)
        inputs = scoring_inputs(lakehouse)
        # The same inputs the Spark UDF gets (a member may add columns first: the TF-IDF
        # member's Spark ML engine adds its probabilities).
        for member in scoring_models.fitted().values():
            inputs = member.prepare_scoring(inputs, config)
        frame = inputs.toPandas()
        size = config.scoring.arrow_batch_rows
        batches = [frame.iloc[i : i + size] for i in range(0, len(frame), size)]
        member_seconds: dict[str, float] = {}
        full_seconds: dict[str, float] = {}
        started = time.monotonic()
        one_thread_full = plain_python(
            scoring_models, config, batches, member_seconds=full_seconds, cascade=False
        )
        full_limit_seconds = time.monotonic() - started
        started = time.monotonic()
        one_thread = plain_python(
            scoring_models, config, batches, member_seconds=member_seconds, cascade=True
        )
        limit_seconds = time.monotonic() - started
        limit = one_thread * (os.cpu_count() or 1)
        naive_batches = [frame.iloc[i : i + 32] for i in range(0, min(len(frame), 256), 32)]
        naive = plain_python(scoring_models, config, naive_batches, reload_each=True)
        scoring_models.remove_downloads()
        figures.update(
            {
                "plain_python_one_thread_listings_per_s": round(one_thread, 1),
                "compute_limit_listings_per_s": round(limit, 1),
                "spark_share_of_compute_limit": round(summary.listings_per_s / limit, 3),
                # the chunks alone (no fixed costs: models, pending keys, summary): the share
                # a longer run tends to
                "spark_chunk_share_of_compute_limit": round(
                    runs[-1]["chunk_listings_per_s"] / limit, 3
                )
                if runs[-1]["chunk_listings_per_s"]
                else None,
                "naive_reload_per_batch_listings_per_s": round(naive, 1),
                # the full fusion (scoring.cascade false) on the same batches: its limit
                "plain_python_one_thread_listings_per_s_full_fusion": round(one_thread_full, 1),
                "compute_limit_listings_per_s_full_fusion": round(
                    one_thread_full * (os.cpu_count() or 1), 1
                ),
                "cascade_speedup_plain_python": round(one_thread / one_thread_full, 2),
                "member_share_of_time_full_fusion": {
                    name: round(seconds / full_limit_seconds, 3)
                    for name, seconds in sorted(full_seconds.items())
                },
                # each member's share of the plain process's time (the rest: fusion, batches)
                "member_share_of_time": {
                    name: round(seconds / limit_seconds, 3)
                    for name, seconds in sorted(member_seconds.items())
                },
                "image_cpu_runtime": config.train.image.cpu_runtime,
                "quantization": {
                    "text": config.train.text.quantization,
                    "image": config.train.image.quantization,
                },
            }
        )
    targets = dict(IMAGE_TARGETS) if args.images else {}
    if args.images and args.cv_npz:
        figures.update(cascade_cv(config, Path(args.cv_npz)))
        targets.update(CASCADE_F1_TARGETS)
    figures["targets_met"] = {key: figures[key] >= target for key, target in targets.items()}
    results = args.results
    if results is None:
        results = str(RESULTS / ("score-images.json" if args.images else "score.json"))
    if results:
        write_results(results, figures, targets)
    print(json.dumps(figures))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
