"""Registry downloads of runs killed before they could remove them are removed by the next load
on the machine; a live run's are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from catalog_classifier.storage.registry import (
    DOWNLOADS_FOLDER,
    OWNER_LOCK,
    remove_orphaned_downloads,
)

# Makes a download folder as Registry.load does, says where, then waits to be killed.
HOLDER = (
    "from catalog_classifier.storage.registry import _locked_download_folder\n"
    "import time\n"
    "print(_locked_download_folder('catalog-classifier-tfidf-v1-'), flush=True)\n"
    "time.sleep(600)\n"
)


def test_a_killed_runs_download_is_removed_and_a_live_ones_kept(tmp_path: Path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None
        folder = Path(holder.stdout.readline().strip())
        root = tmp_path / f"{DOWNLOADS_FOLDER}-{os.getuid()}"
        assert folder.parent == root and (folder / OWNER_LOCK).exists()
        (folder / "model").mkdir()
        # Another process's folder still being made (no lock file yet): left alone too.
        (root / "catalog-classifier-text-v2-being-made").mkdir()
        assert remove_orphaned_downloads(root) == []
        assert folder.exists()
    finally:
        holder.kill()
        holder.wait()
    assert remove_orphaned_downloads(root) == [folder.name]
    assert not folder.exists()
    assert (root / "catalog-classifier-text-v2-being-made").exists()
