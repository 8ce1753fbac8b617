"""Text features of listings: cleaning that keeps meaning, simple measures, detected language.

Everything here is a pure function: of a string, of a pandas frame (run by Spark's
``mapInPandas`` on the executors), or of a Spark DataFrame. Reading and writing the tables is the
job of :mod:`catalog_classifier.stages.features`.
"""

from __future__ import annotations

import html
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import ftfy
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog_classifier.logs import worker_logger
from catalog_classifier.storage.tables import SILVER_TEXT_FEATURES

log = logging.getLogger(__name__)

# Between designation and description in ``text``: keeps the title a sentence of its own.
TEXT_SEPARATOR = " . "
# Entities nest (``&amp;eacute;`` is ``&eacute;`` escaped once more); a few rounds reach the fixed
# point of any real text, and the bound keeps a pathological input from looping long.
MAX_UNESCAPE_ROUNDS = 5
# Block-level tags separate words (``valeur</p><p>Un``): they become a space. Inline tags
# (``<b>``, ``<span>``) can sit inside a word and are removed without one.
_BLOCK_TAGS = (
    "address|article|blockquote|br|dd|div|dl|dt|footer|h[1-6]|header|hr|li|ol|p|pre|section|"
    "table|tbody|td|tfoot|th|thead|tr|ul"
)
_BLOCK_TAG = re.compile(rf"</?\s*(?:{_BLOCK_TAGS})\b[^<>]*>", re.IGNORECASE)
# A tag starts with a letter (or ``/``, ``!``): ``a < b`` in a sentence is not a tag.
_ANY_TAG = re.compile(r"<[/!]?[A-Za-z][^<>]*>")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Removing a tag can join the pieces of another (``<<b>script>``), and decoding entities can make
# one (``&lt;script&gt;``): both are repeated until nothing changes. Real text needs a round or
# two; nesting deeper than this (a hostile input, quadratic to peel) has its tag openers dropped.
MAX_STRIP_ROUNDS = 20
# What opens a tag, with any ``<``, ``!`` and ``/`` before its name (``<<a``, ``<!<a``), so that
# dropping it cannot join a new one.
_TAG_OPENER = re.compile(r"<[<!/]*(?=[A-Za-z])")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
# The only characters of ASCII text that ftfy.fix_text can change besides line breaks: the
# control characters its remove_control_chars (and remove_terminal_escapes) strip.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# HTML was handled before ftfy, so it must not guess about it.
_FTFY_CONFIG = ftfy.TextFixerConfig(unescape_html=False, normalization="NFC", explain=False)

# Languages the detector may answer: the catalog's (French, then German and English) and the few
# others present in the data. Restricting the set makes short titles far more reliable.
DEFAULT_LANGUAGES: tuple[str, ...] = ("fr", "en", "de", "es", "it", "nl", "pt")
# Characters of designation + description given to the detector: enough for a reliable answer.
LANGUAGE_SAMPLE_CHARS = 600


def unescape_html(text: str) -> str:
    """Decode HTML entities until the text stops changing (``&amp;eacute;`` -> ``é``)."""
    for _ in range(MAX_UNESCAPE_ROUNDS):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def strip_tags(text: str) -> str:
    """Remove HTML tags and comments until none is left; block tags leave a space so words
    stay apart. No tag survives: ``<<script>script>`` gives no ``<script>``."""
    for _ in range(MAX_STRIP_ROUNDS):
        stripped = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", _HTML_COMMENT.sub(" ", text)))
        if stripped == text:
            return text
        text = stripped
    return _TAG_OPENER.sub("", text)


def clean_text(text: str | None) -> str | None:
    """Readable text with its original case: entities, tags, mojibake, Unicode, whitespace.

    ``None`` and text that is empty once cleaned give ``None`` (a missing description).
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    text = strip_tags(unescape_html(text))
    # Tags removed, the text may carry entities that were hidden inside them, or escaped twice,
    # and decoding them may make new tags (``&<b></b>lt;script&gt;``): until nothing changes.
    # Past the bound the text is left with its entities undecoded: still no tag.
    for _ in range(MAX_STRIP_ROUNDS):
        decoded = unescape_html(text)
        if decoded == text:
            break
        text = strip_tags(decoded)
    if not text.isascii() or _ASCII_CONTROL.search(text):
        # ftfy repairs mojibake (UTF-8 read as Latin-1/Windows-1252: ``Ã©`` -> ``é``) and odd
        # characters. On ASCII text without control characters it can only turn \r\n and \r
        # into \n, which the whitespace rule below makes a space anyway: skipping it there gives
        # the same text (tests/test_text_features.py checks this against ftfy).
        text = ftfy.fix_text(text, _FTFY_CONFIG)
        text = unicodedata.normalize("NFC", text)
        # ftfy turns full-width signs into ASCII (``＜script＞`` -> ``<script>``).
        if _ANY_TAG.search(text):
            text = strip_tags(text)
    text = _WHITESPACE.sub(" ", text).strip()
    return text or None


def join_text(designation: str | None, description: str | None) -> str:
    """``designation . description`` (just the designation when there is no description)."""
    parts = [p for p in (designation, description) if p]
    return TEXT_SEPARATOR.join(parts)


def count_words(text: str | None) -> int:
    return len(_WORD.findall(text)) if text else 0


def character_shares(text: str) -> tuple[float, float]:
    """(digits / non-space characters, uppercase letters / letters), 0 when undefined.

    Each distinct character is classified once, weighted by its count: a listing has a few
    dozen distinct characters for hundreds of characters.
    """
    visible = letters = digits = upper = 0
    for char, count in Counter(text).items():
        if char.isspace():
            continue
        visible += count
        if char.isdigit():
            digits += count
        if char.isalpha():
            letters += count
            if char.isupper():
                upper += count
    return (
        digits / visible if visible else 0.0,
        upper / letters if letters else 0.0,
    )


@lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


def language_features(identifier: Any, text: str) -> np.ndarray:
    """py3langid's ``instance2fv``: how often each of the model's byte n-grams occurs in ``text``.

    The same automaton walk and the same uint16 vector, without its per-byte list building and
    Counter (the walk was most of a listing's time).
    """
    next_move = identifier.tk_nextmove
    output = identifier.tk_output
    state = 0
    hits: list[int] = []
    for byte in text.encode("utf8", errors="surrogatepass"):
        state = next_move[(state << 8) + byte]
        found = output.get(state)
        if found:
            hits.extend(found)
    counts = np.bincount(np.asarray(hits, dtype=np.intp), minlength=identifier.nb_numfeats)
    return counts.astype(np.uint16)


def detect_language(
    text: str | None, languages: Sequence[str] = DEFAULT_LANGUAGES
) -> tuple[str | None, float | None]:
    """(ISO 639-1 code, probability) of ``text``, or (None, None) when it has no letters.

    py3langid (a maintained, offline langid.py: naive Bayes over byte n-grams), classifying as
    its ``classify`` does from :func:`language_features`; the lowercase form is used, as title
    case confuses it.
    """
    if not text or not any(c.isalpha() for c in text):
        return None, None
    identifier = _identifier(tuple(languages))
    features = language_features(identifier, text[:LANGUAGE_SAMPLE_CHARS].lower())
    probabilities = identifier.norm_probs(identifier.nb_classprobs(features))
    best = np.argmax(probabilities)
    return str(identifier.nb_classes[best]), float(probabilities[best])


TEXT_FEATURE_COLUMNS = [c.name for c in SILVER_TEXT_FEATURES.columns]


def text_features_pandas(
    listings: pd.DataFrame, computed_at: datetime, languages: Sequence[str] = DEFAULT_LANGUAGES
) -> pd.DataFrame:
    """Bronze listing rows (productid, designation, description, content_sha256) -> feature rows.

    A row whose text breaks a cleaning step keeps its measures from the raw text and gets the
    reason in ``problem``: one bad listing never stops the batch.
    """
    rows: list[dict[str, Any]] = []
    for productid, designation, description, content_sha256 in zip(
        listings["productid"],
        listings["designation"],
        listings["description"],
        listings["content_sha256"],
        strict=True,
    ):
        problem = None
        try:
            designation_clean = clean_text(designation) or ""
            description_clean = clean_text(description)
        except Exception as exc:  # noqa: BLE001 - a cleaning bug must not lose the listing
            log.warning("listing %s: text cleaning failed: %r", productid, exc)
            problem = f"cleaning_failed: {type(exc).__name__}: {exc}"[:500]
            designation_clean = str(designation or "")
            description_clean = None if description is None else str(description)
        text = join_text(designation_clean, description_clean)
        language, language_probability = detect_language(text, languages)
        digit_share, uppercase_share = character_shares(text)
        rows.append(
            {
                "productid": int(productid),
                "content_sha256": content_sha256,
                "designation_clean": designation_clean,
                "description_clean": description_clean,
                "text": text,
                "text_lower": text.lower(),
                "designation_chars": len(designation_clean),
                "designation_words": count_words(designation_clean),
                "description_chars": len(description_clean) if description_clean else 0,
                "description_words": count_words(description_clean),
                "has_description": description_clean is not None,
                "language": language,
                "language_probability": language_probability,
                "digit_share": digit_share,
                "uppercase_share": uppercase_share,
                "problem": problem,
                "computed_at": computed_at,
            }
        )
    frame = pd.DataFrame(rows, columns=TEXT_FEATURE_COLUMNS)
    return frame


def text_features(
    listings: DataFrame, computed_at: datetime, languages: Sequence[str] = DEFAULT_LANGUAGES
) -> DataFrame:
    """Bronze listings -> rows of silver.text_features, computed on the executors."""
    languages = tuple(languages)
    # computed_at is one literal for the run: added by Spark, not carried through Arrow.
    schema = T.StructType(
        [f for f in SILVER_TEXT_FEATURES.spark_schema().fields if f.name != "computed_at"]
    )

    def compute(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        worker_log = worker_logger(__name__)
        for batch in batches:
            started, cpu_started = time.monotonic(), time.process_time()
            features = text_features_pandas(batch, computed_at, languages)
            elapsed = time.monotonic() - started
            # CPU well under the elapsed time: the worker waited for a core (a busy machine).
            worker_log.info(
                "text features: %d listings in %.2f s, %.2f s CPU (%.0f listings/s)",
                len(batch),
                elapsed,
                time.process_time() - cpu_started,
                len(batch) / elapsed if elapsed else 0.0,
            )
            yield features.drop(columns=["computed_at"])

    return (
        listings.select("productid", "designation", "description", "content_sha256")
        .mapInPandas(compute, schema)
        .withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
    )
