"""What the ingest modules share: the shape of a rejected input, id validation, the CSV
reader's column names, and the error for a file that cannot be read at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


CORRUPT = "_corrupt_record"


LISTING_FIELDS = ("row_index", "designation", "description", "productid", "imageid")


# Ids are non-negative integers of ASCII digits ([0-9], not \d: Java's and Python's \d may take
# other scripts' digits) that fit a Delta long (signed 64-bit); the range is checked apart.
ID_PATTERN = r"^[0-9]+$"


MAX_ID = 2**63 - 1


def id_problem(text: str) -> str | None:
    """Why ``text`` is not an id (ASCII digits, at most ``MAX_ID``), or None when it is one."""
    if not (text.isascii() and text.isdigit()):
        return "not ASCII digits"
    if int(text) > MAX_ID:
        return f"{text} does not fit a signed 64-bit integer"
    return None


class IngestInputError(ValueError):
    """An input file that cannot be ingested at all (its records are not read)."""

    def __init__(self, message: str, reason: str = "unreadable_csv") -> None:
        super().__init__(message)
        self.reason = reason  # the quarantine reason of the whole file


@dataclass
class Rejection:
    source: str
    locator: str
    reason: str
    detail: str
    kind: str = "image"  # the quarantine's record_kind: "image", or "file" for a whole input
