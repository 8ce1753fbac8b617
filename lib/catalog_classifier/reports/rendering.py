"""The Jinja2 environment the report pages render from.

Templates live in ``reports/templates/`` (package data). Autoescaping is on: any value put in a
template is escaped unless it is already rendered HTML (a ``markupsafe.Markup``, which is what
:func:`render` returns, so rendered fragments nest without being escaped twice).
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("catalog_classifier.reports", "templates"),
        autoescape=True,
        # A misspelt variable fails the render instead of printing nothing.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # {{ value | fmt('.4f') }}: Python's format specification, as the f-strings had.
    env.filters["fmt"] = format
    return env


def render(template: str, **context: Any) -> Markup:
    """``template`` (a path under ``templates/``) rendered with ``context``, as trusted HTML."""
    return Markup(environment().get_template(template).render(**context))


def macro(template: str, name: str) -> Any:
    """A macro of ``template``, callable from Python; it returns ``Markup``."""
    return getattr(environment().get_template(template).module, name)
