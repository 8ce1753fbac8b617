"""The Jinja2 environment the report pages render from.

Templates live in ``reports/templates/`` (package data). Autoescaping is on: any value put in a
template is escaped unless it is already rendered HTML (a ``markupsafe.Markup``, which is what
:func:`render` returns, so rendered fragments nest without being escaped twice).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


@functools.cache
def environment(package: str = "catalog_classifier.reports") -> Environment:
    """The Jinja2 environment of ``package``'s ``templates/`` folder (the report pages', or the
    review app's)."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
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


def html_table(frame: pd.DataFrame) -> Markup | None:
    """A frame as an HTML table (pandas escapes its cells), or None when it is empty."""
    if frame.empty:
        return None
    return Markup(frame.to_html(index=False, escape=True, border=0, classes="data"))


def save_figure(fig: Any, path: Path, dpi: int = 110) -> None:
    """Lay out a matplotlib figure, write it as PNG and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
