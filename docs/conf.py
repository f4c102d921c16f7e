"""Sphinx configuration of belief's documentation.

Build from the repository root (warnings and broken cross-references are errors)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The example notebooks are executed during the build (myst-nb, cached in docs/_build). Links to
the numpy, pandas, scipy, Python, PyMC, ArviZ and Matplotlib docs need their intersphinx
inventories, fetched over the network: set ``BELIEF_DOCS_INTERSPHINX=1`` to use them. Without
them (the default, for offline builds), references to those projects' types stay plain text.
``BELIEF_DOCS_NB_EXECUTION=off`` skips executing the notebooks (a quick build without their
outputs; the default is ``cache``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import belief  # noqa: E402

project = "belief"
author = "belief developers"
copyright = "belief developers"
release = belief.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "belief_docs",  # docs/_ext: CLI reference, code tables, notebooks, re-exports, API coverage
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"belief {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_sidebars = {"cli": [], "benchmarks": []}  # single pages: no section navigation
html_show_sourcelink = False

# -- API reference: autodoc, autosummary, numpydoc ------------------------------------------------
autosummary_generate = True  # stub pages in docs/api/generated/ (git-ignored)
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
numpydoc_show_class_members = False  # autodoc's :members: lists them (no duplicate tables)
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- notebooks (myst-nb) ------------------------------------------------------------------------
# docs/_ext/belief_docs.py copies ../examples/*.ipynb into docs/examples/ (git-ignored) when the
# build starts; they are stored without outputs and executed here, cached between builds.
nb_execution_mode = os.environ.get("BELIEF_DOCS_NB_EXECUTION", "cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- cross-references -------------------------------------------------------------------------
nitpicky = True
# Types of other projects. Their inventories are optional (no network on CI): without them these
# references cannot resolve and stay plain text. Only external modules are listed, never belief.
_EXTERNAL = (
    "numpy", "pandas", "scipy", "matplotlib", "pymc", "pytensor", "arviz", "xarray", "dask",
    "distributed",
    "np", "pd",  # the usual aliases, left in string annotations (``from __future__``)
    # the standard library (the Python inventory is optional too)
    "collections.abc", "typing", "os", "pathlib", "datetime",
)  # fmt: skip
nitpick_ignore_regex = [
    (r"py:.*", r"({})(\..+)?".format("|".join(m.replace(".", r"\.") for m in _EXTERNAL))),
]

intersphinx_mapping: dict[str, tuple[str, None]] = {}
if os.environ.get("BELIEF_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "pymc": ("https://www.pymc.io/projects/docs/en/stable", None),
        "arviz": ("https://python.arviz.org/en/stable", None),
    }
