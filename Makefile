# Quick start: `make demo` and `make test` on a fresh machine (Python 3.11, Java 17, Maven 3).
PYTHON ?= python3.11
MVN    ?= mvn
# The Spark line (docs/stack.md): spark35 (Spark 3.5 + Delta 3.3 + Spark NLP 5.5, the default) or
# spark4 (Spark 4.0 + Delta 4.0, no Spark NLP), each in its own venv: pyproject.toml's extra and
# pom.xml's profile of that name.
SPARK_LINE ?= spark35
VENV   ?= $(if $(filter spark4,$(SPARK_LINE)),.venv-spark4,.venv)
SPARK4_VENV ?= .venv-spark4
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The JVM jars of pom.xml (the Delta Lake connector), fetched at install time; every Spark session
# the project starts loads them from here (storage/spark.py, spark-submit.sh), never from the network.
JARS       := $(VENV)/jars
JARS_STAMP := $(JARS)/.fetched

.PHONY: install browser demo review notebooks test test-fast test-spark4 lint docs bench clean

install: $(STAMP) $(JARS_STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	@command -v java >/dev/null || { echo "needs Java 17 (java on PATH or JAVA_HOME)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -e '.[dev,$(SPARK_LINE)]'
	# petastorm pins setuptools<70 (torch needs newer): its runtime deps are in pyproject.toml.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile --no-deps petastorm==0.13.1
	touch $(STAMP)

# Fetched into a fresh folder then swapped in, so the folder holds exactly what pom.xml lists
# (a changed pin leaves no old jar behind) and an interrupted fetch leaves no half folder.
$(JARS_STAMP): pom.xml $(STAMP)
	@command -v $(MVN) >/dev/null || { echo "needs Maven 3 (mvn) to fetch the jars of pom.xml"; exit 1; }
	rm -rf $(JARS).new
	$(MVN) -q -B -f pom.xml -P $(SPARK_LINE) dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$(abspath $(JARS)).new"
	rm -rf $(JARS) && mv $(JARS).new $(JARS)
	touch $(JARS_STAMP)

demo: install
	VENV=$(VENV) ./spark-submit.sh pipeline --sample --conf conf/demo.yaml

# The review app on the demo's lakehouse (run `make demo` first): http://127.0.0.1:8501
review: install
	$(BIN)/python jobs/review.py --conf conf/demo.yaml

# The notebooks, in order, as plain Python on the built-in sample (conf/demo.yaml), in one
# interpreter sharing one Spark session (each also runs alone: python notebooks/01_....py).
notebooks: install
	$(BIN)/python -m catalog_classifier.notebook notebooks/0*.py

# Debian's Chromium, for the review app's browser test (tests/test_review.py), installed once
# (as root, or through sudo). Without apt-get the test skips, except under CI=true where it fails.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "no chromium and no way to install it: apt-get install chromium"; exit 0; fi; \
	  command -v apt-get >/dev/null || { echo "no chromium: install Chromium for the browser test"; exit 0; }; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# The static checks run first: seconds, and a lint or type error fails CI before the suite.
# Two pytest-xdist workers (a Spark session each); tests sharing a costly fixture share a worker
# (--dist loadgroup, groups set in tests/conftest.py).
TEST_WORKERS ?= 2
test: lint browser
	VENV=$(VENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The Spark 4.0 line (Databricks 17.3 LTS), kept working: its own venv (.venv-spark4, pyspark 4.0.5
# + Delta 4.0.1, no Spark NLP) runs the tests of the lakehouse, ingest, scoring and the demo's
# pipeline by spark-submit, and a lakehouse it writes is updated by the default line
# (tests/test_spark_lines.py). `.ci/run` runs it after `make test`.
SPARK4_TESTS ?= tests/test_spark.py tests/test_lakehouse.py tests/test_delta_engines.py \
	tests/test_migrations.py tests/test_ingest.py tests/test_scoring.py tests/test_jobs.py \
	tests/test_spark_lines.py
test-spark4:
	$(MAKE) install SPARK_LINE=spark4 VENV=$(SPARK4_VENV)
	VENV=$(SPARK4_VENV) CATALOG_CLASSIFIER_DEFAULT_VENV=$(abspath $(VENV)) \
		$(SPARK4_VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(SPARK4_TESTS)

# The inner loop: the tests that train nothing, convert no encoder, read no real data, start
# no job process and run no whole job on a broken environment (those are marked slow), in under
# five minutes. `make test` stays the whole suite.
test-fast: install
	VENV=$(VENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow"

# ruff, then mypy on lib/ ([tool.mypy] in pyproject.toml); mypy's cache lives in the venv, so
# CI's venv, reused for the same pins, keeps it warm.
lint: install
	$(BIN)/ruff check lib jobs tests benchmarks notebooks
	$(BIN)/mypy --cache-dir $(VENV)/.mypy_cache

# docs/tables.md from the table definitions (a test fails when it is out of date).
docs: install
	$(BIN)/python -m catalog_classifier.storage.table_docs

bench: install
	$(BIN)/python benchmarks/ingest.py --listings 5000
	$(BIN)/python benchmarks/features.py --listings 5000 --images 1000

clean:
	rm -rf lakehouse data/sample dist .pytest_cache
