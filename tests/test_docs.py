"""The documentation holds: every relative link resolves, and every command block is run.

Links: each relative link of README.md and docs/*.md names a file or folder that exists, and an
``#anchor`` into a markdown file matches one of its headings (GitHub's slugs: lower case,
punctuation dropped, spaces as hyphens, ``-1``, ``-2``... for repeated headings).

Commands: in README.md and docs/operations.md every fenced ``bash`` block follows a marker
line, an HTML comment right above it (blank lines between are allowed):

* ``<!-- runnable: here -->``: cheap commands (seconds, no Spark session) this test runs itself,
  from the repository root, with this interpreter for ``.venv/bin/python`` and this checkout's
  library first on the path; each must exit 0;
* ``<!-- runnable: FILE [FILE...] -->``: the named files (tests, or ``.ci/run``, the
  ``Makefile``) run these commands; each must exist and, together, name each command's job (the
  word after ``spark-submit.sh``, ``jobs/NAME.py``, the script, or ``make TARGET``) and every
  ``--flag`` it passes (as ``--flag``, or as the keyword ``flag=`` of the function the job calls);
* ``<!-- runnable: no (why) -->``: commands that need what no test has (a YARN cluster, a
  Databricks workspace), with the reason.

A block of another doc may carry a marker too; it is then checked the same way. Words in capitals
(``JOB``, ``VERSION``) are placeholders and are not looked for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
DOCUMENTS = [README, *DOCS]
# The documents whose every bash block must say whether and where it runs.
MARKED = [README, REPO / "docs" / "operations.md"]
# The documents the README must link to (issue 34).
REQUIRED = ["operations.md", "architecture.md", "results.md", "experiments.md", "tables.md"]
README_MAX_LINES = 250

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*runnable:\s*(.*?)\s*-->\s*$")
SHELL = {"bash", "sh", "shell", "console"}
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # of the opening fence, 1-based
    language: str
    marker: str | None  # the text after "runnable:", None when unmarked
    text: str


def _prose_and_blocks(path: Path) -> tuple[list[tuple[int, str]], list[Block]]:
    """The document's lines outside fenced blocks (numbered), and its fenced blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    prose: list[tuple[int, str]] = []
    blocks: list[Block] = []
    n = 0
    while n < len(lines):
        opening = FENCE.match(lines[n])
        if not opening:
            prose.append((n + 1, lines[n]))
            n += 1
            continue
        fence = opening.group(2)
        start = n
        n += 1
        body = []
        while n < len(lines) and not lines[n].strip().startswith(fence):
            body.append(lines[n])
            n += 1
        n += 1  # the closing fence
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        found = MARKER.match(before)
        indent = len(opening.group(1))
        blocks.append(
            Block(
                path,
                start + 1,
                opening.group(3).lower(),
                found.group(1) if found else None,
                "\n".join(line[indent:] for line in body),
            )
        )
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = _prose_and_blocks(path)
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose:
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """The relative links of a document that do not resolve, as 'document:line: target'."""
    prose, _ = _prose_and_blocks(path)
    broken = []
    for number, line in prose:
        line = re.sub(r"`[^`]*`", "", line)  # links are not looked for in inline code
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(root)}:{number}: {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where} (no heading with that anchor)")
    return broken


def commands(text: str) -> list[list[str]]:
    """The commands of a shell block, as words: continuation lines joined, comments, variable
    assignments and brackets of optional arguments dropped, `&&`/`;`/`|` chains split."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        for part in re.split(r"&&|\|\||;|\|", line):
            words = [word.strip("[]") for word in part.split()]
            words = [word for word in words if word]
            if words and not all(re.fullmatch(r"\w+=\S*", word) for word in words):
                found.append(words)
    return found


def job_of(words: list[str]) -> str:
    """What a command runs: a spark-submit job, a jobs/ file, `make TARGET`, a script."""
    for at, word in enumerate(words):
        if word.endswith("spark-submit.sh") and at + 1 < len(words):
            return words[at + 1]
        job = re.search(r"(?:^|/)jobs/(\w+)\.py$", word)
        if job:
            return job.group(1)
    if words[0] == "make" and len(words) > 1:
        return f"make {words[1]}"
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1]
    script = next((w for w in words if w.endswith((".py", ".sh"))), None)
    return Path(script).name if script else words[0]


def unnamed_in(words: list[str], files: list[Path]) -> list[str]:
    """The job and flags of a command that none of the files names."""
    texts = [file.read_text(encoding="utf-8") for file in files]
    job = job_of(words)
    missing = []
    if job.startswith("make "):
        target = job.split()[1]
        if not any(job in t or re.search(rf"^{re.escape(target)}:", t, re.M) for t in texts):
            missing.append(job)
    elif not (job.isupper() or any(job in t for t in texts)):
        missing.append(job)
    for word in words[1:]:
        if not word.startswith("--") or len(word) < 3:
            continue
        flag = word.split("=", 1)[0]
        keyword = flag[2:].replace("-", "_") + "="
        if not any(flag in t or keyword in t for t in texts):
            missing.append(flag)
    return missing


def _all_blocks() -> list[Block]:
    return [block for document in DOCUMENTS for block in _prose_and_blocks(document)[1]]


def _name(block: Block) -> str:
    return f"{block.document.relative_to(REPO)}:{block.line}"


MARKED_BLOCKS = [b for b in _all_blocks() if b.marker is not None]
HERE_BLOCKS = [b for b in MARKED_BLOCKS if b.marker == "here"]


def test_the_readme_is_short_and_links_every_document():
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for name in REQUIRED:
        assert (REPO / "docs" / name).is_file(), name
        assert f"](docs/{name})" in readme, f"README.md does not link docs/{name}"
    # The development section says when to use which test command, with the suite's time.
    assert "make test-fast" in readme and "docs/results.md#the-test-suites-time" in readme


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path):
    assert broken_links(document) == []


def test_every_shell_block_of_the_readme_and_the_runbook_is_marked():
    unmarked = [
        _name(block)
        for document in MARKED
        for block in _prose_and_blocks(document)[1]
        if block.language in SHELL and block.marker is None
    ]
    assert unmarked == [], f"bash blocks with no <!-- runnable: ... --> line above: {unmarked}"


@pytest.mark.parametrize("block", MARKED_BLOCKS, ids=_name)
def test_a_marker_names_files_that_run_the_commands(block: Block):
    marker = block.marker or ""
    if marker == "here":
        return  # run below
    if marker.startswith("no"):
        assert re.fullmatch(r"no \(.+\)", marker), f"{_name(block)}: say why: no (...)"
        return
    files = [REPO / name for name in marker.split()]
    assert all(file.is_file() for file in files), f"{_name(block)}: {marker}: no such file"
    assert commands(block.text), f"{_name(block)}: no command in the block"
    for words in commands(block.text):
        missing = unnamed_in(words, files)
        assert not missing, f"{_name(block)}: {marker} does not name {missing} of {words}"


@pytest.mark.parametrize("block", HERE_BLOCKS, ids=_name)
def test_a_block_marked_here_runs(block: Block):
    script = re.sub(r"(^|\s)\.venv/bin/python\b", rf"\1{sys.executable}", block.text, flags=re.M)
    path = os.pathsep.join(filter(None, [str(REPO / "lib"), os.environ.get("PYTHONPATH")]))
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, f"{_name(block)}:\n{completed.stdout}{completed.stderr}"


def test_the_checks_catch_what_they_are_for(tmp_path: Path):
    """A broken link, a wrong anchor, an unmarked block and a command its file does not name."""
    (tmp_path / "other.md").write_text("# Other\n\n## Two `words`, here\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\nSee [other](other.md#two-words-here), [gone](gone.md),\n"
        "[wrong](other.md#nope) and [self](#doc); `[code](nowhere.md)` is code.\n\n"
        "```bash\n./spark-submit.sh score --full \\\n    --model 3   # a comment\n```\n",
        encoding="utf-8",
    )
    assert broken_links(doc, tmp_path) == [
        "doc.md:3: gone.md (no such file)",
        "doc.md:4: other.md#nope (no heading with that anchor)",
    ]
    (block,) = _prose_and_blocks(doc)[1]
    assert block.marker is None and block.language == "bash"
    assert commands(block.text) == [["./spark-submit.sh", "score", "--full", "--model", "3"]]
    runner = tmp_path / "test_x.py"
    runner.write_text("run_score(lakehouse, config, full=True)\n", encoding="utf-8")
    assert unnamed_in(commands(block.text)[0], [runner]) == ["--model"]
    assert job_of(["make", "test"]) == "make test"
    assert job_of([".venv/bin/python", "-m", "catalog_classifier.storage.table_docs"]) == (
        "catalog_classifier.storage.table_docs"
    )
    assert slug("The `use` member, log-linear") == "the-use-member-log-linear"
