"""The built-in sample generator: layout, determinism, realism and streaming (no Spark)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from catalog_classifier.sample import generator as sample_module
from catalog_classifier.sample import vocab as sample_vocab
from catalog_classifier.sample.generator import BLEMISH_KINDS, SampleSummary, generate_sample
from catalog_classifier.sample.vocab import vocabulary

# Listings per prdtypecode in the challenge's real Y_train.csv.
PRIORS = {
    10: 3116, 40: 2508, 50: 1681, 60: 832, 1140: 2671, 1160: 3953, 1180: 764, 1280: 4870,
    1281: 2070, 1300: 5045, 1301: 807, 1302: 2491, 1320: 3241, 1560: 5073, 1920: 4303,
    1940: 803, 2060: 4993, 2220: 824, 2280: 4760, 2403: 4774, 2462: 1421, 2522: 4989,
    2582: 2589, 2583: 10209, 2585: 2496, 2705: 2761, 2905: 872,
}
N_LISTINGS = 3000
N_IMAGES = 400
IMAGE_NAME = re.compile(r"image_(\d+)_product_(\d+)\.jpg")
TAG_OR_ENTITY = re.compile(r"</?[a-z]+[^>]*>|&(?:#\d+|[a-zA-Z]+\d?);")
# A UTF-8 lead byte read as cp1252 (Ã, Â, Å) followed by a continuation byte read the same
# way; "CÂBLE" (an upper-cased "Câble") is not mojibake.
_CONTINUATION = (
    bytes(range(0x80, 0xC0)).decode("latin-1")
    + bytes(range(0x80, 0xA0)).decode("cp1252", errors="ignore")
)
MOJIBAKE = re.compile(f"[ÃÂÅ][{re.escape(_CONTINUATION)}]")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    """One mid-sized sample shared by the read-back tests."""
    out = tmp_path_factory.mktemp("sample")
    return generate_sample(out, n_listings=N_LISTINGS, n_images=N_IMAGES, priors=PRIORS, seed=3)


@pytest.fixture(scope="module")
def listings(sample: SampleSummary) -> pd.DataFrame:
    return pd.read_csv(sample.listings_csv, index_col=0)


@pytest.fixture(scope="module")
def labels(sample: SampleSummary) -> pd.DataFrame:
    return pd.read_csv(sample.labels_csv, index_col=0)


@pytest.fixture(scope="module")
def image_kinds(sample: SampleSummary) -> dict[str, str]:
    """File name -> what Pillow makes of it, decoded once for the image tests."""
    assert sample.images_dir is not None
    return {path.name: image_kind(path.read_bytes()) for path in sample.images_dir.iterdir()}


def file_digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def image_kind(data: bytes) -> str:
    """How Pillow sees a file: corrupt, truncated, tiny, blank or normal."""
    try:
        image = Image.open(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any failure to open is what "corrupt" means
        return "corrupt"
    try:
        image.load()
    except OSError:
        return "truncated"
    if max(image.size) <= 40:
        return "tiny"
    if image.getcolors(maxcolors=1) is not None:
        return "blank"
    return "normal"


# ---------------------------------------------------------------------------------------
# Determinism.
# ---------------------------------------------------------------------------------------


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> dict[str, str]:
        generate_sample(tmp_path / name, n_listings=320, n_images=210, priors=PRIORS, seed=seed,
                        image_size=96)
        return file_digests(tmp_path / name)

    first, second, other = run("a", 11), run("b", 11), run("c", 12)
    assert first == second
    assert {"X.csv", "Y.csv", "images.zip"} <= set(first)
    assert len([name for name in first if name.startswith("images/")]) > 200
    assert first["X.csv"] != other["X.csv"]
    assert first["images.zip"] != other["images.zip"]


def test_priors_order_does_not_matter(tmp_path: Path) -> None:
    reversed_priors = dict(reversed(list(PRIORS.items())))
    for name, priors in (("a", PRIORS), ("b", reversed_priors)):
        generate_sample(tmp_path / name, n_listings=300, n_images=0, priors=priors, seed=5)
    assert file_digests(tmp_path / "a") == file_digests(tmp_path / "b")


def test_texts_do_not_depend_on_image_options_or_length(
    sample: SampleSummary, tmp_path: Path
) -> None:
    text_only = generate_sample(tmp_path / "text", n_listings=N_LISTINGS, n_images=0,
                                priors=PRIORS, seed=3, write_folder=False, write_zip=False)
    assert text_only.listings_csv.read_bytes() == sample.listings_csv.read_bytes()
    assert text_only.labels_csv.read_bytes() == sample.labels_csv.read_bytes()
    assert (text_only.n_images, text_only.images_dir, text_only.images_zip) == (0, None, None)
    assert text_only.blemishes["listing_without_image"] == N_LISTINGS
    # A shorter run is a prefix of a longer one: rows depend on (seed, row) only.
    shorter = generate_sample(tmp_path / "short", n_listings=1234, n_images=0, priors=PRIORS,
                              seed=3, write_folder=False, write_zip=False)
    assert sample.listings_csv.read_bytes().startswith(shorter.listings_csv.read_bytes())


# ---------------------------------------------------------------------------------------
# CSV layout and labels.
# ---------------------------------------------------------------------------------------


def test_csv_headers_and_shapes(
    sample: SampleSummary, listings: pd.DataFrame, labels: pd.DataFrame
) -> None:
    with open(sample.listings_csv, encoding="utf-8") as handle:
        assert handle.readline() == ",designation,description,productid,imageid\n"
    with open(sample.labels_csv, encoding="utf-8") as handle:
        assert handle.readline() == ",prdtypecode\n"
    assert sample.n_listings == N_LISTINGS
    assert list(listings.columns) == ["designation", "description", "productid", "imageid"]
    assert listings.index.tolist() == list(range(N_LISTINGS))
    assert labels.index.tolist() == list(range(N_LISTINGS))
    assert pd.api.types.is_integer_dtype(listings["productid"])
    assert pd.api.types.is_integer_dtype(listings["imageid"])
    assert pd.api.types.is_integer_dtype(labels["prdtypecode"])
    assert listings["designation"].notna().all()
    for column in ("productid", "imageid"):
        assert listings[column].between(100_000, 9_999_999_999).all()


def test_ids_unique_except_exact_duplicate_rows(
    sample: SampleSummary, listings: pd.DataFrame, labels: pd.DataFrame
) -> None:
    repeated = listings.duplicated(keep="first")
    assert repeated.sum() == sample.blemishes["exact_duplicate_row"] >= 1
    originals = listings[~repeated]
    assert originals["productid"].is_unique
    assert originals["imageid"].is_unique
    # A repeated row carries the same label as the row it repeats.
    keyed = labels.join(listings[["productid"]])
    assert keyed.groupby("productid")["prdtypecode"].nunique().max() == 1


def test_relisted_duplicates_share_text_and_label_but_not_ids(
    sample: SampleSummary, listings: pd.DataFrame, labels: pd.DataFrame
) -> None:
    table = listings[~listings.duplicated()].join(labels).fillna({"description": ""})
    key = ["designation", "description"]
    relisted = table.groupby(key).filter(lambda group: len(group) > 1)
    assert sample.blemishes["relisted_duplicate"] >= 10
    # Every relist repeats an earlier text (short titles with no description may also
    # coincide by chance, even across related classes, as in the real catalog).
    assert len(relisted) >= sample.blemishes["relisted_duplicate"]
    described = relisted[relisted["description"] != ""].groupby(key)
    assert described.ngroups >= 3
    assert described["prdtypecode"].nunique().max() == 1
    assert (described["productid"].nunique() == described.size()).all()


def test_every_code_is_known_and_frequencies_follow_priors(tmp_path: Path) -> None:
    summary = generate_sample(tmp_path, n_listings=6000, n_images=0, priors=PRIORS, seed=1,
                              write_folder=False, write_zip=False)
    counts = pd.read_csv(summary.labels_csv, index_col=0)["prdtypecode"].value_counts()
    assert set(counts.index) <= set(PRIORS)
    assert counts.idxmax() == 2583
    total = sum(PRIORS.values())
    expected = {code: 6000 * count / total for code, count in PRIORS.items()}
    chi_square = sum(
        (counts.get(code, 0) - expected[code]) ** 2 / expected[code] for code in PRIORS
    )
    # 26 degrees of freedom: 54.1 is the 0.1% critical value.
    assert chi_square < 54.1, chi_square


def test_only_given_codes_are_drawn(tmp_path: Path) -> None:
    summary = generate_sample(tmp_path, n_listings=500, n_images=0, priors={10: 1, 2583: 3},
                              write_zip=False)
    codes = pd.read_csv(summary.labels_csv, index_col=0)["prdtypecode"]
    assert set(codes) == {10, 2583}
    assert 0.65 < (codes == 2583).mean() < 0.85


# ---------------------------------------------------------------------------------------
# Text realism.
# ---------------------------------------------------------------------------------------


def test_about_a_third_of_descriptions_are_empty(
    sample: SampleSummary, listings: pd.DataFrame
) -> None:
    empty = listings["description"].isna()
    assert empty.sum() == sample.blemishes["empty_description"]
    assert 0.28 < empty.mean() < 0.38


def test_descriptions_carry_html_entities_and_newlines(
    sample: SampleSummary, listings: pd.DataFrame
) -> None:
    descriptions = listings["description"].dropna()
    markup = descriptions.str.contains(TAG_OR_ENTITY)
    assert markup.sum() == sample.blemishes["html_description"]
    assert 0.3 < markup.mean() < 0.7
    for fragment in ("<br>", "<br />", "<p>", "</p>", "<b>", "<li>", "<ul>", '<span class="',
                     "&eacute;", "&#39;", "&agrave;", "&amp;eacute;", "\n"):
        assert descriptions.str.contains(fragment, regex=False).any(), fragment
    assert descriptions.str.contains('"').any()
    assert descriptions.str.contains(",").any()
    # Quotes and newlines survive the CSV round trip, so the file must quote them.
    raw = sample.listings_csv.read_text(encoding="utf-8")
    assert '""' in raw


def test_mojibake_rows_are_counted_exactly(sample: SampleSummary, listings: pd.DataFrame) -> None:
    garbled = listings["designation"].str.contains(MOJIBAKE) | listings[
        "description"
    ].fillna("").str.contains(MOJIBAKE)
    assert garbled.sum() == sample.blemishes["mojibake"]
    assert 0.01 <= garbled.mean() <= 0.04
    assert listings["designation"].str.contains("Ã©").any() or listings[
        "description"
    ].fillna("").str.contains("Ã©").any()


def test_mostly_french_with_german_and_english(
    sample: SampleSummary, listings: pd.DataFrame
) -> None:
    for language in ("german", "english"):
        assert 0.06 < sample.blemishes[language] / N_LISTINGS < 0.14, language
    titles = listings["designation"]
    assert titles.str.contains(r"\b(?:für|mit|Spiel|Karte|Zeitung|Kinder)\b").any()
    assert titles.str.contains(r"\b(?:for|with|Game|Card|Set of)\b").any()
    french = titles.str.contains(r"\b(?:de|du|des|pour|avec|en|la|le|les|à)\b|[éèàçê]")
    assert french.mean() > 0.45


def test_every_template_slot_resolves() -> None:
    slot = re.compile(r"\{(\w+)\}")
    vocab = vocabulary()
    for code, category in vocab.categories.items():
        for language in vocab.languages:
            block = category[language]
            assert block["titles"] and block["sentences"], (code, language)
            scopes = (block, category["shared"], vocab.common[language], vocab.neutral)
            pending = [*block["titles"], *block["sentences"],
                       *vocab.common[language]["generic"], "{condition}", "{ref}"]
            seen: set[str] = set()
            while pending:
                for name in slot.findall(pending.pop()):
                    if name in seen:
                        continue
                    seen.add(name)
                    pool = next((scope[name] for scope in scopes if name in scope), None)
                    assert pool is not None, (code, language, name)
                    pending.extend(value for value in pool if isinstance(value, str))


def _canonical(value: object) -> object:
    if isinstance(value, range):
        return {"range": [value.start, value.stop, value.step]}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    return value


# The loaded vocabulary's digest, first taken from the Python literals the YAML file replaced
# (the same digest, and the same generated sample, byte for byte). Editing the vocabulary on
# purpose changes it: update it then, with the two sample digests below.
VOCABULARY_SHA256 = "2e1c821ef78569200a52d793b17e10d5afedef1103d8add26d3b98b003ee7be8"
# X.csv and Y.csv of 1,500 listings, seed 11 (texts only: JPEG bytes depend on libjpeg).
SAMPLE_SHA256 = {
    "X.csv": "abe9c9a37cc112c76775d51d2c371bc9bab54bc877a0d478325c7050f5c0e7c1",
    "Y.csv": "531d0d7dd62f88665664539a4f88aca9ae24ef7bfe3fb209323af064d3ffe7f9",
}


def test_the_loaded_vocabulary_has_not_drifted() -> None:
    vocab = vocabulary()
    assert vocabulary() is vocab  # parsed once
    document = json.dumps(_canonical(vocab._asdict()), sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(document.encode()).hexdigest() == VOCABULARY_SHA256
    # The types the generator relies on: tuples and ranges, int category codes, read-only.
    assert all(isinstance(code, int) for code in vocab.categories)
    assert isinstance(vocab.neutral["n"], range) and isinstance(vocab.neutral["ref"], tuple)
    with pytest.raises(TypeError):
        vocab.common["fr"]["colour"] = ("x",)  # type: ignore[index]


def test_the_generated_catalog_text_has_not_drifted(tmp_path: Path) -> None:
    generate_sample(tmp_path, n_listings=1500, priors=PRIORS, seed=11, n_images=0,
                    write_folder=False, write_zip=False)
    assert file_digests(tmp_path) == SAMPLE_SHA256


def test_a_broken_vocabulary_file_is_named_in_the_error() -> None:
    good = """
languages: [fr]
language_weights: [1.0]
neutral: {n: !range [1, 13]}
common: {fr: {generic: ["Neuf."]}}
categories:
  10:
    shared: {}
    fr: {titles: ["Livre"], sentences: ["Un livre."]}
"""
    parsed = sample_vocab.parse(good)
    assert parsed.neutral["n"] == range(1, 13)
    assert parsed.categories[10]["fr"]["titles"] == ("Livre",)
    with pytest.raises(ValueError, match=r"test\.yaml: category 10 has no fr\.sentences"):
        sample_vocab.parse(good.replace('sentences: ["Un livre."]', "sentences: []"), "test.yaml")
    with pytest.raises(ValueError, match=r"missing top-level key\(s\) \['neutral'\]"):
        sample_vocab.parse(good.replace("neutral:", "neutre:"))
    with pytest.raises(Exception, match=r"!range takes \[start, stop\] integers"):
        sample_vocab.parse(good.replace("!range [1, 13]", "!range [1]"))


# ---------------------------------------------------------------------------------------
# Images.
# ---------------------------------------------------------------------------------------


def test_image_files_match_the_first_listings(
    sample: SampleSummary, listings: pd.DataFrame
) -> None:
    assert sample.images_dir is not None
    names = {path.name for path in sample.images_dir.iterdir()}
    assert all(IMAGE_NAME.fullmatch(name) for name in names)
    assert len(names) == sample.n_images
    with_image = listings.iloc[:N_IMAGES]
    expected = {
        f"image_{row.imageid}_product_{row.productid}.jpg" for row in with_image.itertuples()
    }
    # Exact duplicate rows point at a file that is written once.
    assert names == expected
    assert sample.n_images == N_IMAGES - with_image.duplicated().sum()
    pairs = {(int(m[1]), int(m[2])) for m in map(IMAGE_NAME.fullmatch, names) if m}
    without = sum(
        (row.imageid, row.productid) not in pairs for row in listings.itertuples()
    )
    assert without == sample.blemishes["listing_without_image"]


def test_zip_entries_equal_the_folder(sample: SampleSummary) -> None:
    assert sample.images_zip is not None and sample.images_dir is not None
    with zipfile.ZipFile(sample.images_zip) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    folder = {path.name: path.read_bytes() for path in sample.images_dir.iterdir()}
    assert entries == {f"image_train/{name}": data for name, data in folder.items()}


def test_image_blemishes_are_what_pillow_sees(
    sample: SampleSummary, image_kinds: dict[str, str]
) -> None:
    assert sample.images_dir is not None
    counts = Counter(image_kinds.values())
    for kind in ("blank", "tiny", "corrupt", "truncated"):
        assert counts[kind] == sample.blemishes[f"{kind}_image"] >= 1, kind
    assert counts["normal"] > 0.9 * sample.n_images
    for name, kind in image_kinds.items():
        if kind == "normal":
            with Image.open(sample.images_dir / name) as image:
                assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (500, 500))


def test_relisted_duplicates_reuse_the_same_image_bytes(
    sample: SampleSummary, listings: pd.DataFrame, image_kinds: dict[str, str]
) -> None:
    assert sample.images_dir is not None
    by_digest: dict[str, list[str]] = {}
    for name, kind in image_kinds.items():
        if kind == "normal":  # blank files of one colour are identical anyway
            digest = hashlib.sha256((sample.images_dir / name).read_bytes()).hexdigest()
            by_digest.setdefault(digest, []).append(name)
    shared = [names for names in by_digest.values() if len(names) > 1]
    assert shared, "expected relisted duplicates among the listings with images"
    table = listings.drop_duplicates().fillna({"description": ""})
    table = table.set_index(["imageid", "productid"])
    for names in shared:
        texts = set()
        for name in names:
            imageid, productid = (int(part) for part in IMAGE_NAME.fullmatch(name).groups())
            row = table.loc[(imageid, productid)]
            texts.add((row["designation"], row["description"]))
        assert len(texts) == 1, names


def test_small_image_size_still_has_every_blemish(tmp_path: Path) -> None:
    summary = generate_sample(tmp_path, n_listings=300, n_images=200, priors=PRIORS, seed=9,
                              image_size=64, write_zip=False)
    assert summary.images_zip is None and summary.images_dir is not None
    assert set(summary.blemishes) == set(BLEMISH_KINDS)
    for kind in ("blank_image", "tiny_image", "corrupt_image", "truncated_image",
                 "exact_duplicate_row"):
        assert summary.blemishes[kind] >= 1, kind
    for path in summary.images_dir.iterdir():
        if image_kind(path.read_bytes()) in ("normal", "blank"):
            with Image.open(path) as image:
                assert image.size == (64, 64)


# ---------------------------------------------------------------------------------------
# Streaming, progress and arguments.
# ---------------------------------------------------------------------------------------


def test_streams_rows_to_disk_as_they_are_generated(tmp_path: Path) -> None:
    sizes: list[int] = []

    def on_progress(done: int, total: int) -> None:
        sizes.append((tmp_path / "X.csv").stat().st_size)

    started = time.perf_counter()
    summary = generate_sample(tmp_path, n_listings=20_000, n_images=0, priors=PRIORS, seed=2,
                              write_zip=False, progress=on_progress)
    elapsed = time.perf_counter() - started
    assert summary.n_listings == 20_000 and summary.n_images == 0
    assert elapsed < 60, elapsed  # ~1 s on an idle core; generous for loaded CI machines
    # Rows reach the file while the generator runs, not in one go at the end.
    assert len(sizes) == 20 and sizes[0] > 0
    assert all(later > earlier for earlier, later in zip(sizes, sizes[1:], strict=False))


def test_memory_does_not_grow_with_the_number_of_listings(tmp_path: Path) -> None:
    """Peak RSS of a 20,000-row run stays close to a 2,000-row run's (separate processes)."""
    script = (
        "import json, resource, sys\n"
        "from catalog_classifier.sample.generator import generate_sample\n"
        "generate_sample(sys.argv[1], n_listings=int(sys.argv[2]), n_images=0,\n"
        "                priors={int(k): v for k, v in json.loads(sys.argv[3]).items()},\n"
        "                write_zip=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    lib = str(Path(sample_module.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")])}

    def peak_kib(n_listings: int) -> int:
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / str(n_listings)), str(n_listings),
             json.dumps(PRIORS)],
            env=env, capture_output=True, text=True, check=True,
        )
        return int(done.stdout.split()[-1])

    small, large = peak_kib(2_000), peak_kib(20_000)
    # Holding 20,000 rows would take ~10 MB; the bounded window of recent rows takes none
    # extra once full (1,000 rows).
    assert large - small < 4 * 1024, (small, large)


def test_progress_reports_the_end_once(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_sample(tmp_path, n_listings=2500, n_images=0, priors=PRIORS, write_zip=False,
                    progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1000, 2500), (2000, 2500), (2500, 2500)]


def test_rerun_in_the_same_folder_removes_stale_images(tmp_path: Path) -> None:
    generate_sample(tmp_path, n_listings=30, priors=PRIORS, seed=1, image_size=32)
    summary = generate_sample(tmp_path, n_listings=10, priors=PRIORS, seed=2, image_size=32)
    assert summary.images_dir is not None
    assert len(list(summary.images_dir.iterdir())) == summary.n_images


@pytest.mark.parametrize(
    "arguments",
    [
        {"priors": {}},
        {"priors": {12345: 10}},
        {"priors": {10: 0}},
        {"n_listings": -1},
        {"n_images": -5},
        {"jpeg_quality": 0},
        {"image_size": 4},
    ],
)
def test_rejects_bad_arguments(tmp_path: Path, arguments: dict) -> None:
    call = {"n_listings": 10, "priors": PRIORS, **arguments}
    with pytest.raises(ValueError):
        generate_sample(tmp_path, **call)


def test_blank_jpeg_decodes_to_one_colour() -> None:
    # The property the blemish classification above relies on.
    buffer = io.BytesIO()
    Image.new("RGB", (500, 500), (12, 200, 77)).save(buffer, "JPEG", quality=85)
    assert image_kind(buffer.getvalue()) == "blank"
