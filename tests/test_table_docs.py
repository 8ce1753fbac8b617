"""docs/tables.md is generated from the table definitions: it must match them."""

from __future__ import annotations

import re

from tests.conftest import REPO

from catalog_classifier.storage.queries import QUERIES, QUERY_TITLES
from catalog_classifier.storage.table_docs import main, render_tables_markdown
from catalog_classifier.storage.tables import ALL_TABLES


def test_committed_table_docs_match_the_code() -> None:
    committed = (REPO / "docs" / "tables.md").read_text(encoding="utf-8")
    assert committed == render_tables_markdown(), (
        "docs/tables.md is out of date: run python -m catalog_classifier.storage.table_docs"
    )
    assert main(["--check", "--out", str(REPO / "docs" / "tables.md")]) == 0


def test_every_table_column_and_query_is_documented(tmp_path) -> None:
    text = render_tables_markdown()
    for spec in ALL_TABLES:
        assert spec.doc and spec.growth, spec.qualified_name
        # Each writer is a job of jobs/ (the first word: "evaluate --cv" is the evaluate job).
        for writer in spec.writer.split(","):
            assert (REPO / "jobs" / f"{writer.split()[0]}.py").is_file(), spec.writer
        section = text.split(f"### `{spec.qualified_name}`")[1].split("\n### ")[0]
        for column in spec.columns:
            assert column.doc, f"{spec.qualified_name}.{column.name} has no meaning"
            assert re.search(rf"^\| `{column.name}`( \(key\))? \| {column.type} \|", section, re.M)
    assert set(QUERY_TITLES) == set(QUERIES)
    for name in QUERIES:
        assert f"### `{name}`" in text
    stale = tmp_path / "tables.md"
    stale.write_text(text.replace("bronze", "brass", 1), encoding="utf-8")
    assert main(["--check", "--out", str(stale)]) == 1
