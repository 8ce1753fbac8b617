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
import csv
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
from PIL import Image

from catalog_classifier.pictures import JFIF_HEADER, draw_picture, jpeg, random_colour
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
# Images (drawn by catalog_classifier/pictures.py).
# ---------------------------------------------------------------------------------------


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
        colour = (255, 255, 255) if rng.random() < 0.6 else random_colour(rng)
        return kind, jpeg(Image.new("RGB", (size, size), colour), quality)
    if kind == "corrupt":
        # A JPEG header followed by garbage without any 0xFF byte, so no decoder can find
        # a frame: the file fails to open whatever the reader's truncation settings.
        garbage = noise.integers(0, 255, rng.randrange(2_000, 40_000), dtype=np.uint8)
        return kind, JFIF_HEADER + garbage.tobytes()

    picture = draw_picture(rng, noise, code, min(size, _DRAW_SIZE))
    if kind == "tiny":
        tiny_size = (rng.randint(8, 40), rng.randint(8, 40))
        return kind, jpeg(picture.resize(tiny_size, Image.Resampling.BILINEAR), quality)
    if picture.size != (size, size):
        picture = picture.resize((size, size), Image.Resampling.BILINEAR)
    data = jpeg(picture, quality)
    if kind == "truncated":
        return kind, data[: int(len(data) * rng.uniform(0.4, 0.7))]
    return kind, data


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
