"""Deterministic generator of the built-in sample catalog, in the challenge's file layout.

The real Rakuten France challenge data cannot be redistributed, so the demo, the unit tests
and the benchmarks run on a synthetic catalog written exactly like the challenge files:

- ``X.csv``: ``,designation,description,productid,imageid`` (unnamed row index first);
- ``Y.csv``: ``,prdtypecode``;
- ``images/image_<imageid>_product_<productid>.jpg`` and the same files in ``images.zip``
  under ``image_train/``.

Texts and images carry class-specific signal (per-category vocabulary from
``data/vocabulary.yaml``, per-category palette and shape family) with deliberate overlap between
related classes, and the blemishes the ingest and cleaning stages must cope with: empty and
HTML descriptions, (double-escaped) entities, mojibake, German and English listings,
relisted and exact duplicates, blank, tiny, corrupt and truncated images, listings without
an image.

Everything streams: each row and image is written as soon as it is generated, so memory
does not grow with ``n_listings``. Every random choice of row ``i`` comes from generators
seeded with ``(seed, stream, i)``, so the output does not depend on chunking; the only
cross-row state is a bounded window of recent rows that duplicates are copied from.
"""

from __future__ import annotations

import bisect
import colorsys
import csv
import io
import random
import re
import zipfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from catalog_classifier.sample.vocab import vocabulary

__all__ = ["BLEMISH_KINDS", "SampleSummary", "generate_sample"]

BLEMISH_KINDS: tuple[str, ...] = (
    "empty_description",
    "html_description",
    "mojibake",
    "german",
    "english",
    "relisted_duplicate",
    "exact_duplicate_row",
    "blank_image",
    "tiny_image",
    "corrupt_image",
    "truncated_image",
    "listing_without_image",
)

# Rates observed (or plausible) in the real catalog.
_EMPTY_DESCRIPTION_RATE = 0.33
_HTML_RATE = 0.45  # share of non-empty descriptions wrapped in tags
_ENTITY_RATE_HTML = 0.6  # share of tagged descriptions whose text is entity-encoded
_ENTITY_RATE_PLAIN = 0.12  # entities also show up without any tag ("id&eacute;es")
_DOUBLE_ESCAPE_RATE = 0.15  # share of entity-encoded descriptions escaped twice
_NEWLINE_RATE = 0.15  # share of untagged descriptions joined with real newlines
_ELLIPSIS_RATE = 0.1  # descriptions cut mid-sentence with " ..."
_MOJIBAKE_RATE = 0.03  # drawn rate; only rows with non-ASCII text end up garbled (~2%)
_RELIST_RATE = 0.01
_EXACT_DUPLICATE_RATE = 0.003
_IMAGE_KIND_RATES: tuple[tuple[str, float], ...] = (
    ("blank", 0.005),
    ("tiny", 0.005),
    ("corrupt", 0.003),
    ("truncated", 0.003),
)
# Forced blemishes land in these first rows so small samples still contain every kind.
_FORCED_IMAGE_ROWS = 200
_FORCED_DUPLICATE_ROWS = (200, 300)
# Duplicates copy a row from this many recent rows: bounded memory, still "an earlier row".
_RECENT_WINDOW = 1000
_PROGRESS_EVERY = 1000
# Images are drawn at this resolution and upscaled: drawing and noise at 500x500 in
# Python would not reach the target throughput.
_DRAW_SIZE = 160
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_ZIP_FOLDER = "image_train"

# Independent random streams, so adding a draw to one part never shifts another.
_STREAM_ROW = 1
_STREAM_IMAGE = 2
_STREAM_PLAN = 3
_STREAM_PRODUCT_ID = 4
_STREAM_IMAGE_ID = 5

_SLOT_PATTERN = re.compile(r"\{(\w+)\}")
_IMAGE_NAME_PATTERN = "image_*_product_*.jpg"


@dataclass(frozen=True)
class SampleSummary:
    """What ``generate_sample`` wrote."""

    out_dir: Path
    listings_csv: Path  # out_dir / "X.csv"
    labels_csv: Path  # out_dir / "Y.csv"
    images_dir: Path | None  # out_dir / "images"
    images_zip: Path | None  # out_dir / "images.zip"
    n_listings: int  # data rows written to X.csv (exact duplicate rows included)
    n_images: int  # image files written (blemished ones included)
    blemishes: dict[str, int]  # see BLEMISH_KINDS; text counts are per X.csv row


class _Text(NamedTuple):
    code: int
    lang: str
    designation: str
    description: str
    has_markup: bool  # tags or entities in the description
    mojibake: bool


class _Written(NamedTuple):
    """A row kept in the recent window, for duplicates to copy from."""

    text: _Text
    productid: int
    imageid: int
    image_row: int  # the row whose picture this listing shows (its own, or a relist's source)
    has_image: bool


def generate_sample(
    out_dir: str | Path,
    *,
    n_listings: int,
    priors: Mapping[int, int],
    seed: int = 0,
    n_images: int | None = None,
    image_size: int = 500,
    write_folder: bool = True,
    write_zip: bool = True,
    jpeg_quality: int = 85,
    progress: Callable[[int, int], None] | None = None,
) -> SampleSummary:
    """Write a deterministic sample catalog in the challenge layout under ``out_dir``.

    ``priors`` maps prdtypecode -> count in the real training set; classes are drawn with
    probability proportional to the counts. The first ``n_images`` listings (default: all)
    get an image, written to ``images/`` and/or ``images.zip``; when both are disabled no
    image is rendered. X.csv and Y.csv do not depend on ``n_images`` or the image options.
    Same arguments give byte-identical files. Stale ``image_*_product_*.jpg`` files from an
    earlier run in ``out_dir/images`` are removed so the folder matches the zip.
    """
    codes, cumulative = _class_table(priors)
    if n_listings < 0:
        raise ValueError(f"n_listings must be >= 0, got {n_listings}")
    if n_listings >= _IdSequence.MAX_ROWS:
        raise ValueError(f"n_listings must be < {_IdSequence.MAX_ROWS}, got {n_listings}")
    if n_images is None:
        n_images = n_listings
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    writes_images = write_folder or write_zip
    image_rows = min(n_images, n_listings) if writes_images else 0

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    listings_csv, labels_csv = out / "X.csv", out / "Y.csv"
    images_dir = out / "images" if write_folder else None
    images_zip = out / "images.zip" if write_zip else None

    counts = dict.fromkeys(BLEMISH_KINDS, 0)
    forced_kinds, forced_duplicate_row = _forced_plan(seed)
    product_ids = _IdSequence(seed, _STREAM_PRODUCT_ID, 100_000, 2**32)
    image_ids = _IdSequence(seed, _STREAM_IMAGE_ID, 100_000, 1_400_000_000)
    recent: deque[_Written] = deque(maxlen=_RECENT_WINDOW)
    files_written = 0

    with ExitStack() as stack:
        x_file = stack.enter_context(open(listings_csv, "w", encoding="utf-8", newline=""))
        y_file = stack.enter_context(open(labels_csv, "w", encoding="utf-8", newline=""))
        x_writer = csv.writer(x_file, lineterminator="\n")
        y_writer = csv.writer(y_file, lineterminator="\n")
        x_writer.writerow(["", "designation", "description", "productid", "imageid"])
        y_writer.writerow(["", "prdtypecode"])
        sink = stack.enter_context(_ImageSink(images_dir, images_zip))

        for row in range(n_listings):
            rng = _rng(seed, _STREAM_ROW, row)
            roll = rng.random()
            # Forced blemish rows keep their own content so their image kind survives.
            may_copy = bool(recent) and row not in forced_kinds
            if may_copy and (row == forced_duplicate_row or roll < _EXACT_DUPLICATE_RATE):
                source = recent[rng.randrange(len(recent))]
                text = source.text
                x_writer.writerow(
                    [row, text.designation, text.description, source.productid,
                     source.imageid]
                )
                y_writer.writerow([row, text.code])
                counts["exact_duplicate_row"] += 1
                counts["listing_without_image"] += not source.has_image
                _count_text(counts, text)
                # Not added to the window: its ids are already there via the source.
            else:
                if may_copy and roll < _EXACT_DUPLICATE_RATE + _RELIST_RATE:
                    source = recent[rng.randrange(len(recent))]
                    text, image_row = source.text, source.image_row
                    counts["relisted_duplicate"] += 1
                else:
                    code = codes[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
                    text, image_row = _make_text(rng, code), row
                productid, imageid = product_ids(row), image_ids(row)
                x_writer.writerow([row, text.designation, text.description, productid, imageid])
                y_writer.writerow([row, text.code])
                _count_text(counts, text)
                has_image = row < image_rows
                if has_image:
                    kind, data = _render_image(
                        seed, image_row, text.code, forced_kinds.get(image_row), image_size,
                        jpeg_quality,
                    )
                    sink.write(f"image_{imageid}_product_{productid}.jpg", data)
                    files_written += 1
                    if kind != "normal":
                        counts[f"{kind}_image"] += 1
                else:
                    counts["listing_without_image"] += 1
                recent.append(_Written(text, productid, imageid, image_row, has_image))
            if progress is not None and (row + 1) % _PROGRESS_EVERY == 0:
                progress(row + 1, n_listings)
        if progress is not None and (n_listings % _PROGRESS_EVERY != 0 or n_listings == 0):
            progress(n_listings, n_listings)

    return SampleSummary(
        out_dir=out,
        listings_csv=listings_csv,
        labels_csv=labels_csv,
        images_dir=images_dir,
        images_zip=images_zip,
        n_listings=n_listings,
        n_images=files_written,
        blemishes=counts,
    )


# ---------------------------------------------------------------------------------------
# Randomness and ids.
# ---------------------------------------------------------------------------------------


def _rng(seed: int, stream: int, index: int) -> random.Random:
    """A generator that depends only on (seed, stream, index): chunking cannot change it."""
    # Packing into one int keeps seeding cheap; the mask maps negative seeds apart from
    # positive ones (random.Random would use abs()).
    return random.Random(((seed & 0xFFFF_FFFF_FFFF_FFFF) << 72) | (stream << 64) | index)


def _class_table(priors: Mapping[int, int]) -> tuple[list[int], list[float]]:
    """Codes sorted (so dict order cannot change the output) with cumulative weights."""
    if not priors:
        raise ValueError("priors must not be empty")
    unknown = sorted(code for code in priors if code not in vocabulary().categories)
    if unknown:
        raise ValueError(f"no sample vocabulary for prdtypecode(s) {unknown}")
    if any(count < 0 for count in priors.values()) or sum(priors.values()) <= 0:
        raise ValueError("priors must be non-negative counts with a positive total")
    codes = sorted(priors)
    cumulative: list[float] = []
    total = 0.0
    for code in codes:
        total += priors[code]
        cumulative.append(total)
    return codes, cumulative


def _forced_plan(seed: int) -> tuple[dict[int, str], int]:
    """Rows that must carry each image blemish, and the row forced to be an exact duplicate.

    Fixed positions (not depending on n_listings) keep a small sample a prefix of a larger
    one, while guaranteeing every blemish whenever n_images >= 200 / n_listings >= 300.
    """
    rng = _rng(seed, _STREAM_PLAN, 0)
    rows = rng.sample(range(_FORCED_IMAGE_ROWS), len(_IMAGE_KIND_RATES))
    forced = {row: kind for row, (kind, _) in zip(rows, _IMAGE_KIND_RATES, strict=True)}
    return forced, rng.randrange(*_FORCED_DUPLICATE_ROWS)


class _IdSequence:
    """Unique pseudo-random ids for row indexes, without remembering the ids handed out.

    A keyed 32-bit Feistel network is a permutation; cycle-walking restricts it to
    [low, high). Distinct rows therefore always get distinct ids.
    """

    MAX_ROWS = 1_000_000_000

    def __init__(self, seed: int, stream: int, low: int, high: int) -> None:
        rng = _rng(seed, stream, 0)
        self._keys = tuple(rng.getrandbits(32) for _ in range(4))
        self._low = low
        self._span = high - low

    def __call__(self, index: int) -> int:
        value = index
        while True:
            value = self._permute(value)
            if value < self._span:
                return self._low + value

    def _permute(self, value: int) -> int:
        left, right = value >> 16, value & 0xFFFF
        for key in self._keys:
            mixed = ((right ^ key) * 0x45D9F3B) & 0xFFFFFFFF
            mixed = ((mixed >> 16) ^ mixed) * 0x45D9F3B & 0xFFFFFFFF
            left, right = right, left ^ ((mixed >> 16) ^ mixed) & 0xFFFF
        return (left << 16) | right


# ---------------------------------------------------------------------------------------
# Text.
# ---------------------------------------------------------------------------------------

_ENTITY_TABLE = {
    ord(char): entity
    for char, entity in {
        "&": "&amp;", '"': "&quot;", "'": "&#39;", "é": "&eacute;", "è": "&egrave;",
        "ê": "&ecirc;", "ë": "&euml;", "à": "&agrave;", "â": "&acirc;", "ç": "&ccedil;",
        "î": "&icirc;", "ï": "&iuml;", "ô": "&ocirc;", "ù": "&ugrave;", "û": "&ucirc;",
        "É": "&Eacute;", "È": "&Egrave;", "À": "&Agrave;", "Ê": "&Ecirc;", "œ": "&oelig;",
        "Œ": "&OElig;", "ä": "&auml;", "ö": "&ouml;", "ü": "&uuml;", "Ä": "&Auml;",
        "Ö": "&Ouml;", "Ü": "&Uuml;", "ß": "&szlig;", "°": "&deg;", "€": "&euro;",
        "«": "&laquo;", "»": "&raquo;", "³": "&sup3;", "ø": "&oslash;", "²": "&sup2;",
    }.items()
}
_SPAN_CLASSES = ("vga_style2", "texte", "Apple-style-span", "description_produit")
_REFERENCE_LABELS = {"fr": "Réf.", "de": "Art.-Nr.", "en": "Ref."}


def _expand(template: str, rng: random.Random, scopes: Sequence[Mapping], depth: int = 0) -> str:
    """Fill every ``{slot}`` of ``template`` from the first scope that defines it."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        for scope in scopes:
            if name in scope:
                value = str(rng.choice(scope[name]))
                break
        else:
            raise KeyError(f"unknown slot {name!r} in sample template {template!r}")
        # Slot values may hold slots themselves ("{book_start} {book_end}").
        return _expand(value, rng, scopes, depth + 1) if "{" in value and depth < 4 else value

    return _SLOT_PATTERN.sub(fill, template)


def _make_text(rng: random.Random, code: int) -> _Text:
    vocab = vocabulary()
    lang = rng.choices(vocab.languages, vocab.language_weights)[0]
    category = vocab.categories[code]
    block = category[lang]
    scopes = (block, category["shared"], vocab.common[lang], vocab.neutral)
    titles = block["titles"]
    assert isinstance(titles, tuple)  # templates are strings; only numeric slots are ranges
    designation = _decorate_title(rng, _expand(rng.choice(titles), rng, scopes), lang, scopes)
    description, has_markup = _make_description(rng, designation, block, lang, scopes)

    garbled = False
    if rng.random() < _MOJIBAKE_RATE:
        target = rng.random()
        if target < 0.7:
            new = _to_mojibake(designation)
            garbled, designation = new != designation, new
        if target >= 0.5:
            new = _to_mojibake(description)
            garbled, description = garbled or new != description, new
    return _Text(code, lang, designation, description, has_markup, garbled)


def _decorate_title(rng: random.Random, title: str, lang: str, scopes: Sequence[Mapping]) -> str:
    """Seller habits: condition or reference suffixes, shouting, stray spaces."""
    roll = rng.random()
    if roll < 0.08:
        title = f"{title} - {_expand('{condition}', rng, scopes)}"
    elif roll < 0.12:
        title = f"{title} - {_REFERENCE_LABELS[lang]} {_expand('{ref}', rng, scopes)}"
    roll = rng.random()
    if roll < 0.04:
        title = title.upper()
    elif roll < 0.06:
        title = title + " "
    return title[:1].upper() + title[1:]


def _make_description(
    rng: random.Random, designation: str, block: Mapping, lang: str,
    scopes: Sequence[Mapping],
) -> tuple[str, bool]:
    """A description in the listing's language, or "" (a third of the catalog)."""
    if rng.random() < _EMPTY_DESCRIPTION_RATE:
        return "", False
    n_sentences = rng.choices(range(1, 7), (20, 24, 22, 15, 11, 8))[0]
    sentences = []
    if rng.random() < 0.15:
        # Sellers often restate the title before describing the product.
        sentences.append(designation.strip())
    generic = vocabulary().common[lang]["generic"]
    used: set[str] = set()
    for _ in range(n_sentences - len(sentences)):
        pool = block["sentences"] if rng.random() < 0.72 else generic
        template = rng.choice(pool)
        if template in used:
            # One retry: repeated sentences happen in real listings, but rarely.
            template = rng.choice(pool)
        used.add(template)
        sentences.append(_expand(template, rng, scopes))
    if rng.random() < _ELLIPSIS_RATE:
        sentences[-1] = _cut_with_ellipsis(rng, sentences[-1])

    tagged = rng.random() < _HTML_RATE
    encoded = False
    if rng.random() < (_ENTITY_RATE_HTML if tagged else _ENTITY_RATE_PLAIN):
        escaped = [sentence.translate(_ENTITY_TABLE) for sentence in sentences]
        if rng.random() < _DOUBLE_ESCAPE_RATE:
            escaped = [sentence.replace("&", "&amp;") for sentence in escaped]
        encoded = escaped != sentences
        sentences = escaped
    if tagged:
        html = _wrap_html(rng, sentences)
        # A lone sentence in a "<br>"-joined style gets no tag at all.
        return html, encoded or "<" in html
    joiner = rng.choice(("\n", "\n\n", " \n")) if rng.random() < _NEWLINE_RATE else " "
    return joiner.join(sentences), encoded


def _cut_with_ellipsis(rng: random.Random, sentence: str) -> str:
    words = sentence.split(" ")
    if len(words) < 4:
        return sentence
    return " ".join(words[: rng.randrange(2, len(words) - 1)]) + " ..."


def _wrap_html(rng: random.Random, parts: list[str]) -> str:
    """Markup in the styles seen in real listings (shop editors, copy-pasted pages)."""
    style = rng.randrange(7)
    span = f'<span class="{rng.choice(_SPAN_CLASSES)}">'
    if style == 0:
        return "".join(f"<p>{part}</p>" for part in parts)
    if style == 1:
        return "<br>".join(parts) + rng.choice(("", "<br>", "<br><br>"))
    if style == 2:
        return "<br />\n".join(parts)
    if style == 3:
        rest = "<br>".join(parts[1:])
        return f"<b>{parts[0]}</b><br>{rest}" if rest else f"<b>{parts[0]}</b>"
    if style == 4:
        items = "".join(f"<li>{part}</li>" for part in parts)
        return f"<p>{parts[0]}</p><ul>{items}</ul>" if len(parts) > 2 else f"<ul>{items}</ul>"
    if style == 5:
        return "<br> ".join(parts) + f"<br> {span}<b></b><br>"
    return f"{span}<p>" + "</p>\n<p>".join(parts) + "</p></span>"


def _to_mojibake(text: str) -> str:
    """UTF-8 bytes read back as cp1252 (latin-1 for bytes cp1252 leaves undefined)."""
    raw = text.encode("utf-8")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _count_text(counts: dict[str, int], text: _Text) -> None:
    counts["empty_description"] += text.description == ""
    counts["html_description"] += text.has_markup
    counts["mojibake"] += text.mojibake
    counts["german"] += text.lang == "de"
    counts["english"] += text.lang == "en"


# ---------------------------------------------------------------------------------------
# Images.
# ---------------------------------------------------------------------------------------

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
_JFIF_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def _render_image(
    seed: int, image_row: int, code: int, forced_kind: str | None, size: int, quality: int,
) -> tuple[str, bytes]:
    """The (kind, JPEG bytes) of the picture of ``image_row``; a pure function of its args.

    Relisted duplicates call it again with their source row, so they get identical bytes
    without the generator keeping any image in memory.
    """
    rng = _rng(seed, _STREAM_IMAGE, image_row)
    roll = rng.random()
    kind = forced_kind or "normal"
    if forced_kind is None:
        threshold = 0.0
        for name, rate in _IMAGE_KIND_RATES:
            threshold += rate
            if roll < threshold:
                kind = name
                break
    noise = np.random.default_rng(rng.getrandbits(64))

    if kind == "blank":
        colour = (255, 255, 255) if rng.random() < 0.6 else _random_colour(rng)
        return kind, _jpeg(Image.new("RGB", (size, size), colour), quality)
    if kind == "corrupt":
        # A JPEG header followed by garbage without any 0xFF byte, so no decoder can find
        # a frame: the file fails to open whatever the reader's truncation settings.
        garbage = noise.integers(0, 255, rng.randrange(2_000, 40_000), dtype=np.uint8)
        return kind, _JFIF_HEADER + garbage.tobytes()

    picture = _draw_picture(rng, noise, code, min(size, _DRAW_SIZE))
    if kind == "tiny":
        tiny_size = (rng.randint(8, 40), rng.randint(8, 40))
        return kind, _jpeg(picture.resize(tiny_size, Image.Resampling.BILINEAR), quality)
    if picture.size != (size, size):
        picture = picture.resize((size, size), Image.Resampling.BILINEAR)
    data = _jpeg(picture, quality)
    if kind == "truncated":
        return kind, data[: int(len(data) * rng.uniform(0.4, 0.7))]
    return kind, data


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb((hue % 360) / 360, saturation, value)
    return int(red * 255), int(green * 255), int(blue * 255)


def _random_colour(rng: random.Random) -> RGB:
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


def _draw_picture(
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


# ---------------------------------------------------------------------------------------
# Output.
# ---------------------------------------------------------------------------------------


class _ImageSink:
    """Writes each image to the folder and/or the zip as soon as it exists."""

    def __init__(self, folder: Path | None, zip_path: Path | None) -> None:
        self._folder = folder
        self._zip_path = zip_path
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> _ImageSink:
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
            # Files of an earlier, larger run would make the folder disagree with the zip.
            for stale in self._folder.glob(_IMAGE_NAME_PATTERN):
                stale.unlink()
        if self._zip_path is not None:
            self._zip = zipfile.ZipFile(self._zip_path, "w", zipfile.ZIP_STORED, allowZip64=True)
        return self

    def write(self, name: str, data: bytes) -> None:
        if self._folder is not None:
            (self._folder / name).write_bytes(data)
        if self._zip is not None:
            # Fixed metadata so the archive is byte-identical across runs and machines.
            entry = zipfile.ZipInfo(f"{_ZIP_FOLDER}/{name}", date_time=_ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_STORED
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            self._zip.writestr(entry, data)

    def __exit__(self, *exc_info: object) -> None:
        if self._zip is not None:
            self._zip.close()
