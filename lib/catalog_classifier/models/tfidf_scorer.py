"""The TF-IDF member's features and linear layer in plain numpy and Arrow: Spark ML's fitted
pipeline (tokenizer, stop words, n-grams, vocabularies, IDF, normaliser, assembler) reproduced
for a batch of texts at a time, so scoring applies the member inside the fused pandas UDF.

Hand-written on the hot path: ``benchmarks/score.py`` measured it several times faster than
running the Spark ML pipeline before the UDF, and tests check its features and probabilities
equal to Spark ML's (``tests/test_tfidf_scorer.py``, ``tests/test_scoring.py``). A pipeline with
a stage or wiring it does not reproduce gets None from :func:`tfidf_scorer`, and the member falls
back to Spark ML.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from catalog_classifier.models.calibration import softmax

log = logging.getLogger(__name__)

# Letters and digits of any script make words; everything else separates them (the Spark ML
# tokenizer's gaps pattern, Java regex syntax).
WORD_PATTERN = r"[^\p{L}\p{N}]+"

LINEAR_FILE = "linear.safetensors"
SCORER_FILE = "scorer.json"
SCORER_TENSORS = "scorer.safetensors"


class FittedTfidf(Protocol):
    """What :func:`tfidf_scorer` reads of a fitted ``models.tfidf.TfidfModel``."""

    pipeline: Any
    coef: Any
    intercept: Any


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


# ------------------------------------------------------------------ the Python apply path


@dataclass(frozen=True)
class _TokenSource:
    """How one CountVectorizer's input column is made from the text: a RegexTokenizer (or the
    characters, for an empty pattern with gaps), optional stop-word removal, an optional NGram."""

    pattern: str
    gaps: bool
    lowercase: bool
    min_length: int
    stop_words: frozenset[str] | None
    case_sensitive: bool
    n: int  # 1: the tokens themselves

    @property
    def chars(self) -> bool:
        return self.pattern == "" and self.gaps and self.stop_words is None


@dataclass(frozen=True)
class _Group:
    source: _TokenSource
    vocabulary: tuple[str, ...]
    binary: bool
    min_tf: float
    idf: np.ndarray | None  # None: the counts go to the assembler without IDF


class TfidfScorer:
    """The fitted TF-IDF model applied in plain Python: the same features as the Spark ML
    pipeline (tokenisers, stop words, n-grams, vocabularies, IDF, assembler, normaliser), then
    the linear softmax layer, for a batch of texts at a time.

    Spark ML's featurizer passes every stage's output through Spark's row format (arrays of
    strings, vectors), about 2-4 ms of CPU a listing here; this does the same arithmetic in
    about a tenth of it. Java's semantics are kept where Python's differ: the character
    tokenizer splits UTF-16 code units, and a lone surrogate becomes '?' as it does when Spark
    stores it as a string. ``tfidf_scorer`` returns None for pipelines it does not cover.
    """

    def __init__(
        self,
        groups: Sequence[_Group],
        input_col: str,
        p: float | None,
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> None:
        self.groups = tuple(groups)
        self.input_col = input_col
        self.p = p
        self.weights = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        offsets, idf_parts = [], []
        offset = 0
        for group in groups:
            offsets.append(offset)
            size = len(group.vocabulary)
            idf_parts.append(np.ones(size) if group.idf is None else np.asarray(group.idf, float))
            offset += size
        self.n_features = offset
        self.idf = np.concatenate(idf_parts) if idf_parts else np.zeros(0)
        if self.weights.shape[0] != self.n_features:
            raise ValueError(
                f"tfidf: {self.n_features} features but coefficients for {self.weights.shape[0]}"
            )
        # Binary groups whose threshold is one occurrence need only which terms occur: their
        # vocabularies merge into one dict per token stream (char n-grams as plain substrings);
        # n-grams of different n cannot collide (different lengths, or numbers of spaces).
        streams: dict[tuple, tuple[list[_TokenSource], dict[str, int]]] = {}
        self.counted: list[tuple[_TokenSource, dict[str, int], _Group]] = []
        for group, start in zip(groups, offsets, strict=True):
            source = group.source
            vocab = {term: start + i for i, term in enumerate(group.vocabulary)}
            if source.chars:
                # "a b c" (chars joined by spaces) -> "abc": one lookup per substring.
                vocab = {
                    t[::2]: i
                    for t, i in vocab.items()
                    if len(t) == 2 * source.n - 1 and t[1::2] == " " * (source.n - 1)
                }
            sources, merged = streams.setdefault(_stream_key(source), ([], {}))
            if group.binary and group.min_tf in (0.0, 1.0) and not merged.keys() & vocab.keys():
                merged.update(vocab)
                sources.append(source)
            else:
                self.counted.append((source, vocab, group))
        self.streams = []  # token streams looked up per row in Python
        self.char_streams = []  # character n-grams looked up for a whole batch in numpy
        self.word_streams = []  # word n-grams made and looked up for a whole batch in Arrow
        for sources, merged in streams.values():
            if not sources:
                continue
            ns = [s.n for s in sources]
            if sources[0].chars:
                index = _CharGramIndex.build(merged, ns)
                if index is not None:
                    self.char_streams.append((sources[0], index))
                    continue
            else:
                words = _WordGramIndex.build(sources[0], merged, ns)
                if words is not None:
                    self.word_streams.append(words)
                    continue
            self.streams.append((sources, sorted(set(ns)), merged))

    # -- tokens, exactly as Spark ML makes them

    @staticmethod
    def _java_units(text: str) -> str:
        """The text as Java's chars: a code point above U+FFFF is two surrogates, each '?'."""
        if text.isascii() or max(text) <= "\uffff":
            return text
        return "".join("??" if ord(c) > 0xFFFF else c for c in text)

    @staticmethod
    def _java_length(token: str) -> int:
        return len(token) + sum(ord(c) > 0xFFFF for c in token)

    def _tokens(self, source: _TokenSource, text: str, cache: dict) -> list[str]:
        key = ("tok", source.pattern, source.gaps, source.lowercase, source.min_length)
        tokens = cache.get(key)
        if tokens is None:
            import regex

            value = text.lower() if source.lowercase else text
            if source.pattern == "" and source.gaps:
                tokens = list(self._java_units(value))
            elif source.gaps:
                tokens = regex.split(source.pattern, value)
            else:
                tokens = regex.findall(source.pattern, value)
            if source.min_length <= 1:
                tokens = [t for t in tokens if t]
            else:
                tokens = [t for t in tokens if self._java_length(t) >= source.min_length]
            cache[key] = tokens
        if source.stop_words is not None:
            skey = ("stop", *key[1:], source.stop_words, source.case_sensitive)
            kept = cache.get(skey)
            if kept is None:
                if source.case_sensitive:
                    kept = [t for t in tokens if t not in source.stop_words]
                else:
                    kept = [t for t in tokens if t.lower() not in source.stop_words]
                cache[skey] = kept
            tokens = kept
        return tokens

    def _grams(self, source: _TokenSource, text: str, cache: dict) -> list[str]:
        tokens = self._tokens(source, text, cache)
        n = source.n
        if n == 1:
            return tokens
        if source.chars:
            chars = "".join(tokens)
            return [chars[i : i + n] for i in range(len(chars) - n + 1)]
        return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]

    def _row(self, text: str) -> tuple[list[int], list[float]]:
        cache: dict = {}
        found: set[int] = set()
        for sources, ns, vocab in self.streams:
            if sources[0].chars:
                chars = "".join(self._tokens(sources[0], text, cache))
                grams = {chars[i : i + n] for n in ns for i in range(len(chars) - n + 1)}
            else:
                grams = set()
                for source in sources:
                    grams.update(self._grams(source, text, cache))
            found.update(vocab[g] for g in grams if g in vocab)
        indices, values = list(found), [1.0] * len(found)
        for source, vocab, group in self.counted:
            terms = self._grams(source, text, cache)  # a list: repeats count
            counts: dict[int, float] = {}
            for g in terms:
                i = vocab.get(g)
                if i is not None:
                    counts[i] = counts.get(i, 0.0) + 1.0
            threshold = group.min_tf if group.min_tf >= 1.0 else len(terms) * group.min_tf
            for i, c in counts.items():
                if c >= threshold:
                    indices.append(i)
                    values.append(1.0 if group.binary else c)
        return indices, values

    def _chars(self, source: _TokenSource, text: str) -> str:
        if source.min_length > 1:
            return ""
        return self._java_units(text.lower() if source.lowercase else text)

    def features(self, texts: Sequence[str | None]) -> Any:
        """(rows, features) CSR matrix: the pipeline's ``features`` column."""
        present = [t or "" for t in texts]
        try:
            return self._features(present)
        except UnicodeEncodeError:  # a lone surrogate (never from Arrow): '?', as Java writes it
            return self._features([t.encode("utf-8", "replace").decode("utf-8") for t in present])

    def _features(self, texts: list[str]) -> Any:
        from scipy.sparse import csr_matrix

        size = len(texts)
        rows: list[int] = []
        indices: list[int] = []
        values: list[float] = []
        for r, text in enumerate(texts if self.streams or self.counted else ()):
            idx, tf = self._row(text)
            rows += [r] * len(idx)
            indices += idx
            values += tf
        row_parts = [np.asarray(rows, dtype=np.int64)]
        idx_parts = [np.asarray(indices, dtype=np.int64)]
        value_parts = [np.asarray(values, dtype=np.float64)]
        for words in self.word_streams:
            hit_rows, hit_idx = words.hits(texts)
            row_parts.append(hit_rows)
            idx_parts.append(hit_idx)
            value_parts.append(np.full(len(hit_rows), -1.0))  # binary: once per row, below
        for source, index in self.char_streams:
            hit_rows, hit_idx = index.hits([self._chars(source, t) for t in texts])
            row_parts.append(hit_rows)
            idx_parts.append(hit_idx)
            value_parts.append(np.full(len(hit_rows), -1.0))  # binary: once per row, below
        shape = (size, self.n_features)
        matrix = csr_matrix(
            (np.concatenate(value_parts), (np.concatenate(row_parts), np.concatenate(idx_parts))),
            shape=shape,
        )
        matrix.sum_duplicates()  # canonical: sorted, one entry per (row, term)
        term_values = np.where(matrix.data < 0, 1.0, matrix.data)  # a repeated char n-gram: 1
        cols, indptr = matrix.indices.astype(np.int64), matrix.indptr.astype(np.int64)
        row_of = np.repeat(np.arange(size), np.diff(indptr))
        data = term_values * self.idf[cols]
        pointers = np.asarray(indptr, dtype=np.int64)
        if self.p is not None:  # Spark's Normalizer: x / ||x||_p, unchanged when the norm is 0
            norms: np.ndarray  # float64 (numpy's stubs type a weighted bincount as integers)
            if self.p == np.inf:
                norms = np.zeros(size)
                np.maximum.at(norms, row_of, np.abs(data))
            elif self.p == 2.0:
                norms = np.sqrt(np.bincount(row_of, weights=data * data, minlength=size))
            elif self.p == 1.0:
                norms = np.bincount(row_of, weights=np.abs(data), minlength=size)
            else:
                sums = np.bincount(row_of, weights=np.abs(data) ** self.p, minlength=size)
                norms = sums ** (1.0 / self.p)
            norms[norms == 0.0] = 1.0
            data = data / norms[row_of]
        return csr_matrix((data, cols, pointers), shape=(len(texts), self.n_features))

    def predict(self, texts: Sequence[str | None]) -> np.ndarray:
        """(rows, classes) probabilities."""
        return softmax(self.features(texts) @ self.weights + self.intercept)

    def save(self, folder: Path, with_layer: bool) -> None:
        """The fitted stages as ``scorer.json`` (tokenisers, stop words, vocabularies) and
        ``scorer.safetensors`` (IDF weights, and the linear layer when ``with_layer``: the
        driver solver's ``linear.safetensors`` holds it otherwise), so that scoring needs no
        Spark ML read (a Spark job per stage, 8-14 s a run). Plain JSON and tensors: loading
        them runs no code."""
        from dataclasses import asdict

        from safetensors.numpy import save_file

        groups, tensors = [], {}
        for i, group in enumerate(self.groups):
            source = asdict(group.source)
            words = group.source.stop_words
            source["stop_words"] = None if words is None else sorted(words)
            groups.append(
                {
                    "source": source,
                    "vocabulary": list(group.vocabulary),
                    "binary": group.binary,
                    "min_tf": group.min_tf,
                    "idf": group.idf is not None,
                }
            )
            if group.idf is not None:
                tensors[f"idf_{i}"] = np.asarray(group.idf, dtype=np.float64)
        if with_layer:
            tensors["coef"] = np.ascontiguousarray(self.weights.T)
            tensors["intercept"] = self.intercept
        meta = {"format": 1, "input_col": self.input_col, "p": self.p, "groups": groups}
        (folder / SCORER_FILE).write_text(json.dumps(meta), encoding="utf-8")
        save_file(tensors, str(folder / SCORER_TENSORS))

    @classmethod
    def load(cls, folder: Path) -> TfidfScorer:
        """The scorer :meth:`save` wrote in ``folder``."""
        from safetensors.numpy import load_file

        meta = json.loads((folder / SCORER_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != 1:
            raise ValueError(f"{folder / SCORER_FILE}: unknown format {meta.get('format')}")
        tensors = load_file(str(folder / SCORER_TENSORS))
        if "coef" not in tensors:
            tensors.update(load_file(str(folder / LINEAR_FILE)))
        groups = []
        for i, group in enumerate(meta["groups"]):
            source = dict(group["source"])
            words = source["stop_words"]
            source["stop_words"] = None if words is None else frozenset(words)
            groups.append(
                _Group(
                    _TokenSource(**source),
                    tuple(group["vocabulary"]),
                    bool(group["binary"]),
                    float(group["min_tf"]),
                    tensors[f"idf_{i}"] if group["idf"] else None,
                )
            )
        return cls(groups, meta["input_col"], meta["p"], tensors["coef"], tensors["intercept"])


class _CharGramIndex:
    """A vocabulary of character n-grams as int64 keys: each character of the vocabulary's
    alphabet packed in ``bits`` bits, the n above them. The n-grams of a whole batch of texts
    are then packed with numpy and looked up in a hash table of the keys, many times faster
    than a dict lookup per substring; a character outside the alphabet is in no term.
    """

    def __init__(self, lut: np.ndarray, bits: int, ns: list[int], keys: Any, idx: Any) -> None:
        self.lut, self.bits, self.ns, self.keys, self.idx = lut, bits, ns, keys, idx
        # A hash table over the keys (built on first use, in each worker): 2.5x faster than a
        # binary search of the sorted keys at this vocabulary's size (120k terms).
        self.lookup = pd.Index(keys)

    @classmethod
    def build(cls, vocab: dict[str, int], ns: list[int]) -> _CharGramIndex | None:
        alphabet = sorted({c for term in vocab for c in term})
        if any(ord(c) > 0xFFFF for c in alphabet):
            return None
        bits = max(1, len(alphabet).bit_length())  # code 0: a character in no term
        if max(ns) * bits + 4 > 62:
            return None
        lut = np.zeros(0x10000, dtype=np.int64)
        for code, c in enumerate(alphabet, start=1):
            lut[ord(c)] = code
        keys = np.fromiter((cls._pack(term, lut, bits) for term in vocab), np.int64, len(vocab))
        idx = np.fromiter(vocab.values(), np.int64, len(vocab))
        order = np.argsort(keys)
        return cls(lut, bits, sorted(set(ns)), keys[order], idx[order])

    @staticmethod
    def _pack(term: str, lut: np.ndarray, bits: int) -> int:
        key = 0
        for c in term:
            key = (key << bits) | int(lut[ord(c)])
        return key | (len(term) << 58)

    def hits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, vocabulary index) of every n-gram of ``texts`` found in the vocabulary."""
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        joined = "".join(texts)
        points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        codes = self.lut[points]
        total = len(codes)
        ends = np.repeat(np.cumsum(lengths), lengths)
        row_of = np.repeat(np.arange(len(texts)), lengths)
        unknown = np.concatenate([[0], np.cumsum(codes == 0)])
        rows, found = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for n in self.ns:
            m = total - n + 1
            if m <= 0:
                continue
            start = np.arange(m)
            ok = (start + n <= ends[:m]) & (unknown[n:] - unknown[:m] == 0)
            key = np.zeros(m, dtype=np.int64)
            for k in range(n):
                key = (key << self.bits) | codes[k : k + m]
            at = self.lookup.get_indexer(key[ok] | (n << 58))
            hit = at >= 0
            rows.append(row_of[:m][ok][hit])
            found.append(self.idx[at[hit]])
        return np.concatenate(rows), np.concatenate(found)


class _WordGramIndex:
    """Word n-grams of a whole batch made and looked up in Arrow's C++ kernels: the texts
    split by the tokenizer's pattern (RE2), stop words dropped, n-grams joined by a space as
    Spark's NGram does, each looked up in the merged vocabulary (binary groups only). About 3x
    faster than the per-row Python path; ``build`` returns None where the semantics could
    differ (a pattern RE2 does not take or that matches the empty string, a minimum token
    length over 1 — Arrow counts code points where Java counts UTF-16 units —, or stop words
    compared case-insensitively on tokens that were not lowercased)."""

    def __init__(
        self, source: _TokenSource, ns: list[int], terms: list[str], idx: np.ndarray
    ) -> None:
        import pyarrow as pa

        self.source, self.ns = source, sorted(set(ns))
        self.terms = pa.array(terms, type=pa.string())
        self.idx = idx
        words = sorted(source.stop_words) if source.stop_words is not None else []
        self.stop_words = pa.array(words, type=pa.string())

    @classmethod
    def build(cls, source: _TokenSource, vocab: dict[str, int], ns: list[int]) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc
        import regex

        if not source.gaps or source.min_length > 1 or source.pattern == "":
            return None
        if source.stop_words is not None and not (source.case_sensitive or source.lowercase):
            return None
        try:
            if regex.fullmatch(source.pattern, "") is not None:
                return None
            pc.split_pattern_regex(pa.array(["a b"]), source.pattern)
        except (regex.error, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        terms = list(vocab)
        return cls(source, ns, terms, np.fromiter(vocab.values(), np.int64, len(terms)))

    def hits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, vocabulary index) of every n-gram of ``texts`` found in the vocabulary, a
        repeated n-gram repeated (the caller merges them)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        lowered = [t.lower() for t in texts] if self.source.lowercase else texts
        tokens = pc.split_pattern_regex(pa.array(lowered, type=pa.string()), self.source.pattern)
        flat = tokens.flatten()
        row_of = np.repeat(np.arange(len(texts)), pc.list_value_length(tokens).to_numpy())
        keep = pc.greater(pc.binary_length(flat), 0)
        if len(self.stop_words):
            keep = pc.and_(keep, pc.invert(pc.is_in(flat, value_set=self.stop_words)))
        flat = flat.filter(keep)
        row_of = row_of[keep.to_numpy(zero_copy_only=False)]
        grams, rows = [], []
        for n in self.ns:
            m = len(flat) - n + 1
            if m <= 0:
                continue
            if n == 1:
                grams.append(flat)
                rows.append(row_of)
                continue
            same_row = row_of[:m] == row_of[n - 1 :]
            joined = pc.binary_join_element_wise(*(flat[k : k + m] for k in range(n)), " ")
            grams.append(joined.filter(pa.array(same_row)))
            rows.append(row_of[:m][same_row])
        if not grams:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        at = pc.index_in(pa.concat_arrays(grams), value_set=self.terms)
        at = at.fill_null(-1).to_numpy().astype(np.int64, copy=False)
        hit = at >= 0
        return np.concatenate(rows)[hit], self.idx[at[hit]]


def _stream_key(source: _TokenSource) -> tuple:
    return (
        source.pattern,
        source.gaps,
        source.lowercase,
        source.min_length,
        source.stop_words,
        source.case_sensitive,
        "chars" * source.chars,
    )


def tfidf_scorer(model: FittedTfidf) -> TfidfScorer | None:
    """The model as a ``TfidfScorer`` (driver side: reads the fitted stages), or None when
    its pipeline has a stage or wiring this does not reproduce (then use Spark ML)."""
    stages = list(model.pipeline.stages)
    coef, intercept = model.coef, model.intercept
    if coef is None:
        last = stages.pop() if stages else None
        if last is None or type(last).__name__ != "LogisticRegressionModel":
            return None
        matrix = last.coefficientMatrix.toArray()
        if matrix.shape[0] != last.numClasses or last.numClasses < 2 or matrix.shape[0] == 1:
            return None  # binomial: one row of coefficients, a sigmoid
        coef, intercept = matrix, last.interceptVector.toArray()
    made: dict[str, Any] = {}  # output column -> what makes it
    input_col: str | None = None
    groups: list[_Group] = []
    vectors: dict[str, tuple[_Group, ...]] = {}
    assembled: tuple[_Group, ...] | None = None
    p: float | None = None
    try:
        for stage in stages:
            kind = type(stage).__name__
            if not hasattr(stage, "getOutputCol"):
                return None  # a stage of another library (Spark NLP's Finisher)
            out = stage.getOutputCol()
            if kind == "RegexTokenizer":
                col = stage.getInputCol()
                if input_col not in (None, col) or stage.getMinTokenLength() < 1:
                    return None
                input_col = col
                made[out] = _TokenSource(
                    stage.getPattern(),
                    stage.getGaps(),
                    stage.getToLowercase(),
                    stage.getMinTokenLength(),
                    None,
                    False,
                    1,
                )
            elif kind == "StopWordsRemover":
                src = made[stage.getInputCol()]
                if src.stop_words is not None or src.n != 1 or src.pattern == "":
                    return None
                sensitive = stage.getCaseSensitive()
                words = stage.getStopWords()
                made[out] = _TokenSource(
                    src.pattern,
                    src.gaps,
                    src.lowercase,
                    src.min_length,
                    frozenset(words if sensitive else (w.lower() for w in words)),
                    sensitive,
                    1,
                )
            elif kind == "NGram":
                src = made[stage.getInputCol()]
                if src.n != 1 or stage.getN() < 1:
                    return None
                made[out] = replace(src, n=stage.getN())
            elif kind == "CountVectorizerModel":
                group = _Group(
                    made[stage.getInputCol()],
                    tuple(stage.vocabulary),
                    stage.getBinary(),
                    float(stage.getMinTF()),
                    None,
                )
                vectors[out] = (group,)
            elif kind == "IDFModel":
                (group,) = vectors[stage.getInputCol()]
                if group.idf is not None:
                    return None
                vectors[out] = (replace(group, idf=stage.idf.toArray()),)
            elif kind == "VectorAssembler":
                assembled = tuple(g for col in stage.getInputCols() for g in vectors[col])
                vectors[out] = assembled
            elif kind == "Normalizer":
                # Only after the assembler: one before it stored None, which a later stage's
                # lookup then iterated (a TypeError instead of "use Spark ML").
                assembled_input = vectors.get(stage.getInputCol()) is assembled
                if assembled is None or not assembled_input or p is not None:
                    return None
                p = float(stage.getP())
                vectors[out] = assembled
            else:
                return None
    except (KeyError, ValueError):
        return None
    if assembled is None or input_col is None:
        return None
    groups = list(assembled)
    try:
        return TfidfScorer(groups, input_col, p, coef, intercept)
    except ValueError:
        return None


class _PythonTfidf:
    """``mapInPandas`` function: rows with the text column -> ``keep`` + probabilities."""

    def __init__(self, scorer: Any, keep: Sequence[str]) -> None:
        self.scorer, self.keep = scorer, list(keep)

    def __call__(self, batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = self.scorer.value
        for batch in batches:
            out = batch[self.keep].copy()
            out["probabilities"] = list(scorer.predict(batch[scorer.input_col].tolist()))
            yield out


def load_tfidf_scorer(folder: Path) -> TfidfScorer | None:
    """The scorer saved with a model folder, or None (a model trained before it was saved,
    or a pipeline it does not reproduce): then read the Spark ML pipeline."""
    if not (folder / SCORER_FILE).exists():
        return None
    return TfidfScorer.load(folder)


