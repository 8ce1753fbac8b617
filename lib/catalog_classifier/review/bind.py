"""Where the review app may listen: a check the job makes before importing the app (which loads
torch for Grad-CAM), so a refused start costs nothing."""

from __future__ import annotations

from catalog_classifier.config import ReviewConfig

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the app on this machine."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def unauthenticated_bind(host: str, review: ReviewConfig) -> str | None:
    """Why the app must not listen on ``host`` with these settings (one line), or None."""
    if is_loopback(host) or review.trusted_identity_header:
        return None
    return (
        f"the review app would listen on {host} with no authentication: it has no login of its "
        "own, so beyond 127.0.0.1 it needs review.trusted_identity_header (the header the "
        "authenticating proxy in front sets, e.g. X-Forwarded-Email)"
    )


__all__ = ["LOOPBACK_HOSTS", "is_loopback", "unauthenticated_bind"]
