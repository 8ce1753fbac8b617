"""image_backbone: the pretrained EfficientNet-Lite0 backbone, decoding, transforms, Grad-CAM.

Images are drawn here with Pillow; the real images are never read. The backbone is loaded once.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from catalog_classifier.models import image_backbone as ib

N_CLASSES = 3


def drawn_image(kind: int, size: tuple[int, int] = (300, 260)) -> Image.Image:
    """A simple product-like picture: a coloured shape on a light background."""
    image = Image.new("RGB", size, (245, 245, 240))
    draw = ImageDraw.Draw(image)
    w, h = size
    if kind == 0:
        draw.ellipse((w // 5, h // 5, 4 * w // 5, 4 * h // 5), fill=(220, 30, 30))
    elif kind == 1:
        draw.rectangle((w // 4, h // 6, 3 * w // 4, 5 * h // 6), fill=(30, 60, 200))
    else:
        draw.polygon(
            [(w // 2, h // 8), (w // 8, 7 * h // 8), (7 * w // 8, 7 * h // 8)], (20, 160, 40)
        )
    draw.line((0, h - 10, w, h - 10), fill=(0, 0, 0), width=3)
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lite0() -> tuple[torch.nn.Module, ib.BackboneSpec]:
    torch.set_num_threads(2)
    return ib.load_backbone("efficientnet_lite0")


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [encoded(drawn_image(i % 3, (300 + 20 * i, 260))) for i in range(6)]


def test_spec_and_feature_shape(lite0, jpegs):
    backbone, spec = lite0
    assert (spec.feature_dim, spec.input_size) == (1280, 224)
    assert spec.mean == pytest.approx((127 / 255,) * 3)
    assert spec.std == pytest.approx((128 / 255,) * 3)
    assert not backbone.training
    assert isinstance(backbone.get_submodule(spec.target_layer), torch.nn.Module)
    features = ib.extract_features(backbone, spec, jpegs[:3], batch_size=2)
    assert features.shape == (3, 1280) and features.dtype == np.float32
    assert np.isfinite(features).all() and features.std() > 0


def test_registry_names_and_sizes():
    assert {n: ib.BACKBONES[n].input_size for n in ib.BACKBONES if "lite" in n} == {
        "efficientnet_lite0": 224,
        "efficientnet_lite1": 240,
        "efficientnet_lite2": 260,
    }
    with pytest.raises(ValueError, match="unknown image backbone"):
        ib.backbone_spec("vit_b16")
    with pytest.raises(ValueError, match="unknown image backbone"):
        ib.backbone_spec("torchvision:no_such_net")


def test_features_are_deterministic_in_eval(lite0, jpegs):
    backbone, spec = lite0
    first = ib.extract_features(backbone, spec, jpegs, batch_size=4)
    again = ib.extract_features(backbone, spec, iter(jpegs), batch_size=4)  # a generator too
    np.testing.assert_array_equal(first, again)
    alone = ib.extract_features(backbone, spec, jpegs[:1], batch_size=1)
    np.testing.assert_allclose(alone[0], first[0], rtol=1e-4, atol=1e-4)


def test_channels_last_changes_speed_not_features(lite0, jpegs):
    backbone, spec = lite0
    assert backbone.head_activation is backbone.get_submodule(spec.target_layer)
    plain, _ = ib.load_backbone("efficientnet_lite0", channels_last=False)
    assert plain.state_dict().keys() == backbone.state_dict().keys()
    np.testing.assert_allclose(
        ib.extract_features(plain, spec, jpegs[:2]),
        ib.extract_features(backbone, spec, jpegs[:2]),
        rtol=1e-3,
        atol=1e-4,
    )


def test_flip_average_is_the_mean_of_the_image_and_its_mirror(lite0):
    from PIL import ImageOps

    backbone, spec = lite0
    images = [drawn_image(i, (300 + 40 * i, 260)) for i in range(3)]
    pngs = [encoded(im, "PNG") for im in images]  # lossless: the mirror is exact
    mirrors = [encoded(ImageOps.mirror(im), "PNG") for im in images]
    averaged = ib.extract_features(backbone, spec, pngs, flip_average=True)
    plain = ib.extract_features(backbone, spec, pngs)
    mirrored = ib.extract_features(backbone, spec, mirrors)
    np.testing.assert_allclose(averaged, (plain + mirrored) / 2, rtol=1e-3, atol=2e-3)
    assert np.abs(plain - mirrored).max() > 0.05  # the mirror is not the same input


def test_undecodable_images_get_nan_rows(lite0, jpegs):
    backbone, spec = lite0
    failures: list[int] = []
    rows = [jpegs[0], b"not an image", jpegs[1][: len(jpegs[1]) // 2], jpegs[2]]
    features = ib.extract_features(backbone, spec, rows, batch_size=3, failures=failures)
    assert failures == [1, 2]
    assert np.isnan(features[[1, 2]]).all() and np.isfinite(features[[0, 3]]).all()
    assert ib.extract_features(backbone, spec, []).shape == (0, 1280)


def test_frozen_backbone_training_step_lowers_the_loss(lite0, jpegs):
    backbone, spec = lite0
    torch.manual_seed(0)
    model = ib.ImageClassifier(backbone, N_CLASSES)
    model.freeze_backbone(True)
    transform = ib.eval_transform(spec)
    x = torch.stack([transform(ib.decode_image(j, spec.input_size)) for j in jpegs])
    y = torch.tensor([i % 3 for i in range(len(jpegs))])
    before_weights = {k: v.clone() for k, v in backbone.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable == list(model.head.parameters())
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        loss_before = float(loss_fn(model.eval()(x), y))
    model.train()
    assert not model.backbone.training and model.head.training
    for _ in range(5):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        loss_after = float(loss_fn(model.eval()(x), y))
    assert loss_after < loss_before
    for key, value in backbone.state_dict().items():  # weights and batch-norm statistics
        assert torch.equal(value, before_weights[key]), key
    assert model.features(x[:1]).shape == (1, 1280)
    model.freeze_backbone(False)  # the shared backbone back as it was
    backbone.eval()


def test_unfrozen_model_keeps_batchnorm_statistics_in_training_mode(lite0):
    backbone, _ = lite0
    model = ib.ImageClassifier(backbone, torch.nn.Linear(1280, 2)).train()
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms) and model.head.training
    assert all(p.requires_grad for p in backbone.parameters())
    backbone.eval()


def test_transforms_give_the_input_shape_and_augment(lite0):
    _, spec = lite0
    image = drawn_image(0, (500, 400))
    plain = ib.eval_transform(spec)(image)
    assert plain.shape == (3, 224, 224) and plain.dtype == torch.float32
    assert -1.01 <= float(plain.min()) and float(plain.max()) <= 1.01  # (x - 127) / 128
    train = ib.train_transform(spec)
    torch.manual_seed(1)
    a, b = train(image), train(image)
    assert a.shape == b.shape == (3, 224, 224)
    assert not torch.equal(a, b)
    with pytest.raises(ValueError):
        ib.train_transform(spec, strength=-1)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_the_eval_transform_is_torchvision_s_bit_for_bit(name, jpegs):
    # The scoring path's transform is Pillow + numpy (no torchvision import in the workers);
    # cached embeddings and trained heads assume torchvision's exact pixels.
    from torchvision import transforms

    spec = ib.backbone_spec(name)
    reference = transforms.Compose(
        [
            transforms.Resize((spec.input_size, spec.input_size)),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )
    pictures = [ib.decode_image(j, spec.input_size) for j in jpegs]
    pictures += [drawn_image(k, size) for k in range(3) for size in [(500, 400), (90, 310)]]
    for picture in pictures:
        got, want = ib.eval_transform(spec)(picture), reference(picture)
        assert got.dtype == want.dtype == torch.float32 and got.shape == want.shape
        assert torch.equal(got, want)
    with pytest.raises(ValueError, match="RGB"):
        ib.eval_transform(spec)(drawn_image(0).convert("L"))


def test_grad_cam_and_overlay(lite0):
    backbone, spec = lite0
    torch.manual_seed(0)
    model = ib.ImageClassifier(backbone, N_CLASSES)
    model.freeze_backbone(True)
    original = drawn_image(1, (320, 240))
    x = ib.eval_transform(spec)(original)
    heatmap = ib.grad_cam(model, x)
    assert heatmap.shape == (224, 224)
    assert np.isfinite(heatmap).all() and heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert heatmap.max() > heatmap.min()
    assert all(p.grad is None for p in model.parameters())
    assert ib.grad_cam(model, x.unsqueeze(0), class_index=2).shape == (224, 224)
    with pytest.raises(ValueError, match="out of range"):
        ib.grad_cam(model, x, class_index=N_CLASSES)
    overlay = ib.overlay_heatmap(original, heatmap)
    assert overlay.mode == "RGB" and overlay.size == original.size
    assert overlay.getpixel((0, 0)) != original.getpixel((0, 0))
    model.freeze_backbone(False)
    backbone.eval()


def test_decode_truncated_and_garbage_raise_value_error(jpegs):
    with pytest.raises(ValueError, match="cannot decode"):
        ib.decode_image(jpegs[0][: len(jpegs[0]) // 2], 224)
    for bad in (b"", b"\xff\xd8\xff" + b"\x00" * 100, b"GIF89a-nothing"):
        with pytest.raises(ValueError):
            ib.decode_image(bad, 224)
    with pytest.raises(ValueError, match="over the limit"):
        ib.decode_image(jpegs[0], max_pixels=1000)


def test_decode_cmyk_png_alpha_palette_and_gray():
    cmyk = Image.new("CMYK", (120, 80), (0, 255, 255, 0))  # red in CMYK
    decoded = ib.decode_image(encoded(cmyk, "JPEG", quality=95), 224)
    assert decoded.mode == "RGB" and decoded.size == (120, 80)
    r, g, b = decoded.getpixel((60, 40))
    assert r > 200 and g < 60 and b < 60

    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))  # transparent corners: white
    ImageDraw.Draw(rgba).rectangle((30, 30, 70, 70), fill=(0, 0, 255, 255))
    decoded = ib.decode_image(encoded(rgba, "PNG"), 224)
    assert decoded.mode == "RGB" and decoded.size == (100, 100)
    assert decoded.getpixel((2, 2)) == (255, 255, 255) and decoded.getpixel((50, 50)) == (0, 0, 255)

    la = Image.new("LA", (50, 40), (0, 0))
    assert ib.decode_image(encoded(la, "PNG")).getpixel((1, 1)) == (255, 255, 255)
    palette = drawn_image(2, (64, 64)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert ib.decode_image(encoded(palette, "PNG")).mode == "RGB"
    gray16 = Image.fromarray(np.full((20, 30), 65535, dtype=np.uint16))
    assert ib.decode_image(encoded(gray16, "PNG")).getpixel((0, 0)) == (255, 255, 255)
    gray = ib.decode_image(encoded(Image.new("L", (30, 30), 128)), 224)
    assert gray.mode == "RGB" and abs(gray.getpixel((5, 5))[0] - 128) <= 2


def test_large_jpeg_decodes_reduced_but_not_below_the_size():
    big = encoded(drawn_image(0, (1000, 900)))
    assert ib.decode_image(big).size == (1000, 900)
    reduced = ib.decode_image(big, 224)
    assert min(reduced.size) >= 224 and reduced.size[0] < 1000


def test_torchvision_backbone_needs_a_local_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weights can be downloaded"):
        ib.load_backbone("torchvision:mobilenet_v3_small")
    with pytest.raises(FileNotFoundError, match="not found"):
        ib.load_backbone("torchvision:mobilenet_v3_small", str(tmp_path / "missing.pth"))
    import torchvision

    path = tmp_path / "mobilenet_v3_small.pth"
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), path)
    backbone, spec = ib.load_backbone("torchvision:mobilenet_v3_small", str(path))
    assert spec.mean == (0.485, 0.456, 0.406)
    with torch.inference_mode():
        assert backbone(torch.zeros(2, 3, 96, 96)).shape == (2, spec.feature_dim) == (2, 576)
    model = ib.ImageClassifier(backbone, 2)
    heatmap = ib.grad_cam(model, torch.randn(3, 96, 96), class_index=1)
    assert heatmap.shape == (96, 96) and np.isfinite(heatmap).all()
    wrong = tmp_path / "wrong.pth"
    torch.save({"weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="do not fit"):
        ib.load_backbone("torchvision:mobilenet_v3_small", str(wrong))


def test_combined_backbone_is_its_members_side_by_side(lite0, jpegs):
    """A combined backbone: Lite0+1+2's features concatenated, one input made at the
    largest member's size (Lite2, 260 px) and resized for the others; Grad-CAM on Lite2."""
    from catalog_classifier.models.image_encoder import backbone_id

    name = "efficientnet_lite0+efficientnet_lite1+efficientnet_lite2"
    combined, spec = ib.load_backbone(name)
    assert (spec.feature_dim, spec.input_size, spec.target_layer) == (
        3 * 1280,
        260,
        "members.2.head_activation",
    )
    features = ib.extract_features(combined, spec, jpegs[:3])
    assert features.shape == (3, 3 * 1280) and np.isfinite(features).all()
    lite2, spec2 = ib.load_backbone("efficientnet_lite2")
    np.testing.assert_allclose(
        features[:, 2560:], ib.extract_features(lite2, spec2, jpegs[:3]), rtol=1e-4, atol=1e-4
    )
    # Lite0's part: its own features of the 260-px input resized to 224 px — close to, not
    # equal to, Pillow resizing straight to 224 px.
    backbone0, spec0 = lite0
    alone = ib.extract_features(backbone0, spec0, jpegs[:3])
    cosine = (features[:, :1280] * alone).sum(1) / (
        np.linalg.norm(features[:, :1280], axis=1) * np.linalg.norm(alone, axis=1)
    )
    assert cosine.min() > 0.97
    torch.manual_seed(0)
    model = ib.ImageClassifier(combined, N_CLASSES)
    model.freeze_backbone(True)
    heatmap = ib.grad_cam(model, ib.eval_transform(spec)(drawn_image(1, (320, 240))))
    assert heatmap.shape == (260, 260) and heatmap.max() > heatmap.min()
    # Cached embeddings are keyed by every member's weights.
    assert len({backbone_id(name, None), backbone_id("efficientnet_lite0", None)}) == 2
    with pytest.raises(ValueError, match="single backbone"):
        ib.load_backbone(name, weights_path="w.pth")
    with pytest.raises(ValueError, match="distinct"):
        ib.backbone_spec("efficientnet_lite0+efficientnet_lite0")
    with pytest.raises(ValueError, match="normalise differently"):
        ib.backbone_spec("efficientnet_lite0+torchvision:resnet18")
