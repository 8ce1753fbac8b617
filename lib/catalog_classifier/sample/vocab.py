"""The built-in sample catalog's vocabulary: ``data/vocabulary.yaml``, loaded once.

The file (package data) holds the languages and their weights, the language-neutral slots,
the slots common to a language, and per category (prdtypecode) a language-neutral block and
one block per language of title templates, sentence templates and slots; its header says how
the generator expands them. Shared pools are YAML anchors; ``!range [a, b]`` is ``range(a, b)``.

The loaded structure is read-only (tuples and ``MappingProxyType``) since every caller shares
the one cached copy. tests/test_sample.py fingerprints it: the generated sample must not
change unless the vocabulary is edited on purpose.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

VOCABULARY_FILE = "data/vocabulary.yaml"

Slot = tuple[str, ...] | range
Block = Mapping[str, Slot]


class Vocabulary(NamedTuple):
    languages: tuple[str, ...]
    # Share of listings per language, in the order of ``languages``.
    language_weights: tuple[float, ...]
    neutral: Block
    common: Mapping[str, Block]
    # prdtypecode -> {"shared": Block, <language>: Block with "titles" and "sentences"}
    categories: Mapping[int, Mapping[str, Block]]


# libyaml's parser when PyYAML was built with it (3x faster here); the constructors are the same.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):
    """Safe YAML plus ``!range [start, stop]``."""


def _range(loader: yaml.SafeLoader, node: yaml.Node) -> range:
    bounds = loader.construct_sequence(node)  # type: ignore[arg-type]
    if len(bounds) != 2 or not all(isinstance(b, int) for b in bounds):
        raise yaml.constructor.ConstructorError(
            None, None, f"!range takes [start, stop] integers, got {bounds}", node.start_mark
        )
    return range(*bounds)


_Loader.add_constructor("!range", _range)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


@functools.cache
def vocabulary() -> Vocabulary:
    """The vocabulary, parsed on first use (about 0.03 s) and shared afterwards."""
    source = resources.files(__package__).joinpath(VOCABULARY_FILE)
    return parse(source.read_text(encoding="utf-8"), f"{__package__}/{VOCABULARY_FILE}")


def parse(text: str, where: str = "vocabulary") -> Vocabulary:
    """A vocabulary from YAML ``text``; ``where`` names it in errors."""
    # _Loader is a SafeLoader: no arbitrary Python objects, only !range added
    data = yaml.load(text, Loader=_Loader)
    missing = {"languages", "language_weights", "neutral", "common", "categories"} - set(data)
    if missing:
        raise ValueError(f"{where}: missing top-level key(s) {sorted(missing)}")
    languages = tuple(data["languages"])
    for code, category in data["categories"].items():
        absent = [key for key in ("shared", *languages) if key not in category]
        absent += [
            f"{lang}.{key}"
            for lang in languages
            if lang in category
            for key in ("titles", "sentences")
            if not category[lang].get(key)
        ]
        if absent:
            raise ValueError(f"{where}: category {code} has no {', '.join(absent)}")
    return Vocabulary(
        languages=languages,
        language_weights=tuple(float(w) for w in data["language_weights"]),
        neutral=_freeze(data["neutral"]),
        common=_freeze(data["common"]),
        categories=_freeze(data["categories"]),
    )
