"""The project's one typed configuration object, loaded from ``conf/*.yaml``.

A conf file may ``include`` others (paths relative to it); later files and ``--set`` overrides
win. Every key is checked against the dataclasses below, so a typo fails at start-up instead of
being ignored. Nothing here names a path of one machine: relative paths are relative to the
working directory the job runs in.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONF = "conf/local.yaml"
DELTA_ENGINES = ("auto", "delta-spark", "delta-rs")


class ConfigError(ValueError):
    """A conf file or override that cannot be turned into a :class:`Config`."""


@dataclass(frozen=True)
class Category:
    """One product type code with its readable names and its count in the real training set."""

    code: int
    count: int
    name_en: str
    name_fr: str


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[*]"
    # Passed to SparkSession.builder.config; spark-submit's own --conf flags win over these.
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestConfig:
    # Images read, checked and committed per Delta commit: bounds driver and executor memory.
    image_batch_files: int = 2000
    # Spark partitions per image batch (0: twice the default parallelism).
    image_partitions: int = 0
    # Larger files or archive entries are quarantined unread.
    max_image_bytes: int = 10 * 1024 * 1024
    # Declared width x height above this is a decompression bomb (500x500 is 250,000).
    max_image_pixels: int = 40_000_000
    # Archive entries that inflate more than this are refused (JPEGs barely compress).
    max_compression_ratio: float = 50.0
    image_name_pattern: str = r"^image_(?P<imageid>\d+)_product_(?P<productid>\d+)\.jpe?g$"
    # Characters of a bad record kept in the quarantine table.
    quarantine_raw_chars: int = 4000
    # Spark's CSV parser refuses longer fields; real descriptions stay far below this.
    csv_max_chars_per_column: int = 1_000_000


@dataclass(frozen=True)
class FeaturesConfig:
    # Languages the detector may answer (ISO 639-1): the catalog's and the few others present.
    languages: tuple[str, ...] = ("fr", "en", "de", "es", "it", "nl", "pt")
    # An image whose every RGB channel has a standard deviation under this is blank (solid).
    blank_max_spread: float = 2.0
    # Rows per Arrow batch handed to the image UDF: bounds executor memory (about 50 KB each).
    image_batch_rows: int = 256


@dataclass(frozen=True)
class SampleConfig:
    dir: str = "./data/sample"
    listings: int = 1200
    # Listings that get an image (None: all of them).
    images: int | None = None
    seed: int = 20240601
    image_size: int = 500


@dataclass(frozen=True)
class Config:
    lakehouse: str = "./lakehouse"
    # auto: the Delta Lake connector for Spark where its classes are on the classpath,
    # delta-rs otherwise.
    delta_engine: str = "auto"
    log_level: str = "INFO"
    spark: SparkConfig = field(default_factory=SparkConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    categories: tuple[Category, ...] = ()

    def __post_init__(self) -> None:
        if self.delta_engine not in DELTA_ENGINES:
            raise ConfigError(
                f"delta_engine must be one of {DELTA_ENGINES}, not {self.delta_engine!r}"
            )
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ConfigError("categories: duplicate prdtypecode")

    @property
    def category_codes(self) -> tuple[int, ...]:
        return tuple(c.code for c in self.categories)

    @property
    def category_names(self) -> dict[int, str]:
        return {c.code: c.name_en for c in self.categories}

    @property
    def category_priors(self) -> dict[int, int]:
        return {c.code: c.count for c in self.categories}


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: typing.Sequence[str] = (),
    **top_level: Any,
) -> Config:
    """Load a conf file (default ``conf/local.yaml``), apply ``key.path=value`` overrides.

    ``top_level`` sets top-level keys directly (``lakehouse=...``) after the overrides; ``None``
    values are ignored so callers can pass optional command-line flags straight through.
    """
    data = _read_yaml_with_includes(Path(path or DEFAULT_CONF), seen=())
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {override!r} is not KEY.PATH=VALUE")
        _set_dotted(data, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
    for key, value in top_level.items():
        if value is not None:
            data[key] = value
    return _build(Config, data, "config")


def _resolve_conf_path(path: Path) -> Path:
    if path.exists():
        return path
    # In cluster deploy mode spark-submit ships conf files with --files into the working dir.
    if Path(path.name).exists():
        return Path(path.name)
    raise ConfigError(f"conf file not found: {path}")


def _read_yaml_with_includes(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = _resolve_conf_path(path)
    if path.resolve() in seen:
        raise ConfigError(f"conf include cycle through {path}")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    includes = data.pop("include", []) or []
    merged: dict[str, Any] = {}
    for include in [includes] if isinstance(includes, str) else includes:
        merged = _deep_merge(
            merged, _read_yaml_with_includes(path.parent / include, seen + (path.resolve(),))
        )
    return _deep_merge(merged, data)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested mappings; under a mapping-typed field (``spark.conf``) the rest of
    the path is one key, since Spark's own keys contain dots."""
    parts = dotted.split(".")
    node, cls = data, Config
    while len(parts) > 1:
        part = parts.pop(0)
        hint = typing.get_type_hints(cls).get(part) if cls is not None else None
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
        node = child
        if typing.get_origin(hint) is dict:
            parts = [".".join(parts)]
            break
        cls = hint if dataclasses.is_dataclass(hint) else None
    node[parts[0]] = value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    kwargs = {key: _coerce(hints[key], value, f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list")
        return tuple(_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping")
        return {str(k): str(v) for k, v in value.items()}
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint in (int, float, str):
        try:
            return hint(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}") from exc
    return value
