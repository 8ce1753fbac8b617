"""onnx_backbone: frozen backbones in ONNX Runtime give torch's features, exported once.

Images are drawn with Pillow (tests/test_image_backbone.py's pictures); the real photos' speed
and parity are measured by benchmarks/score.py --images.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_image_backbone import drawn_image, encoded

from catalog_classifier.models import image_backbone as ib
from catalog_classifier.models import onnx_backbone as ob

LITES = "efficientnet_lite0+efficientnet_lite1"


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [encoded(drawn_image(i % 3, (300 + 30 * i, 280))) for i in range(5)]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    """One export folder for the tests that do not test the export itself."""
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def combined() -> tuple[torch.nn.Module, ib.BackboneSpec]:
    torch.set_num_threads(2)
    return ib.load_backbone(LITES)


def test_onnx_features_equal_torch_features(combined, jpegs, exports):
    backbone, spec = combined
    runner = ob.cpu_features(backbone, "onnxruntime", "cpu", folder=exports)
    assert isinstance(runner, ob.OnnxFeatures)
    # one file a member, named by the member and its weights' fingerprint
    assert sorted(p.name.split("-")[0] for p in exports.glob("*.onnx")) == [
        "efficientnet_lite0",
        "efficientnet_lite1",
    ]
    expected = ib.extract_features(backbone, spec, jpegs, batch_size=2)
    got = ib.extract_features(runner, spec, jpegs, batch_size=2, flip_average=True)
    assert got.shape == (len(jpegs), 2 * 1280)
    flipped = ib.extract_features(backbone, spec, jpegs, batch_size=2, flip_average=True)
    np.testing.assert_allclose(got, flipped, atol=1e-4)
    assert not np.allclose(got, expected, atol=1e-4)  # the flip average is not skipped
    np.testing.assert_allclose(
        ib.extract_features(runner, spec, jpegs, batch_size=3), expected, atol=1e-4
    )
    # The torch module is untouched by the export (its layout, its mode).
    assert not backbone.training
    np.testing.assert_array_equal(
        ib.extract_features(backbone, spec, jpegs, batch_size=2), expected
    )


def test_bad_image_gives_nan_row_in_onnx_too(combined, jpegs, exports):
    backbone, spec = combined
    runner = ob.cpu_features(backbone, "onnxruntime", "cpu", folder=exports)
    failures: list[int] = []
    features = ib.extract_features(
        runner, spec, [jpegs[0], b"not an image", jpegs[1]], failures=failures
    )
    assert failures == [1]
    assert np.isnan(features[1]).all() and not np.isnan(features[[0, 2]]).any()


def test_export_is_reused_and_keyed_by_the_weights(tmp_path):
    backbone, _ = ib.load_backbone("efficientnet_lite0")
    first = ob.export_leaf(backbone, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert ob.export_leaf(backbone, tmp_path) == first
    assert first.stat().st_mtime_ns == stamp  # not exported again
    assert not list(tmp_path.glob("*.partial"))
    with torch.no_grad():  # other weights (a fine-tuned copy): another file
        next(backbone.parameters()).add_(0.01)
    second = ob.export_leaf(backbone, tmp_path)
    assert second != first and second.exists()


def test_runtime_choice(combined, tmp_path, monkeypatch):
    backbone, _ = combined
    assert ob.cpu_features(backbone, "torch", "cpu", folder=tmp_path) is backbone
    assert ob.cpu_features(backbone, "onnxruntime", "cuda", folder=tmp_path) is backbone
    assert not list(tmp_path.glob("*.onnx"))
    monkeypatch.setattr(ob, "onnxruntime_available", lambda: False)
    assert ob.cpu_features(backbone, "auto", "cpu", folder=tmp_path) is backbone
    with pytest.raises(RuntimeError, match="onnxruntime or onnx is not installed"):
        ob.cpu_features(backbone, "onnxruntime", "cpu", folder=tmp_path)


def test_an_export_that_differs_from_torch_is_not_used(combined, exports, monkeypatch, caplog):
    backbone, _ = combined
    monkeypatch.setattr(ob, "TOLERANCE", -1.0)  # no difference passes
    with caplog.at_level(logging.WARNING, logger=ob.__name__):
        assert ob.cpu_features(backbone, "auto", "cpu", folder=exports) is backbone
    assert "computing them in torch" in caplog.text
    with pytest.raises(RuntimeError, match="differ from torch's"):
        ob.cpu_features(backbone, "onnxruntime", "cpu", folder=exports)


@pytest.fixture(scope="module")
def lite0() -> tuple[torch.nn.Module, ib.BackboneSpec]:
    return ib.load_backbone("efficientnet_lite0")


def test_int8_features_are_the_float_ones_to_within_int8_rounding(lite0, jpegs, exports):
    backbone, spec = lite0
    runner = ob.cpu_features(backbone, "torch", "cpu", folder=exports, quantization="int8")
    assert isinstance(runner, ob.OnnxFeatures)  # int8 whatever cpu_runtime says
    expected = ib.extract_features(backbone, spec, jpegs, batch_size=2)
    got = ib.extract_features(runner, spec, jpegs, batch_size=2)
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    cosine = (got * expected).sum(1) / norms
    # On real photos: 0.992 on average for Lite0, 0.947 at worst (models/onnx_backbone.py);
    # these flat drawn pictures are further from the calibration set: 0.92-0.99.
    assert cosine.min() > 0.9 and cosine.mean() > 0.95
    assert not np.allclose(got, expected, atol=1e-4)  # int8, not the float graph
    # Static ranges: an image's features do not depend on its batch.
    alone = np.concatenate([ib.extract_features(runner, spec, [j], batch_size=1) for j in jpegs])
    np.testing.assert_array_equal(alone, got)
    # A GPU backbone's int8 features are computed on the CPU too (the model was trained on them).
    assert isinstance(
        ob.cpu_features(backbone, "auto", "cuda", folder=exports, quantization="int8"),
        ob.OnnxFeatures,
    )


def test_the_int8_graph_is_made_once_under_a_lock(lite0, tmp_path, monkeypatch):
    backbone, _ = lite0
    first = ob.quantize_leaf(backbone, tmp_path)
    stamp = first.stat().st_mtime_ns
    monkeypatch.setattr(ob, "_quantize_static", lambda *a: pytest.fail("quantised again"))
    assert ob.quantize_leaf(backbone, tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    # the float export, the int8 graph and their locks; no partial or intermediate file left
    names = [p.name for p in tmp_path.iterdir()]
    assert sorted(n.rsplit(".", 1)[-1] for n in names) == ["lock", "lock", "onnx", "onnx"]
    assert sum(n.endswith("-int8.onnx") for n in names) == 1


def test_int8_calibration_is_fixed_and_its_check_refuses_a_broken_graph(
    lite0, exports, monkeypatch
):
    from catalog_classifier.pictures import calibration_pictures

    first, again = calibration_pictures(3, 64), calibration_pictures(3, 64)
    assert [p.tobytes() for p in first] == [p.tobytes() for p in again]
    assert len({p.tobytes() for p in first}) == 3
    backbone, _ = lite0
    monkeypatch.setattr(ob, "INT8_MIN_COSINE", 1.01)  # nothing passes
    with pytest.raises(RuntimeError, match="int8 features are at cosine"):
        ob.cpu_features(backbone, "auto", "cpu", folder=exports, quantization="int8")
    monkeypatch.setattr(ob, "onnxruntime_available", lambda: False)
    with pytest.raises(RuntimeError, match="quantization is int8, but onnxruntime"):
        ob.cpu_features(backbone, "auto", "cpu", folder=exports, quantization="int8")


def test_int8_features_have_their_own_backbone_id():
    from catalog_classifier.models.image_encoder import backbone_id

    plain = backbone_id("efficientnet_lite0", None)
    assert backbone_id("efficientnet_lite0", None, quantization="int8") == plain + "+int8"
    assert backbone_id("efficientnet_lite0", None, True, "int8") == plain + "+flip+int8"
    with pytest.raises(ValueError, match="none or int8"):
        backbone_id("efficientnet_lite0", None, quantization="fp16")
