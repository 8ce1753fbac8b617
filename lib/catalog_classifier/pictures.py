"""Product-like pictures drawn with Pillow: per-category palettes and shape families, with
deliberate overlap between related classes (shared families, borrowed styles), like real
product photos. A pure function of the random generators it is handed.

The built-in sample's photos (``sample.generator``), and the calibration pictures of the int8
image backbones (``models.onnx_backbone``): calibrated on 64 of these, EfficientNet-Lite's
int8 features are as close to float32's on real photos as when calibrated on 64 real photos
(cosine 0.993 / 0.996 for Lite0 / Lite2 against 0.992 / 0.996), closer than with noise
(0.986 / 0.991). A low layer of its own for that reason: the models may not import the sample.
"""

from __future__ import annotations

import colorsys
import io
import random
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]

# code -> (base hue in degrees, shape family, background). Related classes share a family
# (books, consoles, furniture, figurines) and differ by palette or background, like real
# photos do.
_IMAGE_STYLES: dict[int, tuple[int, str, str]] = {
    10: (40, "book", "paper"),
    2705: (210, "book", "white"),
    2403: (0, "comic", "white"),
    2280: (45, "newspaper", "paper"),
    40: (270, "cartridge", "white"),
    50: (350, "controller", "white"),
    60: (220, "console", "dark"),
    2462: (250, "console", "white"),
    2905: (190, "box", "dark"),
    1140: (320, "figure", "white"),
    1180: (90, "figure", "dark"),
    1160: (55, "card", "white"),
    1280: (15, "toy", "white"),
    1281: (30, "box", "white"),
    1300: (8, "vehicle", "white"),
    1301: (300, "darts", "white"),
    1302: (100, "outdoor", "garden"),
    1320: (180, "stroller", "white"),
    1560: (28, "furniture", "room"),
    1920: (340, "cushion", "textile"),
    1940: (25, "jar", "white"),
    2060: (48, "frame", "wall"),
    2220: (35, "pet", "white"),
    2522: (230, "notebook", "white"),
    2582: (120, "furniture", "garden"),
    2583: (195, "pool", "water"),
    2585: (140, "tool", "white"),
}
_DEFAULT_STYLE = (0, "box", "white")
_BACKGROUNDS = ("white", "paper", "dark", "room", "garden", "water", "wall", "textile")
_OFF_STYLE_RATE = 0.12  # shape, hue or background borrowed from another class
JFIF_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb((hue % 360) / 360, saturation, value)
    return int(red * 255), int(green * 255), int(blue * 255)


def random_colour(rng: random.Random) -> RGB:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _shade(colour: RGB, factor: float) -> RGB:
    return tuple(max(0, min(255, int(channel * factor))) for channel in colour)  # type: ignore[return-value]


def _palette(rng: random.Random, hue: float) -> list[RGB]:
    """Three colours around the class hue and one complementary accent."""
    colours = [
        _hsv(hue + rng.gauss(0, 12), rng.uniform(0.45, 0.95), rng.uniform(0.5, 0.95))
        for _ in range(3)
    ]
    colours.append(_hsv(hue + 180 + rng.gauss(0, 30), rng.uniform(0.5, 1.0), rng.uniform(0.6, 1)))
    return colours


def draw_picture(
    rng: random.Random, noise: np.random.Generator, code: int, side: int
) -> Image.Image:
    hue, shape, background = _IMAGE_STYLES.get(code, _DEFAULT_STYLE)
    # Off-style pictures make the image task realistically imperfect.
    if rng.random() < _OFF_STYLE_RATE:
        shape = rng.choice(sorted(_SHAPES))
    if rng.random() < _OFF_STYLE_RATE:
        hue = rng.randrange(360)
    if rng.random() < _OFF_STYLE_RATE * 1.5:
        background = rng.choice(_BACKGROUNDS)
    palette = _palette(rng, hue)
    image = Image.new("RGB", (side, side))
    draw = ImageDraw.Draw(image)
    _paint_background(draw, rng, side, background, palette)
    _SHAPES[shape](draw, rng, side, palette)
    if rng.random() < 0.25:
        # A second, smaller item (accessories, lots, staging props).
        second = shape if rng.random() < 0.6 else rng.choice(sorted(_SHAPES))
        small = _Scaled(draw, rng.uniform(0.35, 0.55), rng.uniform(0, side * 0.5),
                        rng.uniform(0, side * 0.5))
        _SHAPES[second](small, rng, side, palette)
    amplitude = rng.randint(2, 14)
    pixels = np.asarray(image, dtype=np.int16)
    pixels = pixels + noise.integers(-amplitude, amplitude + 1, pixels.shape, dtype=np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


class _Scaled:
    """An ImageDraw stand-in that shrinks and shifts everything drawn through it."""

    def __init__(self, draw: _Draw, scale: float, dx: float, dy: float) -> None:
        self._draw, self._scale, self._dx, self._dy = draw, scale, dx, dy

    def _points(self, xy: Sequence) -> list[float]:
        flat = [value for point in xy for value in point] if isinstance(xy[0], tuple) else xy
        return [
            value * self._scale + (self._dx if index % 2 == 0 else self._dy)
            for index, value in enumerate(flat)
        ]

    def __getattr__(self, name: str) -> Callable:
        method = getattr(self._draw, name)

        def scaled(xy: Sequence, *args: object, **kwargs: object) -> None:
            if "width" in kwargs:
                kwargs["width"] = max(1, int(kwargs["width"] * self._scale))  # type: ignore[operator]
            if "radius" in kwargs:
                kwargs["radius"] = kwargs["radius"] * self._scale  # type: ignore[operator]
            method(self._points(xy), *args, **kwargs)

        return scaled


# What the picture painters draw through: the image's own ImageDraw or a scaled stand-in.
_Draw = ImageDraw.ImageDraw | _Scaled


def _paint_background(draw: _Draw, rng: random.Random, side: int,
                      background: str, palette: list[RGB]) -> None:
    if background == "white":
        grey = rng.randint(238, 255)
        draw.rectangle([0, 0, side, side], fill=(grey, grey, grey))
    elif background == "paper":
        draw.rectangle([0, 0, side, side], fill=_hsv(40 + rng.gauss(0, 6), 0.12, 0.93))
    elif background == "dark":
        grey = rng.randint(15, 60)
        draw.rectangle([0, 0, side, side], fill=(grey, grey, grey + rng.randint(0, 20)))
    elif background == "room":
        horizon = int(side * rng.uniform(0.55, 0.75))
        draw.rectangle([0, 0, side, horizon], fill=_hsv(rng.uniform(20, 60), 0.15, 0.9))
        draw.rectangle([0, horizon, side, side], fill=_hsv(rng.uniform(20, 35), 0.5, 0.55))
    elif background in ("garden", "water"):
        horizon = int(side * rng.uniform(0.35, 0.6))
        _gradient(draw, 0, horizon, side, (135, 195, 240), (215, 235, 250))
        ground = (70, 150, 60) if background == "garden" else (40, 150, 210)
        draw.rectangle([0, horizon, side, side], fill=_shade(ground, rng.uniform(0.8, 1.15)))
    elif background == "wall":
        draw.rectangle([0, 0, side, side], fill=_hsv(rng.uniform(0, 360), 0.12, 0.9))
    else:  # textile: a coloured, striped fabric
        draw.rectangle([0, 0, side, side], fill=_shade(palette[2], 0.9))
        step = rng.randint(6, 16)
        for x in range(0, side, step):
            draw.line([x, 0, x, side], fill=_shade(palette[2], 1.1), width=2)


def _gradient(draw: _Draw, top: int, bottom: int, side: int, start: RGB,
              end: RGB) -> None:
    height = max(1, bottom - top)
    for y in range(top, bottom):
        mix = (y - top) / height
        colour = tuple(int(a + (b - a) * mix) for a, b in zip(start, end, strict=True))
        draw.line([0, y, side, y], fill=colour)


def _box(rng: random.Random, side: int, aspect: float, low: float = 0.5,
         high: float = 0.85) -> tuple[float, float, float, float]:
    """A random box of width/height ``aspect``, mostly inside the canvas."""
    extent = side * rng.uniform(low, high)
    width, height = (extent, extent / aspect) if aspect >= 1 else (extent * aspect, extent)
    x0 = rng.uniform(-0.05 * width, side - 0.95 * width)
    y0 = rng.uniform(-0.05 * height, side - 0.95 * height)
    return x0, y0, x0 + width, y0 + height


def _text_lines(draw: _Draw, rng: random.Random, x0: float, y0: float,
                x1: float, y1: float, colour: RGB, gap: float = 4) -> None:
    y = y0
    while y < y1:
        draw.line([x0, y, x0 + (x1 - x0) * rng.uniform(0.5, 1.0), y], fill=colour, width=1)
        y += gap


def _shape_book(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.62, 0.75))
    w, h = x1 - x0, y1 - y0
    draw.rectangle([x0, y0, x1, y1], fill=pal[0], outline=_shade(pal[0], 0.5))
    draw.rectangle([x0, y0, x0 + w * 0.08, y1], fill=_shade(pal[0], 0.6))
    light = _shade(pal[3], 1.2)
    for index in range(rng.randint(1, 3)):
        top = y0 + h * (0.1 + 0.09 * index)
        draw.rectangle([x0 + w * 0.18, top, x1 - w * 0.1, top + h * 0.05], fill=light)
    if rng.random() < 0.7:
        draw.ellipse([x0 + w * 0.25, y0 + h * 0.42, x1 - w * 0.2, y0 + h * 0.8], fill=pal[1])
    draw.rectangle([x0 + w * 0.3, y1 - h * 0.1, x1 - w * 0.3, y1 - h * 0.06], fill=light)


def _shape_comic(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.7, 0.8))
    w, h = x1 - x0, y1 - y0
    draw.rectangle([x0, y0, x1, y1], fill=(250, 245, 235), outline=(20, 20, 20), width=2)
    draw.rectangle([x0, y0, x1, y0 + h * 0.2], fill=pal[0])
    draw.rectangle([x0 + w * 0.1, y0 + h * 0.05, x1 - w * 0.1, y0 + h * 0.15], fill=pal[3])
    for row in range(2):
        for col in range(2):
            px0 = x0 + w * (0.05 + 0.47 * col)
            py0 = y0 + h * (0.25 + 0.37 * row)
            draw.rectangle([px0, py0, px0 + w * 0.43, py0 + h * 0.33],
                           fill=pal[rng.randrange(4)], outline=(20, 20, 20), width=2)
            draw.ellipse([px0 + w * 0.1, py0 + h * 0.05, px0 + w * 0.3, py0 + h * 0.2],
                         fill=_shade(pal[rng.randrange(4)], 1.2))


def _shape_newspaper(draw: _Draw, rng: random.Random, side: int,
                     pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.68, 0.78), 0.65, 0.95)
    w, h = x1 - x0, y1 - y0
    paper = _hsv(45, rng.uniform(0.05, 0.25), rng.uniform(0.8, 0.95))
    draw.rectangle([x0, y0, x1, y1], fill=paper, outline=(120, 120, 110))
    draw.rectangle([x0 + w * 0.05, y0 + h * 0.03, x1 - w * 0.05, y0 + h * 0.12], fill=(25, 25, 25))
    columns = rng.randint(2, 4)
    ink = (90, 90, 85)
    for col in range(columns):
        cx0 = x0 + w * (0.05 + 0.9 * col / columns)
        _text_lines(draw, rng, cx0, y0 + h * 0.17, cx0 + w * 0.9 / columns - 3, y1 - h * 0.04,
                    ink, gap=3)
    px0 = x0 + w * rng.uniform(0.05, 0.45)
    draw.rectangle([px0, y0 + h * 0.2, px0 + w * 0.45, y0 + h * 0.5],
                   fill=_shade(paper, rng.uniform(0.35, 0.6)))


def _shape_cartridge(draw: _Draw, rng: random.Random, side: int,
                     pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.9, 1.2))
    w, h = x1 - x0, y1 - y0
    shell = (rng.randint(80, 170),) * 3
    draw.rounded_rectangle([x0, y0, x1, y1], radius=w * 0.06, fill=shell,
                           outline=_shade(shell, 0.6))
    draw.rectangle([x0 + w * 0.12, y0 + h * 0.12, x1 - w * 0.12, y1 - h * 0.3], fill=pal[0])
    draw.polygon([(x0 + w * 0.2, y1 - h * 0.35), (x0 + w * 0.5, y0 + h * 0.2),
                  (x1 - w * 0.2, y1 - h * 0.35)], fill=pal[3])
    for index in range(6):
        x = x0 + w * (0.2 + 0.12 * index)
        draw.line([x, y1 - h * 0.22, x, y1 - h * 0.05], fill=_shade(shell, 0.7), width=2)


def _shape_controller(draw: _Draw, rng: random.Random, side: int,
                      pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(1.4, 1.8))
    w, h = x1 - x0, y1 - y0
    body = pal[0] if rng.random() < 0.5 else (30, 30, 35)
    draw.ellipse([x0, y0 + h * 0.3, x0 + w * 0.4, y1], fill=body)
    draw.ellipse([x1 - w * 0.4, y0 + h * 0.3, x1, y1], fill=body)
    draw.rounded_rectangle([x0 + w * 0.12, y0, x1 - w * 0.12, y0 + h * 0.7], radius=h * 0.3,
                           fill=body)
    cx, cy = x0 + w * 0.25, y0 + h * 0.35
    arm = w * 0.06
    draw.rectangle([cx - arm, cy - arm / 3, cx + arm, cy + arm / 3], fill=(200, 200, 200))
    draw.rectangle([cx - arm / 3, cy - arm, cx + arm / 3, cy + arm], fill=(200, 200, 200))
    for index, (dx, dy) in enumerate(((0, -1), (1, 0), (0, 1), (-1, 0))):
        bx, by = x1 - w * 0.25 + dx * w * 0.06, y0 + h * 0.35 + dy * w * 0.06
        draw.ellipse([bx - w * 0.03, by - w * 0.03, bx + w * 0.03, by + w * 0.03],
                     fill=pal[(index + 1) % 4])


def _shape_console(draw: _Draw, rng: random.Random, side: int,
                   pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(1.6, 2.4))
    w, h = x1 - x0, y1 - y0
    shell = _shade(pal[0], rng.uniform(0.3, 0.9))
    draw.rounded_rectangle([x0, y0, x1, y1], radius=h * 0.15, fill=shell,
                           outline=_shade(shell, 1.6))
    draw.line([x0 + w * 0.1, y0 + h * 0.45, x1 - w * 0.1, y0 + h * 0.45],
              fill=_shade(shell, 0.4), width=3)
    draw.ellipse([x1 - w * 0.1, y1 - h * 0.3, x1 - w * 0.06, y1 - h * 0.3 + w * 0.04],
                 fill=pal[3])
    if rng.random() < 0.5:
        _shape_controller(_Scaled(draw, 0.4, x0 + w * 0.1, y1 - h * 0.1), rng, side, pal)


def _shape_box(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.7, 1.4), 0.45, 0.75)
    w, h = x1 - x0, y1 - y0
    depth = w * rng.uniform(0.12, 0.25)
    draw.polygon([(x0, y0), (x0 + depth, y0 - depth * 0.6), (x1 + depth, y0 - depth * 0.6),
                  (x1, y0)], fill=_shade(pal[0], 1.25))
    draw.polygon([(x1, y0), (x1 + depth, y0 - depth * 0.6), (x1 + depth, y1 - depth * 0.6),
                  (x1, y1)], fill=_shade(pal[0], 0.6))
    draw.rectangle([x0, y0, x1, y1], fill=pal[0])
    draw.polygon([(x0, y1), (x0 + w * rng.uniform(0.3, 0.7), y0 + h * 0.3), (x1, y1)],
                 fill=pal[1])
    draw.ellipse([x0 + w * 0.2, y0 + h * 0.06, x1 - w * 0.2, y0 + h * 0.26], fill=pal[3])


def _shape_figure(draw: _Draw, rng: random.Random, side: int,
                  pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.4, 0.55))
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    draw.ellipse([x0, y1 - h * 0.08, x1, y1], fill=(40, 40, 40))
    draw.polygon([(cx - w * 0.3, y0 + h * 0.3), (cx + w * 0.3, y0 + h * 0.3),
                  (cx + w * 0.2, y1 - h * 0.05), (cx - w * 0.2, y1 - h * 0.05)], fill=pal[0])
    draw.line([cx - w * 0.3, y0 + h * 0.32, x0, y0 + h * 0.6], fill=pal[1], width=4)
    draw.line([cx + w * 0.3, y0 + h * 0.32, x1, y0 + h * rng.uniform(0.1, 0.6)], fill=pal[1],
              width=4)
    skin = _hsv(rng.uniform(20, 35), rng.uniform(0.25, 0.5), rng.uniform(0.7, 0.95))
    draw.ellipse([cx - w * 0.22, y0 + h * 0.05, cx + w * 0.22, y0 + h * 0.3], fill=skin)
    draw.polygon([(cx - w * 0.3, y0 + h * 0.12), (cx, y0 - h * 0.05),
                  (cx + w * 0.3, y0 + h * 0.12)], fill=pal[2])


def _shape_card(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    for _ in range(rng.randint(1, 3)):
        x0, y0, x1, y1 = _box(rng, side, 0.72, 0.35, 0.7)
        w, h = x1 - x0, y1 - y0
        border = (240, 210, 50) if rng.random() < 0.7 else (200, 200, 205)
        draw.rounded_rectangle([x0, y0, x1, y1], radius=w * 0.05, fill=border)
        draw.rectangle([x0 + w * 0.07, y0 + h * 0.07, x1 - w * 0.07, y1 - h * 0.07],
                       fill=_shade(pal[0], 1.2))
        draw.rectangle([x0 + w * 0.12, y0 + h * 0.14, x1 - w * 0.12, y0 + h * 0.5], fill=pal[1],
                       outline=(60, 60, 60))
        draw.ellipse([x0 + w * 0.3, y0 + h * 0.2, x1 - w * 0.3, y0 + h * 0.45], fill=pal[3])
        _text_lines(draw, rng, x0 + w * 0.12, y0 + h * 0.6, x1 - w * 0.12, y1 - h * 0.12,
                    (60, 60, 60), gap=max(3, h * 0.06))


def _shape_toy(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    primaries = [(230, 40, 40), (40, 90, 220), (250, 200, 30), (40, 170, 70)]
    for _ in range(rng.randint(5, 11)):
        colour = rng.choice(pal + primaries)
        x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.7, 1.4), 0.12, 0.35)
        kind = rng.randrange(3)
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=colour, outline=_shade(colour, 0.6))
        elif kind == 1:
            draw.rounded_rectangle([x0, y0, x1, y1], radius=(x1 - x0) * 0.15, fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=colour)


def _shape_vehicle(draw: _Draw, rng: random.Random, side: int,
                   pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(1.8, 2.4), 0.6, 0.9)
    w, h = x1 - x0, y1 - y0
    if rng.random() < 0.7:  # car
        draw.polygon([(x0, y1 - h * 0.25), (x0 + w * 0.05, y0 + h * 0.45),
                      (x0 + w * 0.3, y0 + h * 0.4), (x0 + w * 0.42, y0 + h * 0.05),
                      (x1 - w * 0.3, y0 + h * 0.05), (x1 - w * 0.15, y0 + h * 0.4),
                      (x1, y0 + h * 0.5), (x1, y1 - h * 0.25)], fill=pal[0])
        draw.polygon([(x0 + w * 0.35, y0 + h * 0.4), (x0 + w * 0.45, y0 + h * 0.12),
                      (x1 - w * 0.33, y0 + h * 0.12), (x1 - w * 0.2, y0 + h * 0.4)],
                     fill=(170, 200, 220))
        for cx in (x0 + w * 0.22, x1 - w * 0.22):
            r = h * 0.22
            draw.ellipse([cx - r, y1 - h * 0.25 - r, cx + r, y1 - h * 0.25 + r], fill=(25, 25, 25))
            draw.ellipse([cx - r / 2, y1 - h * 0.25 - r / 2, cx + r / 2, y1 - h * 0.25 + r / 2],
                         fill=(180, 180, 180))
    else:  # plane
        draw.ellipse([x0, y0 + h * 0.35, x1, y0 + h * 0.65], fill=pal[0])
        draw.polygon([(x0 + w * 0.35, y0 + h * 0.5), (x0 + w * 0.55, y0),
                      (x0 + w * 0.62, y0), (x0 + w * 0.55, y0 + h * 0.5)], fill=pal[1])
        draw.polygon([(x0 + w * 0.35, y0 + h * 0.5), (x0 + w * 0.55, y1),
                      (x0 + w * 0.62, y1), (x0 + w * 0.55, y0 + h * 0.5)], fill=pal[1])


def _shape_darts(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, 1.0, 0.45, 0.8)
    if rng.random() < 0.5:  # dartboard
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
        colours = [(20, 20, 20), (240, 230, 200), (200, 30, 30), (30, 140, 60)]
        for index, fraction in enumerate((1.0, 0.85, 0.7, 0.5, 0.35, 0.12, 0.05)):
            rr = r * fraction
            draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=colours[index % 4])
    else:  # baby socks in pastel colours
        for offset in (0.0, 0.35):
            colour = _shade(_hsv(rng.uniform(0, 360), 0.3, 0.95), 1.0)
            w, h = x1 - x0, y1 - y0
            sx = x0 + w * offset
            draw.polygon([(sx, y0), (sx + w * 0.3, y0), (sx + w * 0.3, y0 + h * 0.75),
                          (sx + w * 0.55, y0 + h * 0.8), (sx + w * 0.55, y1),
                          (sx, y1), (sx, y0)], fill=colour, outline=_shade(colour, 0.7))
            _text_lines(draw, rng, sx + 2, y0 + 3, sx + w * 0.28, y0 + h * 0.2,
                        _shade(pal[0], 1.1), gap=3)


def _shape_outdoor(draw: _Draw, rng: random.Random, side: int,
                   pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(1.2, 1.8), 0.55, 0.9)
    w, h = x1 - x0, y1 - y0
    if rng.random() < 0.5:  # trampoline
        for leg in (0.1, 0.45, 0.85):
            draw.line([x0 + w * leg, y0 + h * 0.5, x0 + w * leg, y1], fill=(60, 60, 60), width=3)
        draw.ellipse([x0, y0 + h * 0.3, x1, y0 + h * 0.7], fill=pal[0])
        draw.ellipse([x0 + w * 0.06, y0 + h * 0.35, x1 - w * 0.06, y0 + h * 0.65],
                     fill=(20, 20, 20))
        for post in (0.05, 0.3, 0.7, 0.95):
            draw.line([x0 + w * post, y0 + h * 0.5, x0 + w * post, y0], fill=(80, 80, 80), width=2)
    else:  # slide with ladder
        draw.polygon([(x0 + w * 0.3, y0 + h * 0.2), (x0 + w * 0.4, y0 + h * 0.2), (x1, y1),
                      (x1 - w * 0.15, y1)], fill=pal[0])
        draw.line([x0 + w * 0.1, y1, x0 + w * 0.3, y0 + h * 0.2], fill=pal[3], width=4)
        draw.line([x0 + w * 0.2, y1, x0 + w * 0.4, y0 + h * 0.2], fill=pal[3], width=4)
        draw.rectangle([x0 + w * 0.28, y0, x0 + w * 0.42, y0 + h * 0.2], fill=pal[1])


def _shape_stroller(draw: _Draw, rng: random.Random, side: int,
                    pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.9, 1.2))
    w, h = x1 - x0, y1 - y0
    draw.line([x1 - w * 0.15, y0, x1 - w * 0.35, y1 - h * 0.2], fill=(50, 50, 50), width=4)
    draw.chord([x0, y0 + h * 0.1, x1 - w * 0.2, y1 - h * 0.15], 0, 180, fill=pal[0])
    draw.pieslice([x0, y0 + h * 0.05, x0 + w * 0.6, y0 + h * 0.65], 180, 270, fill=pal[1])
    for cx in (x0 + w * 0.2, x1 - w * 0.35):
        r = h * 0.12
        draw.ellipse([cx - r, y1 - 2 * r, cx + r, y1], fill=(30, 30, 30))


def _shape_furniture(draw: _Draw, rng: random.Random, side: int,
                     pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(1.3, 2.2), 0.55, 0.9)
    w, h = x1 - x0, y1 - y0
    wood = _hsv(rng.uniform(20, 35), rng.uniform(0.4, 0.7), rng.uniform(0.35, 0.75))
    if rng.random() < 0.5:  # table or chest
        top = pal[0] if rng.random() < 0.4 else wood
        draw.rectangle([x0, y0 + h * 0.2, x1, y0 + h * 0.32], fill=top)
        for leg in (0.04, 0.9):
            draw.rectangle([x0 + w * leg, y0 + h * 0.32, x0 + w * (leg + 0.05), y1],
                           fill=_shade(top, 0.7))
        if rng.random() < 0.5:
            draw.rectangle([x0 + w * 0.1, y0 + h * 0.32, x1 - w * 0.1, y0 + h * 0.75],
                           fill=_shade(top, 0.85), outline=_shade(top, 0.5))
    else:  # sofa or lounger
        draw.rounded_rectangle([x0, y0, x1, y0 + h * 0.6], radius=h * 0.1, fill=pal[0])
        draw.rounded_rectangle([x0 - w * 0.03, y0 + h * 0.35, x1 + w * 0.03, y0 + h * 0.85],
                               radius=h * 0.1, fill=_shade(pal[0], 0.85))
        for leg in (0.05, 0.92):
            draw.rectangle([x0 + w * leg, y0 + h * 0.85, x0 + w * (leg + 0.03), y1], fill=wood)
        for cushion in range(rng.randint(1, 3)):
            cx = x0 + w * (0.15 + 0.3 * cushion)
            draw.rounded_rectangle([cx, y0 + h * 0.1, cx + w * 0.2, y0 + h * 0.4],
                                   radius=h * 0.05, fill=pal[rng.randrange(1, 4)])


def _shape_cushion(draw: _Draw, rng: random.Random, side: int,
                   pal: list[RGB]) -> None:
    for _ in range(rng.randint(1, 2)):
        x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.9, 1.3), 0.45, 0.8)
        w, h = x1 - x0, y1 - y0
        draw.rounded_rectangle([x0, y0, x1, y1], radius=w * 0.12, fill=pal[0],
                               outline=_shade(pal[0], 0.7), width=2)
        pattern = rng.randrange(3)
        step = max(4, int(w * rng.uniform(0.08, 0.16)))
        if pattern == 0:
            for offset in range(int(step), int(w), step):
                draw.line([x0 + offset, y0 + 4, x0 + offset, y1 - 4], fill=pal[1], width=2)
        elif pattern == 1:
            for yy in range(int(y0 + step), int(y1 - 2), step):
                for xx in range(int(x0 + step), int(x1 - 2), step):
                    draw.ellipse([xx - 1.5, yy - 1.5, xx + 1.5, yy + 1.5], fill=pal[3])
        else:
            draw.polygon([(x0 + w * 0.5, y0 + h * 0.15), (x1 - w * 0.15, y0 + h * 0.5),
                          (x0 + w * 0.5, y1 - h * 0.15), (x0 + w * 0.15, y0 + h * 0.5)],
                         fill=pal[1], outline=pal[3])


def _shape_jar(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    for _ in range(rng.randint(1, 3)):
        x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.5, 0.8), 0.35, 0.7)
        w, h = x1 - x0, y1 - y0
        glass = _hsv(rng.uniform(15, 40), rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.7))
        draw.rounded_rectangle([x0, y0 + h * 0.1, x1, y1], radius=w * 0.15, fill=glass)
        draw.rectangle([x0 + w * 0.05, y0, x1 - w * 0.05, y0 + h * 0.14], fill=pal[1])
        draw.rectangle([x0, y0 + h * 0.4, x1, y0 + h * 0.75], fill=pal[0])
        draw.ellipse([x0 + w * 0.3, y0 + h * 0.45, x1 - w * 0.3, y0 + h * 0.7], fill=pal[3])


def _shape_frame(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    choice = rng.random()
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.7, 1.4), 0.4, 0.75)
    w, h = x1 - x0, y1 - y0
    if choice < 0.45:  # framed picture
        border = rng.choice([(200, 160, 60), (30, 30, 30), (120, 80, 40), (235, 235, 235)])
        draw.rectangle([x0, y0, x1, y1], fill=border)
        draw.rectangle([x0 + w * 0.1, y0 + h * 0.1, x1 - w * 0.1, y1 - h * 0.1], fill=pal[1])
        draw.ellipse([x0 + w * 0.3, y0 + h * 0.2, x1 - w * 0.25, y1 - h * 0.3], fill=pal[0])
    elif choice < 0.75:  # wall clock
        size = min(w, h)
        draw.ellipse([x0, y0, x0 + size, y0 + size], fill=pal[0], outline=(30, 30, 30), width=3)
        cx, cy = x0 + size / 2, y0 + size / 2
        draw.line([cx, cy, cx, y0 + size * 0.15], fill=(20, 20, 20), width=3)
        draw.line([cx, cy, x0 + size * 0.8, cy], fill=(20, 20, 20), width=2)
    else:  # vase
        draw.polygon([(x0 + w * 0.35, y0), (x1 - w * 0.35, y0), (x1 - w * 0.3, y0 + h * 0.2),
                      (x1, y0 + h * 0.6), (x1 - w * 0.2, y1), (x0 + w * 0.2, y1),
                      (x0, y0 + h * 0.6), (x0 + w * 0.3, y0 + h * 0.2)], fill=pal[0])


def _shape_pet(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.6, 1.0), 0.55, 0.9)
    w, h = x1 - x0, y1 - y0
    if rng.random() < 0.5:  # cat tree: sisal posts and plush platforms
        sisal = (205, 180, 130)
        for post in (0.2, 0.65):
            draw.rectangle([x0 + w * post, y0 + h * 0.1, x0 + w * (post + 0.1), y1], fill=sisal)
            _text_lines(draw, rng, x0 + w * post, y0 + h * 0.1, x0 + w * (post + 0.1), y1,
                        _shade(sisal, 0.8), gap=3)
        for level in (0.05, 0.45, 0.9):
            draw.rounded_rectangle([x0, y0 + h * level, x1, y0 + h * (level + 0.1)],
                                   radius=h * 0.03, fill=pal[0])
    else:  # bowl and bone
        draw.chord([x0, y0 + h * 0.2, x1, y1], 0, 180, fill=pal[0])
        draw.ellipse([x0, y0 + h * 0.45, x1, y0 + h * 0.75], fill=_shade(pal[0], 0.6))
        draw.rectangle([x0 + w * 0.25, y0, x1 - w * 0.25, y0 + h * 0.1], fill=(240, 235, 220))
        for end in (x0 + w * 0.2, x1 - w * 0.25):
            draw.ellipse([end, y0 - h * 0.03, end + w * 0.07, y0 + h * 0.13], fill=(240, 235, 220))


def _shape_notebook(draw: _Draw, rng: random.Random, side: int,
                    pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.68, 0.78))
    w, h = x1 - x0, y1 - y0
    draw.rectangle([x0, y0, x1, y1], fill=pal[0], outline=_shade(pal[0], 0.6))
    if rng.random() < 0.5:
        draw.rectangle([x0 + w * 0.12, y0 + h * 0.05, x1 - w * 0.05, y1 - h * 0.05],
                       fill=(248, 248, 245))
        _text_lines(draw, rng, x0 + w * 0.15, y0 + h * 0.1, x1 - w * 0.08, y1 - h * 0.08,
                    (150, 170, 210), gap=max(3, h * 0.05))
    else:
        draw.rectangle([x0 + w * 0.25, y0 + h * 0.35, x1 - w * 0.15, y0 + h * 0.5], fill=pal[3])
    for ring in range(8):
        ry = y0 + h * (0.06 + ring * 0.12)
        draw.ellipse([x0 - w * 0.04, ry, x0 + w * 0.06, ry + h * 0.05], outline=(90, 90, 90),
                     width=2)
    if rng.random() < 0.4:  # a pen next to it
        px = x1 + w * 0.05
        draw.rectangle([px, y0 + h * 0.1, px + w * 0.06, y1 - h * 0.1], fill=pal[3])


def _shape_pool(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(1.4, 2.2), 0.65, 0.95)
    w, h = x1 - x0, y1 - y0
    water = _hsv(rng.uniform(180, 205), rng.uniform(0.5, 0.85), rng.uniform(0.75, 0.95))
    if rng.random() < 0.7:  # pool with ripples and a ladder
        draw.rounded_rectangle([x0, y0, x1, y1], radius=h * 0.3, fill=(235, 235, 230))
        draw.rounded_rectangle([x0 + w * 0.04, y0 + h * 0.08, x1 - w * 0.04, y1 - h * 0.08],
                               radius=h * 0.25, fill=water)
        for _ in range(rng.randint(3, 7)):
            rx = rng.uniform(x0 + w * 0.1, x1 - w * 0.2)
            ry = rng.uniform(y0 + h * 0.2, y1 - h * 0.3)
            draw.arc([rx, ry, rx + w * 0.15, ry + h * 0.1], 200, 340, fill=_shade(water, 1.25),
                     width=2)
        lx = x0 + w * rng.uniform(0.1, 0.8)
        draw.line([lx, y0 - h * 0.1, lx, y0 + h * 0.3], fill=(200, 200, 205), width=3)
        draw.line([lx + w * 0.06, y0 - h * 0.1, lx + w * 0.06, y0 + h * 0.3], fill=(200, 200, 205),
                  width=3)
    else:  # heat pump or filter: a grey box with a fan grid, next to water
        draw.rectangle([x0, y0 + h * 0.65, x1, y1], fill=water)
        draw.rectangle([x0 + w * 0.1, y0, x0 + w * 0.6, y0 + h * 0.7], fill=(220, 222, 225),
                       outline=(90, 90, 90))
        cx, cy, r = x0 + w * 0.35, y0 + h * 0.35, h * 0.25
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(60, 60, 65))
        for offset in range(-2, 3):
            draw.line([cx - r, cy + offset * r / 3, cx + r, cy + offset * r / 3],
                      fill=(150, 150, 150), width=1)
        draw.rectangle([x0 + w * 0.45, y0 + h * 0.05, x0 + w * 0.57, y0 + h * 0.12], fill=pal[3])


def _shape_tool(draw: _Draw, rng: random.Random, side: int, pal: list[RGB]) -> None:
    x0, y0, x1, y1 = _box(rng, side, rng.uniform(0.9, 1.3), 0.55, 0.9)
    w, h = x1 - x0, y1 - y0
    body = rng.choice([pal[0], pal[0], (230, 120, 20), (0, 140, 140), (240, 200, 20)])
    if rng.random() < 0.6:  # drill
        draw.rounded_rectangle([x0, y0, x1 - w * 0.2, y0 + h * 0.35], radius=h * 0.08, fill=body)
        draw.rectangle([x1 - w * 0.2, y0 + h * 0.13, x1, y0 + h * 0.2], fill=(150, 150, 155))
        draw.polygon([(x0 + w * 0.3, y0 + h * 0.35), (x0 + w * 0.55, y0 + h * 0.35),
                      (x0 + w * 0.5, y0 + h * 0.8), (x0 + w * 0.28, y0 + h * 0.8)],
                     fill=(35, 35, 35))
        draw.rectangle([x0 + w * 0.15, y0 + h * 0.8, x0 + w * 0.65, y1], fill=body,
                       outline=(30, 30, 30))
    else:  # lawn mower
        draw.line([x0 + w * 0.1, y0, x0 + w * 0.45, y0 + h * 0.55], fill=(40, 40, 40), width=4)
        draw.rounded_rectangle([x0 + w * 0.3, y0 + h * 0.5, x1, y0 + h * 0.85], radius=h * 0.08,
                               fill=body)
        for cx in (x0 + w * 0.4, x1 - w * 0.1):
            r = h * 0.1
            draw.ellipse([cx - r, y1 - 2 * r, cx + r, y1], fill=(25, 25, 25))


_SHAPES: dict[str, Callable[[_Draw, random.Random, int, list[RGB]], None]] = {
    "book": _shape_book,
    "comic": _shape_comic,
    "newspaper": _shape_newspaper,
    "cartridge": _shape_cartridge,
    "controller": _shape_controller,
    "console": _shape_console,
    "box": _shape_box,
    "figure": _shape_figure,
    "card": _shape_card,
    "toy": _shape_toy,
    "vehicle": _shape_vehicle,
    "darts": _shape_darts,
    "outdoor": _shape_outdoor,
    "stroller": _shape_stroller,
    "furniture": _shape_furniture,
    "cushion": _shape_cushion,
    "jar": _shape_jar,
    "frame": _shape_frame,
    "pet": _shape_pet,
    "notebook": _shape_notebook,
    "pool": _shape_pool,
    "tool": _shape_tool,
}


def calibration_pictures(count: int, side: int, seed: int = 0) -> list[Image.Image]:
    """``count`` pictures of every category's style in turn, the same for the same arguments:
    the calibration set of the int8 image backbones."""
    rng, noise = random.Random(seed), np.random.default_rng(seed)
    codes = sorted(_IMAGE_STYLES)
    return [draw_picture(rng, noise, codes[i % len(codes)], side) for i in range(count)]
