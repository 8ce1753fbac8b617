"""Spark NLP's text preparation for the TF-IDF member's word n-grams (``train.tfidf.
word_tokenizer: spark_nlp``): DocumentAssembler -> Tokenizer -> Normalizer -> StopWordsCleaner
-> Finisher, the annotators running in the JVM (no Python worker), saved and loaded with the
Spark ML pipeline around them.

Spark NLP is built here for the Spark 3.5 line only (docs/stack.md): its Python package comes
with the ``spark35`` extra and its jars with pom.xml's ``spark35`` profile. On the Spark 4 line
asking for it is a one-line :class:`SparkNlpUnavailable`. Nothing here calls
``sparknlp.start()`` (it resolves artifacts that are not served) or ``pretrained()`` (it
downloads): every stage is built from its parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# What separates words inside a whitespace-delimited token, and what the Normalizer removes: any
# character but letters and digits of any script (as the Spark ML tokenizer's gaps pattern).
# Without the split, Spark NLP's Tokenizer keeps ``l'écran`` or ``15-da0`` as one token and the
# Normalizer glues its pieces (``lécran``). Its splitChars are joined into a regex unescaped.
NOT_A_WORD_CHARACTER = r"[^\p{L}\p{N}]"


class SparkNlpUnavailable(RuntimeError):
    """Spark NLP's Python package or jars are missing from this install."""


def require_spark_nlp() -> Any:
    """The ``sparknlp`` package, or a one-line error saying how to get it."""
    try:
        import sparknlp
    except ImportError as exc:
        raise SparkNlpUnavailable(
            "train.tfidf.word_tokenizer: spark_nlp needs Spark NLP, installed with the Spark 3.5 "
            "line only (make install SPARK_LINE=spark35); use spark_ml on the Spark 4 line"
        ) from exc
    return sparknlp


def word_token_stages(
    input_col: str, output_col: str, stop_words: Sequence[str], prefix: str
) -> list[Any]:
    """Stages reading the lowercase text ``input_col`` into ``output_col``: its words (letters
    and digits), lowercased, without ``stop_words`` (case-insensitive), as an array of strings;
    the annotation columns are dropped by the Finisher."""
    require_spark_nlp()
    from sparknlp.annotator import Normalizer, StopWordsCleaner, Tokenizer
    from sparknlp.base import DocumentAssembler, Finisher

    document, tokens, words, kept = (
        f"{prefix}nlp_{name}" for name in ("doc", "tok", "norm", "kept")
    )
    return [
        DocumentAssembler().setInputCol(input_col).setOutputCol(document).setCleanupMode("shrink"),
        Tokenizer()
        .setInputCols([document])
        .setOutputCol(tokens)
        .setSplitPattern(NOT_A_WORD_CHARACTER),
        Normalizer()
        .setInputCols([tokens])
        .setOutputCol(words)
        .setLowercase(True)
        .setCleanupPatterns([NOT_A_WORD_CHARACTER]),
        StopWordsCleaner()
        .setInputCols([words])
        .setOutputCol(kept)
        .setStopWords(list(stop_words))
        .setCaseSensitive(False),
        Finisher()
        .setInputCols([kept])
        .setOutputCols([output_col])
        .setOutputAsArray(True)
        .setCleanAnnotations(True),
    ]


def uses_spark_nlp(stages: Sequence[Any]) -> bool:
    """Whether a fitted pipeline's stages hold Spark NLP annotators."""
    return any(type(stage).__module__.startswith("sparknlp") for stage in stages)
