#!/usr/bin/env bash
# Run a job of jobs/ with spark-submit: ./spark-submit.sh JOB [--conf conf/FILE.yaml] [flags]
#
# Locally this uses the venv's spark-submit and master local[*]. On a cluster, spark-submit's
# own options pass through (--master yarn --deploy-mode cluster --num-executors 8 ...), and
# `--conf key=value` goes to Spark while `--conf FILE.yaml` selects the project's config. The
# library travels as a zip with --py-files and the conf files with --files, so the same command
# works on YARN, Kubernetes and standalone clusters (executors need the Python dependencies:
# install them on the nodes or ship a packed venv with --archives).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  echo "usage: $0 JOB [--conf conf/FILE.yaml] [spark-submit options] [job flags]" >&2
  echo "jobs: $(cd "$ROOT/jobs" && ls ./*.py | sed 's|./||; s|\.py$||' | tr '\n' ' ')" >&2
  exit 2
}

[ $# -ge 1 ] || usage
JOB="$1"; shift
case "$JOB" in -h|--help) usage ;; esac
JOB_FILE="$ROOT/jobs/$JOB.py"
[ -f "$JOB_FILE" ] || { echo "no such job: $JOB" >&2; usage; }

SUBMIT_ARGS=()
JOB_ARGS=()
CONF_FILE=""
PY_FILES=""
HAS_MASTER=0
HAS_DRIVER_MEMORY=0
HAS_JAVA_OPTIONS=0
HAS_CATALOG=0
USER_JARS=""
EXTENSIONS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --conf|-c)
      [ $# -ge 2 ] || usage
      case "$2" in
        *.yaml|*.yml) CONF_FILE="$2" ;;
        spark.driver.memory=*) HAS_DRIVER_MEMORY=1; SUBMIT_ARGS+=(--conf "$2") ;;
        spark.sql.extensions=*) EXTENSIONS="${2#*=}" ;;
        spark.sql.catalog.spark_catalog=*) HAS_CATALOG=1; SUBMIT_ARGS+=(--conf "$2") ;;
        *) SUBMIT_ARGS+=(--conf "$2") ;;
      esac
      shift 2 ;;
    --master)
      HAS_MASTER=1; SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    --driver-memory)
      HAS_DRIVER_MEMORY=1; SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    --py-files)
      PY_FILES="$2"; shift 2 ;;
    --driver-java-options)
      HAS_JAVA_OPTIONS=1; SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    --jars)
      [ $# -ge 2 ] || usage
      USER_JARS="$2"; shift 2 ;;
    --deploy-mode|--name|--packages|--exclude-packages|--repositories|--files|--archives|\
    --properties-file|--driver-library-path|--driver-class-path|\
    --executor-memory|--proxy-user|--driver-cores|--total-executor-cores|--executor-cores|\
    --num-executors|--queue|--principal|--keytab)
      [ $# -ge 2 ] || usage
      SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    --supervise|--verbose)
      SUBMIT_ARGS+=("$1"); shift ;;
    *)
      JOB_ARGS+=("$1"); shift ;;
  esac
done

# The project's venv: $VENV (as the Makefile takes it), else ./.venv.
VENV_DIR="${VENV:-.venv}"
case "$VENV_DIR" in /*) ;; *) VENV_DIR="$ROOT/$VENV_DIR" ;; esac
SPARK_SUBMIT="${SPARK_SUBMIT:-}"
if [ -z "$SPARK_SUBMIT" ]; then
  if [ -x "$VENV_DIR/bin/spark-submit" ]; then
    SPARK_SUBMIT="$VENV_DIR/bin/spark-submit"
    export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$VENV_DIR/bin/python}"
    export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$VENV_DIR/bin/python}"
  elif command -v spark-submit >/dev/null; then
    SPARK_SUBMIT="$(command -v spark-submit)"
  else
    echo "no spark-submit: run 'make install' first, or set SPARK_SUBMIT" >&2
    exit 1
  fi
fi

# The library as a zip, rebuilt each time so it always matches the working tree.
mkdir -p "$ROOT/dist"
LIB_ZIP="$ROOT/dist/catalog_classifier.zip"
rm -f "$LIB_ZIP"
(cd "$ROOT/lib" && "${PYTHON:-python3}" - "$LIB_ZIP" <<'PY'
import sys, zipfile, pathlib
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as zf:
    # The modules and their package data (report templates, the sample's vocabulary).
    for path in sorted(pathlib.Path("catalog_classifier").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            zf.write(path)
PY
)
PY_FILES="${PY_FILES:+$PY_FILES,}$LIB_ZIP"

# The project's jars (pom.xml), fetched into the venv by `make install`: shipped with --jars, so
# the driver and the executors load the Delta connector without reaching the network.
# $CATALOG_CLASSIFIER_JARS names another folder; set empty, none is added (as storage/spark.py).
JARS_DIR="${CATALOG_CLASSIFIER_JARS-$VENV_DIR/jars}"
JARS="$USER_JARS"
if [ -n "$JARS_DIR" ]; then
  [ -d "$JARS_DIR" ] || [ -z "${CATALOG_CLASSIFIER_JARS:-}" ] \
    || { echo "CATALOG_CLASSIFIER_JARS=$JARS_DIR: no such folder" >&2; exit 1; }
  for jar in "$JARS_DIR"/*.jar; do
    [ -f "$jar" ] || continue
    JARS="${JARS:+$JARS,}$jar"
    case "$(basename "$jar")" in delta-spark_*) HAS_DELTA=1 ;; esac
  done
fi
[ -z "$JARS" ] || SUBMIT_ARGS+=(--jars "$JARS")
if [ "${HAS_DELTA:-0}" = 1 ]; then
  # The connector's MERGE and time travel need its SQL extension and catalog.
  case ",$EXTENSIONS," in *,io.delta.sql.DeltaSparkSessionExtension,*) ;;
    *) EXTENSIONS="${EXTENSIONS:+$EXTENSIONS,}io.delta.sql.DeltaSparkSessionExtension" ;; esac
  [ "$HAS_CATALOG" = 1 ] || SUBMIT_ARGS+=(--conf \
    spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog)
fi
[ -z "$EXTENSIONS" ] || SUBMIT_ARGS+=(--conf "spark.sql.extensions=$EXTENSIONS")

CONF_FILE="${CONF_FILE:-$ROOT/conf/local.yaml}"
# One clear line (not an error from cd or ls below) when the conf file is not there.
[ -f "$CONF_FILE" ] || { echo "conf file not found: $CONF_FILE (see $ROOT/conf/)" >&2; exit 2; }
CONF_DIR="$(cd "$(dirname "$CONF_FILE")" && pwd)"
CONF_FILES="$(ls "$CONF_DIR"/*.yaml | paste -sd, -)"

if [ "$HAS_MASTER" = 0 ]; then
  SUBMIT_ARGS+=(--master "local[*]")
  [ "$HAS_DRIVER_MEMORY" = 1 ] || SUBMIT_ARGS+=(--driver-memory "${DRIVER_MEMORY:-4g}")
  # Local runs are short: C1 JIT only, no re-verification of the jars, the serial collector
  # (see conf/local.yaml).
  [ "$HAS_JAVA_OPTIONS" = 1 ] || SUBMIT_ARGS+=(--driver-java-options \
    "${DRIVER_JAVA_OPTIONS:--XX:+UnlockDiagnosticVMOptions -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m -XX:-BytecodeVerificationRemote -XX:+UseSerialGC}")
fi

exec "$SPARK_SUBMIT" \
  "${SUBMIT_ARGS[@]}" \
  --py-files "$PY_FILES" \
  --files "$CONF_FILES" \
  "$JOB_FILE" --config "$CONF_FILE" "${JOB_ARGS[@]}"
