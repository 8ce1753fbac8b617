"""The registry of model members: one module per member, one entry here.

Adding a member: write a module with a :class:`~catalog_classifier.models.member.Member`
subclass, add it to ``_BUILT_IN`` (or call :func:`register` from your own code), give it a conf
section, and list it in ``train.models``. Training, cross-validation, fusion, evaluation and
scoring pick it up from here; ``gold.predictions.members`` records its opinion with no schema
change.
"""

from __future__ import annotations

from catalog_classifier.models.member import Member
from catalog_classifier.models.members.image import ImageMember
from catalog_classifier.models.members.text import TextMember
from catalog_classifier.models.members.tfidf import TfidfMember
from catalog_classifier.models.members.use import UseMember

# The fusion's name for the fused model, reserved: no member may take it.
FUSION = "fusion"

_BUILT_IN: tuple[type[Member], ...] = (TfidfMember, TextMember, ImageMember, UseMember)
_REGISTRY: dict[str, type[Member]] = {m.name: m for m in _BUILT_IN}


def register(member: type[Member]) -> type[Member]:
    """Add a member (usable as a class decorator); a name is registered once."""
    if member.name == FUSION or not member.name.isidentifier():
        raise ValueError(f"member name {member.name!r} is reserved or not an identifier")
    if member.modality not in ("text", "image"):
        raise ValueError(f"member {member.name}: modality must be text or image")
    known = _REGISTRY.get(member.name)
    if known is not None and known is not member:
        raise ValueError(f"member {member.name!r} is already registered ({known.__module__})")
    _REGISTRY[member.name] = member
    return member


def unregister(name: str) -> None:
    """Remove a member added by :func:`register` (built-in members stay)."""
    if name in {m.name for m in _BUILT_IN}:
        raise ValueError(f"{name} is a built-in member")
    _REGISTRY.pop(name, None)


def member_names() -> tuple[str, ...]:
    """Every registered member, in registration order (the fusion's column order)."""
    return tuple(_REGISTRY)


def get_member(name: str) -> type[Member]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; known: {sorted([*_REGISTRY, FUSION])}"
        ) from None


def modalities() -> dict[str, str]:
    """member -> its modality (``text`` or ``image``), for the fusion's availability groups."""
    return {name: member.modality for name, member in _REGISTRY.items()}
