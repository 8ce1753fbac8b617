"""What the notebooks share: their parameters, the session, and showing results anywhere.

The notebooks in ``notebooks/`` run in three places: a Databricks workspace (where ``spark``,
``dbutils``, ``display`` and ``displayHTML`` are given), Jupyter, and a terminal as plain Python
(``python notebooks/01_explore_catalog.py``). :func:`notebook_context` takes the notebook's
globals and uses what is there:

* parameters come from Databricks widgets when ``dbutils`` exists, else from environment
  variables ``CATALOG_CLASSIFIER_<NAME>`` (upper case), else the notebook's defaults;
* the session is the given ``spark``, the active one, or a local one built from the conf;
* :meth:`NotebookContext.show` displays a table or figure inline on Databricks and in Jupyter,
  and prints it in a terminal.

``python -m catalog_classifier.notebook notebooks/0*.py`` runs several notebooks in order in one
interpreter, sharing one Spark session as notebooks attached to one cluster do (`make notebooks`
and the notebook test): one JVM start and one import of the libraries instead of one each.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import runpy
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from catalog_classifier.config import Config, load_config
from catalog_classifier.logs import setup_logging
from catalog_classifier.storage.lakehouse import Lakehouse
from catalog_classifier.storage.spark import build_spark, job_step

log = logging.getLogger(__name__)

ENV_PREFIX = "CATALOG_CLASSIFIER_"
# Printed before each notebook by run_notebooks, then its name: splits the output by notebook.
NOTEBOOK_BANNER = "=== notebook "
# Parameters every notebook has: the conf file (relative to the project root), one-value
# overrides separated by ";" (as --set), and the lakehouse root (empty: the conf's).
COMMON_PARAMETERS = {"conf": "", "overrides": "", "lakehouse": ""}


def project_root() -> Path | None:
    """The checkout's root (the folder holding ``conf/local.yaml``), if the package runs from
    one: an editable install, a Databricks Git folder, or ``CATALOG_CLASSIFIER_HOME``."""
    candidates = [os.environ.get(ENV_PREFIX + "HOME", "")]
    candidates += [str(Path(__file__).resolve().parents[2]), os.getcwd(), str(Path.cwd().parent)]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "conf" / "local.yaml").is_file():
            return Path(candidate).resolve()
    return None


def on_databricks(namespace: Mapping[str, Any]) -> bool:
    return "dbutils" in namespace or "DATABRICKS_RUNTIME_VERSION" in os.environ


def read_parameters(namespace: Mapping[str, Any], defaults: Mapping[str, str]) -> dict[str, str]:
    """Each parameter from a Databricks widget (created with its default on first run), else
    ``CATALOG_CLASSIFIER_<NAME>``, else its default."""
    dbutils = namespace.get("dbutils")
    values = {}
    for name, default in defaults.items():
        if dbutils is not None:
            dbutils.widgets.text(name, default)
            values[name] = dbutils.widgets.get(name)
        else:
            values[name] = os.environ.get(ENV_PREFIX + name.upper(), default)
    return values


def _ipython_display() -> Callable[[Any], None] | None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


@dataclass
class NotebookContext:
    """A notebook's configuration, session and lakehouse, and how it shows things."""

    name: str
    config: Config
    spark: SparkSession
    lakehouse: Lakehouse
    params: dict[str, str]
    root: Path | None
    display: Callable[..., Any] | None = None
    display_html: Callable[[str], Any] | None = None

    def step(self, description: str) -> Any:
        """A step of the notebook: names its Spark jobs and logs its duration."""
        return job_step(self.spark, f"{self.name}: {description}")

    def show(self, value: Any, title: str | None = None, rows: int = 20) -> None:
        """A Spark or pandas frame as a table, a PNG path as a figure, anything else printed."""
        if title:
            print(f"\n## {title}")
        if isinstance(value, DataFrame):
            if self.display is not None:
                self.display(value.limit(rows))
            else:
                _print_frame(value.limit(rows).toPandas(), rows)
        elif isinstance(value, pd.DataFrame):
            if self.display is not None:
                self.display(value.head(rows))
            else:
                _print_frame(value, rows)
        elif isinstance(value, (str, Path)) and str(value).lower().endswith(".png"):
            self.show_image(Path(value))
        else:
            print(value)

    def show_image(self, path: Path, caption: str = "") -> None:
        if not path.is_file():
            raise FileNotFoundError(f"figure {path} was not written")
        if self.display_html is not None:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            self.display_html(
                f'<figure><img src="data:image/png;base64,{data}" style="max-width:100%">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        elif self.display is not None:
            from IPython.display import Image

            self.display(Image(filename=str(path)))
            if caption:
                print(caption)
        else:
            print(f"[figure] {path}" + (f": {caption}" if caption else ""))


def _print_frame(frame: pd.DataFrame, rows: int) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(frame.head(rows).to_string(max_colwidth=60) if len(frame) else "(no rows)")


def notebook_context(
    namespace: Mapping[str, Any], name: str, defaults: Mapping[str, str] | None = None
) -> NotebookContext:
    """Parameters, conf, session and lakehouse for the notebook whose globals are ``namespace``.

    Relative paths of the conf (the lakehouse, the sample folder, the encoder) are relative to
    the project root, so the working directory moves there when the root is known (on Databricks
    a notebook starts in its own folder).
    """
    params = read_parameters(namespace, {**COMMON_PARAMETERS, **(defaults or {})})
    root = project_root()
    if root is not None and Path.cwd().resolve() != root:
        log.info("notebook %s: working directory %s (the project root)", name, root)
        os.chdir(root)
    conf = params["conf"] or (
        "conf/databricks.yaml" if on_databricks(namespace) else "conf/demo.yaml"
    )
    overrides = [item.strip() for item in params["overrides"].split(";") if item.strip()]
    config = load_config(conf, overrides, lakehouse=params["lakehouse"] or None)
    setup_logging(config.log_level)
    spark = namespace.get("spark") or build_spark(config, name)
    lakehouse = Lakehouse(spark, config.lakehouse, config.delta_engine)
    display = namespace.get("display") or _ipython_display()
    log.info(
        "notebook %s: conf %s, lakehouse %s (Delta engine %s), parameters %s",
        name,
        conf,
        lakehouse.root,
        lakehouse.engine.name,
        params,
    )
    return NotebookContext(
        name, config, spark, lakehouse, params, root, display, namespace.get("displayHTML")
    )


def run_notebooks(paths: Sequence[str | Path]) -> int:
    """Run each notebook top to bottom, in order, in this interpreter (they share its Spark
    session), each after a line ``NOTEBOOK_BANNER + name`` on stdout. 0 when all ran; 1 at the
    first that fails, its traceback on stderr and the rest not run (they build on it)."""
    for path in map(Path, paths):
        print(f"{NOTEBOOK_BANNER}{path.stem}", flush=True)
        try:
            runpy.run_path(str(path), run_name="__main__")
        except Exception:  # noqa: BLE001 - reported with its traceback, the run stops here
            traceback.print_exc()
            print(f"notebook {path.stem} failed; those after it not run", file=sys.stderr)
            return 1
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(run_notebooks(sys.argv[1:]))
