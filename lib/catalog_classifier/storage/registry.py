"""The model registry: every trained model is an MLflow run and a registered model version.

Local default: an MLflow store under the lakehouse (``<lakehouse>/_mlflow/mlflow.db``, a SQLite
tracking and registry database, and ``<lakehouse>/_mlflow/artifacts``). On Databricks
(``registry.tracking_uri: databricks``) the workspace's tracking server and registry.

A run holds the parameters, the per-epoch metrics, the final metrics, the Delta versions of the
tables the model was trained on (as tags ``delta.<layer>.<table>``), the label map, and one
artifact folder ``model/`` with all that scoring needs. Weights are safetensors files or a Spark
ML pipeline folder: loading a model never unpickles anything.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from catalog_classifier.config import Config

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
MODEL_META = "model.json"
# MLflow aliases on the fusion's registered model: the version scoring uses, and the last one
# the champion gate refused (stages/promote.py).
CHAMPION = "champion"
CHALLENGER = "challenger"


def tracking_uri(config: Config, lakehouse_root: str) -> str:
    if config.registry.tracking_uri:
        return config.registry.tracking_uri
    root = Path(lakehouse_root) / "_mlflow"
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / 'mlflow.db').absolute()}"


def artifact_location(lakehouse_root: str) -> str:
    return (Path(lakehouse_root) / "_mlflow" / "artifacts").absolute().as_uri()


@dataclass(frozen=True)
class RegisteredModel:
    name: str  # registered model name, e.g. catalog-classifier-tfidf
    model: str  # tfidf, text, image
    version: str
    run_id: str
    folder: Path  # local copy of the model artifact folder
    meta: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def remove_download(self) -> None:
        """Remove this local copy (see :func:`remove_download`)."""
        remove_download(self.folder)


def remove_download(folder: str | Path) -> None:
    """Remove a model folder :meth:`Registry.load` downloaded, with the temporary folder of its
    own it sits in. Every load makes a new copy: its caller removes it, failing or not."""
    _remove_own_folder(Path(folder).parent)


def _remove_own_folder(own: Path) -> None:
    """Remove a download's own folder and release its owner lock."""
    shutil.rmtree(own, ignore_errors=True)
    lock = _download_locks.pop(own, None)
    if lock is not None:
        lock.close()


# Downloads live in one folder under the system's temporary folder, each in a folder of its own
# holding OWNER_LOCK, which its process keeps locked (flock) until it removes the download. A
# process killed first (a crash point, the OOM killer, a cancelled job) cannot remove it; the
# kernel drops the lock, so the next load anywhere on the machine finds and removes it.
DOWNLOADS_FOLDER = "catalog-classifier-models"
OWNER_LOCK = ".owner.lock"
# A folder without its lock file yet is being made by another process, unless it is this old.
_UNLOCKED_GRACE_S = 3600.0
_download_locks: dict[Path, IO[bytes]] = {}


def downloads_root() -> Path:
    """This user's downloads folder: one per user, so that several users of a machine each
    create and sweep their own."""
    root = Path(tempfile.gettempdir()) / f"{DOWNLOADS_FOLDER}-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def remove_orphaned_downloads(root: Path | None = None) -> list[str]:
    """Remove the downloads whose process is gone (their owner lock is free); return their
    names."""
    removed = []
    for folder in sorted((root or downloads_root()).iterdir()):
        if folder in _download_locks or not folder.is_dir():
            continue
        try:
            with open(folder / OWNER_LOCK, "rb") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive
        except FileNotFoundError:
            try:
                if time.time() - folder.stat().st_mtime < _UNLOCKED_GRACE_S:
                    continue
            except FileNotFoundError:
                continue  # removed meanwhile
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    if removed:
        log.info("registry: removed %d model downloads of killed runs: %s", len(removed), removed)
    return removed


def _locked_download_folder(prefix: str) -> Path:
    """A new download folder, locked by this process until :func:`remove_download`."""
    root = downloads_root()
    remove_orphaned_downloads(root)
    own = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    # Locked under another name, then renamed (the lock stays on the file): a sweep never sees
    # the owner's lock file unlocked.
    pending = own / f"{OWNER_LOCK}.new"
    lock = open(pending, "wb")  # noqa: SIM115 - held open as long as the download
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    pending.rename(own / OWNER_LOCK)
    _download_locks[own] = lock
    return own


class Registry:
    """Log, register and load the project's models."""

    def __init__(self, config: Config, lakehouse_root: str) -> None:
        import mlflow

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self.config = config
        self.uri = tracking_uri(config, lakehouse_root)
        self.lakehouse_root = lakehouse_root
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        experiment = self.client.get_experiment_by_name(config.registry.experiment)
        if experiment is None:
            location = None if self.uri == "databricks" else artifact_location(lakehouse_root)
            self.experiment_id = self.client.create_experiment(
                config.registry.experiment, artifact_location=location
            )
        else:
            self.experiment_id = experiment.experiment_id

    def registered_name(self, model: str) -> str:
        return f"{self.config.registry.model_prefix}-{model}"

    def log_model(
        self,
        model: str,
        folder: Path,
        params: dict[str, Any],
        metrics: dict[str, float],
        history: Sequence[dict[str, Any]],
        input_versions: dict[str, int | None],
        tags: dict[str, str] | None = None,
    ) -> RegisteredModel:
        """One run with everything about the model, then a new registered version of it."""
        import mlflow

        meta = json.loads((folder / MODEL_META).read_text(encoding="utf-8"))
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=f"train-{model}") as run:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
            last_step = 0
            for row in history:
                step = int(row.get("epoch", 0))
                last_step = max(last_step, step)
                for key, value in row.items():
                    if key != "epoch" and isinstance(value, int | float):
                        mlflow.log_metric(key, float(value), step=step)
            # After the epochs: MLflow shows a metric's value at its highest step, which must be
            # the final (best checkpoint's) figure, not the last epoch's.
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=last_step + 1)
            mlflow.set_tags(
                {
                    "model": model,
                    "label_codes": json.dumps(meta["label_codes"]),
                    **{f"delta.{k}": str(v) for k, v in input_versions.items()},
                    **(tags or {}),
                }
            )
            mlflow.log_dict(meta, "label_map.json")
            mlflow.log_artifacts(str(folder), MODEL_ARTIFACT)
            run_id = run.info.run_id
        name = self.registered_name(model)
        if not self.client.search_registered_models(filter_string=f"name='{name}'"):
            self.client.create_registered_model(name)
        version = self.client.create_model_version(name, f"runs:/{run_id}/{MODEL_ARTIFACT}", run_id)
        log.info("registry: %s version %s (run %s)", name, version.version, run_id)
        return RegisteredModel(name, model, str(version.version), run_id, folder, meta)

    def latest_version(self, model: str) -> str | None:
        versions = self.client.search_model_versions(f"name='{self.registered_name(model)}'")
        latest = max((int(v.version) for v in versions), default=None)
        return None if latest is None else str(latest)

    def alias_version(self, model: str, alias: str) -> str | None:
        """The version an MLflow alias (``champion``, ``challenger``) points at; None if unset."""
        from mlflow.exceptions import MlflowException

        try:
            # The registered model's alias map: an unset alias is simply absent (asking for it
            # by name fails with a store-dependent error code instead).
            aliases = self.client.get_registered_model(self.registered_name(model)).aliases
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":  # never registered
                return None
            raise
        version = (aliases or {}).get(alias)
        return None if version is None else str(version)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (moving it off any other version)."""
        self.client.set_registered_model_alias(self.registered_name(model), alias, str(version))
        log.info("registry: %s@%s -> version %s", self.registered_name(model), alias, version)

    def load(self, model: str, version: str | None = None) -> RegisteredModel:
        """Download a registered version (the latest by default) into a local folder."""
        import mlflow

        name = self.registered_name(model)
        version = version or self.latest_version(model)
        if version is None:
            raise LookupError(f"no registered version of {name}: train it first")
        found = self.client.get_model_version(name, str(version))
        if found.run_id is None:  # a version registered from a bare path, not by register()
            raise LookupError(f"{name} version {version} has no MLflow run to download from")
        target = _locked_download_folder(f"{name}-v{version}-")
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=found.run_id, artifact_path=MODEL_ARTIFACT, dst_path=str(target)
            )
            folder = Path(path)
            meta = json.loads((folder / MODEL_META).read_text(encoding="utf-8"))
        except BaseException:
            # A download that failed half-way (missing artifact, full disk) has no caller to
            # remove it.
            _remove_own_folder(target)
            raise
        return RegisteredModel(name, model, str(version), found.run_id, folder, meta)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self.client.get_run(run_id).data.metrics)


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]
