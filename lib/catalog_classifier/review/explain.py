"""Grad-CAM overlays for the review app: where the image member looked for its category.

The fused version reviewed names the image member version it was fit on; that model is loaded
once per fused version (a few seconds, then about a second per overlay on a CPU) and explains
the class the fused model predicted.
"""

from __future__ import annotations

import functools
import io
import logging
from pathlib import Path

from catalog_classifier.config import Config
from catalog_classifier.models.fusion import FusionModel
from catalog_classifier.models.image_encoder import GradCamExplainer
from catalog_classifier.models.members import FUSION
from catalog_classifier.models.members.image import ImageMember
from catalog_classifier.storage.registry import Registry

log = logging.getLogger(__name__)


class Explanations:
    """Grad-CAM overlays (PNG bytes) of a lakehouse's registered fused versions."""

    def __init__(self, root: str, config: Config) -> None:
        self.root = root
        self.config = config

    @functools.cache  # noqa: B019 - one store per app, one model per fused version
    def _explainer(self, version: str) -> tuple[GradCamExplainer, list[int]] | None:
        registry = Registry(self.config, self.root)
        fused = registry.load(FUSION, version)
        try:
            members = FusionModel.load(fused.folder).members
        finally:
            fused.remove_download()
        if ImageMember.name not in members:
            return None
        image = registry.load(ImageMember.name, members[ImageMember.name])
        try:
            log.info("review: Grad-CAM from image model version %s", image.version)
            # The explainer holds the whole model in memory: the download can go.
            explainer = GradCamExplainer(Path(image.folder))
        finally:
            image.remove_download()
        return explainer, [int(c) for c in fused.meta["label_codes"]]

    def overlay_png(self, version: str, content: bytes, prdtypecode: int) -> bytes | None:
        """The overlay of ``prdtypecode`` on the image, as PNG; None when the version has no
        image member, the code is not one of its classes, or the image does not decode."""
        loaded = self._explainer(version)
        if loaded is None or prdtypecode not in loaded[1]:
            return None
        explainer, codes = loaded
        try:
            overlay = explainer.overlay(content, codes.index(prdtypecode))
        except ValueError as exc:
            log.warning("review: no Grad-CAM overlay: %s", exc)
            return None
        buffer = io.BytesIO()
        overlay.save(buffer, format="PNG")
        return buffer.getvalue()
