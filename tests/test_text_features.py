"""Text cleaning rules and measures, on real strings of ../shared/data/rakuten/X_train.csv."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from catalog_classifier.features.text import (
    DEFAULT_LANGUAGES,
    LANGUAGE_SAMPLE_CHARS,
    character_shares,
    clean_text,
    count_words,
    detect_language,
    join_text,
    strip_tags,
    text_features_pandas,
    unescape_html,
)


@pytest.fixture(scope="module")
def listings(real_data) -> pd.DataFrame:
    # Only an empty field is missing: "NA" in a title is text.
    frame = pd.read_csv(
        real_data / "X_train.csv", index_col=0, keep_default_na=False, na_values=[""]
    )
    frame["description"] = (
        frame["description"].astype(object).where(frame["description"].notna(), None)
    )
    return frame.set_index("productid")


def test_double_escaped_entities_are_decoded_until_stable(listings):
    raw = listings.loc[278548075, "description"]
    assert "d&amp;apos;importantes" in raw and "Ap&ocirc;tres" in raw
    cleaned = clean_text(raw)
    assert "d'importantes" in cleaned and "Apôtres" in cleaned and "leçons" in cleaned
    assert "&" not in cleaned
    assert unescape_html("&amp;amp;eacute;") == "é"


def test_tags_are_removed_and_block_tags_keep_words_apart(listings):
    raw = listings.loc[201115110, "description"]
    assert "Wii U.<br> Pour" in raw
    assert "Wii U. Pour un confort" in clean_text(raw)
    paragraphs = listings.loc[3856414984, "description"]
    assert paragraphs.startswith("<p>Créez")
    cleaned = clean_text(paragraphs)
    assert cleaned.startswith("Créez un endroit") and "l'écart" in cleaned and "<" not in cleaned
    # Inline tags sit inside words; a block tag between two words must not glue them.
    assert strip_tags("<b>L</b>ot de 30") == "Lot de 30"
    assert clean_text("valeur</p><p>Un parement") == "valeur Un parement"
    # A comparison in a sentence is not a tag.
    assert clean_text("taille 3 < 5 et 7 > 6") == "taille 3 < 5 et 7 > 6"


def _tags_a_browser_sees(text: str) -> list[str]:
    """The start and end tags an HTML parser finds in ``text``."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: Any) -> None:
            found.append(tag)

        def handle_endtag(self, tag: str) -> None:
            found.append("/" + tag)

    parser = Tags()
    parser.feed(text)
    parser.close()
    return found


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("<<script>script>alert(3)<</script>/script>", "alert(3)"),
        ("<sc<script>ript>alert(1)</sc</script>ript>", "alert(1)"),
        ("<scr<b></b>ipt>alert(2)</scr<i></i>ipt>", "alert(2)"),
        ("<<<script>script>script>alert(4)", "alert(4)"),
        ("&<b></b>lt;script&<b></b>gt;alert(5)", "alert(5)"),  # entities split by tags
        ("&amp;lt;img src=x onerror=alert(6)&amp;gt;", None),  # escaped twice
        ("\uff1cscript\uff1ealert(7)", "alert(7)"),  # full-width signs ftfy makes ASCII
        ("<!<!-- x -->--><b>gras</b>", "<! -->gras"),
        # Deeper than the rounds: the tag openers left are dropped, the rest stays text.
        ("<" * 60 + "i>" * 60 + "deep", "i>" * 40 + "deep"),
    ],
)
def test_nested_tags_never_leave_a_live_tag(raw, cleaned):
    """Removing one tag must not assemble another: stripping runs to a fixed point."""
    result = clean_text(raw)
    assert _tags_a_browser_sees(result or "") == []
    assert result == cleaned or cleaned is None
    assert _tags_a_browser_sees(strip_tags(raw)) == []


def test_mojibake_is_repaired(listings):
    raw = listings.loc[4108914287, "description"]
    assert "<br />Â· Accueil" in raw
    cleaned = clean_text(raw)
    assert "MATELAS: · Accueil : Ferme . · Soutien : Très Ferme" in cleaned
    assert "Â" not in cleaned
    assert clean_text("CrÃ©ez un endroit calme") == "Créez un endroit calme"


def test_empty_descriptions_and_whitespace(listings):
    assert listings.loc[3804725264, "description"] is None
    assert clean_text(None) is None
    assert clean_text("  <br/>&nbsp; \n ") is None
    assert clean_text("a\t\tb \n c") == "a b c"
    assert join_text("Titre", None) == "Titre"
    assert join_text("Titre", "Texte") == "Titre . Texte"


def test_unicode_is_normalized_to_nfc():
    decomposed = "Cre\u0301ez"
    assert clean_text(decomposed) == "Cr\u00e9ez"


def test_language_of_french_german_english_and_italian_listings(listings):
    expected = {
        278548075: "fr",
        3856414984: "fr",
        3804725264: "de",
        1832987245: "de",
        1915836983: "en",
        767597170: "it",
    }
    for productid, language in expected.items():
        row = listings.loc[productid]
        text = join_text(clean_text(row["designation"]), clean_text(row["description"]))
        detected, probability = detect_language(text)
        assert detected == language, (productid, detected, text[:80])
        assert 0.5 < probability <= 1.0
    assert detect_language("1234 - 56") == (None, None)


def test_measures():
    assert count_words("Lot de 30 spots GU10") == 5
    assert count_words(None) == 0
    digits, upper = character_shares("AB cd 12")
    assert digits == pytest.approx(2 / 6) and upper == pytest.approx(0.5)
    assert character_shares("   ") == (0.0, 0.0)


def test_features_of_every_real_listing_have_no_nulls_where_due(listings):
    batch = listings.reset_index()[["productid", "designation", "description"]].assign(
        content_sha256="x"
    )
    features = text_features_pandas(batch, datetime.now(UTC))
    assert len(features) == len(listings) == 2370
    assert features["productid"].is_unique
    required = [
        "designation_clean",
        "text",
        "text_lower",
        "designation_chars",
        "description_chars",
        "has_description",
        "digit_share",
        "uppercase_share",
    ]
    assert features[required].notna().all().all()
    assert features["problem"].isna().all()
    # Every listing has letters, so every listing gets a language.
    assert features["language"].notna().all()
    assert (features["has_description"] == features["description_clean"].notna()).all()
    assert features["has_description"].sum() == listings["description"].notna().sum() - sum(
        clean_text(d) is None for d in listings["description"].dropna()
    )
    share = features["language"].value_counts(normalize=True)
    assert share.index[0] == "fr" and share["fr"] > 0.7
    assert not features["text"].str.contains("&amp;|<br", regex=True).any()


# The cleaning, shares and language code as they were before the speed work of issue 15: the
# fast code must give the same values on every real listing and on the cases below.
def reference_clean_text(text: str | None) -> str | None:
    import unicodedata

    import ftfy

    if text is None:
        return None
    text = unescape_html(text)
    text = strip_tags(text)
    text = unescape_html(text)
    text = ftfy.fix_text(text, unescape_html=False, normalization="NFC")
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text or None


def reference_character_shares(text: str) -> tuple[float, float]:
    visible = [c for c in text if not c.isspace()]
    letters = [c for c in visible if c.isalpha()]
    digits = sum(c.isdigit() for c in visible)
    upper = sum(c.isupper() for c in letters)
    return (
        digits / len(visible) if visible else 0.0,
        upper / len(letters) if letters else 0.0,
    )


@functools.cache
def reference_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(DEFAULT_LANGUAGES))
    return identifier


def reference_detect_language(text: str) -> tuple[str | None, float | None]:
    if not text or not any(c.isalpha() for c in text):
        return None, None
    language, probability = reference_identifier().classify(text[:LANGUAGE_SAMPLE_CHARS].lower())
    return str(language), float(probability)


EDGE_CASES = [
    "a\r\nb\rc",
    "\r\n  Titre  \r",
    "x\x00y\x07z",
    "\x1b[31mrouge\x1b[0m vif",
    "tab\there\x0cform\x0bvt\x7fdel\x1fus",
    "CrÃ©ez un endroit calme",
    "Cre\u0301ez",
    "\ufb01n de s\u00e9rie \uff26\uff55\uff4c\uff4c",
    "\u201cguillemets\u201d et \u2018apostrophes\u2019",
    "ligne\u2028s\u00e9par\u00e9e\u2029paragraphe\x85suite",
    "espace\u00a0ins\u00e9cable",
    "Â· Accueil &amp;eacute;<br>fin",
    "ÉTÉ 2024 ² ³ ½ Ⅻ ٣",
    "   ",
    "",
    "1234 - 56",
    "Plain ASCII title, nothing to fix",
]


def test_cleaning_shares_and_language_are_unchanged(listings):
    texts = [*listings["designation"], *listings["description"].dropna(), *EDGE_CASES]
    for raw in texts:
        cleaned = clean_text(raw)
        assert cleaned == reference_clean_text(raw), raw[:80]
        for text in {raw, cleaned or ""}:
            assert character_shares(text) == reference_character_shares(text), text[:80]
    for designation, description in zip(
        listings["designation"], listings["description"], strict=True
    ):
        text = join_text(clean_text(designation), clean_text(description))
        assert detect_language(text) == reference_detect_language(text), text[:80]
    for text in EDGE_CASES:
        assert detect_language(text) == reference_detect_language(text), text
