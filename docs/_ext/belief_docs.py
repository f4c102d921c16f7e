"""Sphinx extension of belief's documentation (needs nothing beyond Sphinx itself).

* ``.. belief-cli::`` renders the help of the ``belief`` command from its argparse parser
  (:func:`belief.cli.build_parser` after ``belief.cli._load_extensions()``): one section per
  subcommand with its ``format_help()``, so the CLI reference cannot drift from the code.
* ``.. belief-table:: NAME`` renders a table from the constants the code uses (Admiralty grades,
  kind defaults, ICD 203 terms, stance aliases, truth spellings), so the guide cannot drift
  from them either.
* ``.. belief-errors::`` runs ``belief`` on small bad inputs given in the page and shows what it
  prints, so the error messages the data contract shows are this version's.
* The example notebooks (``../examples/*.ipynb``) are copied into ``docs/examples/`` when the
  build starts (only when they changed, so incremental builds stay incremental), with one hidden
  first cell that makes them run from ``examples/`` as the tests run them (they read
  ``../seeds/khasham.yaml``). myst-nb executes them.
* A cross-reference to a belief object through another module path (``belief.data.types.Case``
  in a docstring or a signature, for the documented ``belief.Case``) resolves to the page that
  documents the object. Only objects that are documented somewhere resolve; nothing is ignored.
* The API reference: every public module gets a page (``docs/_templates/autosummary/
  belief_module.rst``) listing its public names, each documented once, where it is first public
  (``belief.Case``, not ``belief.data.types.Case``): :func:`api_homes`. Public means in
  ``__all__``, or defined in the module with no leading underscore (the README's rule). A public
  name documented nowhere is a warning (an error under ``-W``) that names it.
* Docstring markup errors of belief that are known are fixed in the rendered text
  (:data:`DOCSTRING_FIXES`, each a no-op once the docstring is fixed), and a dataclass field's
  ``<factory>`` default is shown as ``...`` (Sphinx cannot parse it).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

#: Modules documented elsewhere than in docs/api: the command line has its own page (cli.rst).
NOT_IN_API = ("belief.cli",)
#: Width of the rendered ``--help`` text.
HELP_WIDTH = 76


def _depend(directive: SphinxDirective, *modules: str) -> None:
    """Rebuild the page when one of these modules changes (incremental builds)."""
    for module in modules:
        path = getattr(importlib.import_module(module), "__file__", None)
        if path:
            directive.env.note_dependency(path)


# ---- the CLI reference ------------------------------------------------------------------------
def _subcommands(parser: Any) -> list[tuple[str, str, Any]]:
    """``(name, one-line help, parser)`` of every subcommand, in registration order."""
    import argparse

    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            out += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return out


def _help(parser: Any) -> str:
    if hasattr(parser, "color"):  # Python >= 3.14 colours help on a terminal
        parser.color = False
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH + 2)  # argparse wraps at COLUMNS - 2
    try:
        return parser.format_help().rstrip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class BeliefCli(SphinxDirective):
    """The help of ``belief`` and of each subcommand, generated from the parser."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import belief.cli as cli

        cli._load_extensions()
        parser = cli.build_parser()
        _depend(self, "belief.cli", "belief.cli.calibrate")
        lines = [".. code-block:: text", ""]
        lines += ["   " + x for x in _help(parser).splitlines()] + [""]
        for name, summary, sub in _subcommands(parser):
            title = f"``belief {name}``"
            lines += [title, "-" * len(title), ""]
            if summary:  # the one-line help of the subcommand, as given
                escaped = summary.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`")
                lines += [f"*{escaped}*", ""]
            lines += [".. code-block:: text", ""]
            lines += ["   " + x for x in _help(sub).splitlines()] + [""]
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, "belief-cli"), node)
        return node.children


# ---- tables of the code's constants ---------------------------------------------------------
ADMIRALTY_MEANINGS = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}


def _fmt(x: float) -> str:
    return f"{x:g}"


def _table_rows(name: str) -> tuple[list[str], list[list[str]]]:
    if name == "admiralty":
        from belief.data.types import ADMIRALTY_GRADES
        from belief.priors.reliability import ADMIRALTY_PRIORS

        rows = []
        for g in ADMIRALTY_GRADES:
            if g in ADMIRALTY_PRIORS:
                mean, strength = ADMIRALTY_PRIORS[g]
                rows.append([g, ADMIRALTY_MEANINGS.get(g, ""), _fmt(mean), _fmt(strength)])
            else:
                rows.append([g, ADMIRALTY_MEANINGS.get(g, ""), "kind, else default",
                             "kind, else default"])  # fmt: skip
        head = ["grade", "meaning", "sensitivity = specificity (mean)", "strength"]
        return head, rows
    if name == "kinds":
        from belief.priors.reliability import DEFAULT_PRIOR, KIND_PRIORS

        rows = [[f"``{k}``", *(_fmt(v[f]) for f in ("sensitivity", "specificity", "strength"))]
                for k, v in KIND_PRIORS.items()]  # fmt: skip
        rows.append(["any other kind, or none (the global default)",
                     *(_fmt(DEFAULT_PRIOR[f]) for f in ("sensitivity", "specificity",
                                                        "strength"))])  # fmt: skip
        return ["kind", "sensitivity", "specificity", "strength"], rows
    if name == "icd203":
        from belief.core.verbal import ICD203_EDGES, ICD203_TERMS

        edges = [0.0, *ICD203_EDGES, 1.0]
        rows = []
        for i, term in enumerate(ICD203_TERMS):
            lo, hi = _fmt(edges[i]), _fmt(edges[i + 1])
            if i < len(ICD203_TERMS) // 2:
                rng = f"[{lo}, {hi})"
            elif i == len(ICD203_TERMS) // 2:
                rng = f"[{lo}, {hi}]"
            else:
                rng = f"({lo}, {hi}]"
            rows.append([term, rng])
        return ["term", "P(true)"], rows
    if name == "stances":
        from belief.data.types import STANCES
        from belief.data.validation import STANCE_ALIASES

        rows = []
        for stance in STANCES:
            aliases = [k for k, v in STANCE_ALIASES.items() if v == stance and k != stance]
            rows.append([f"``{stance}``", ", ".join(f"``{a}``" for a in aliases)])
        return ["stance", "also accepted (any case, blanks around ignored)"], rows
    if name == "truth":
        from belief.data import validation

        truth = validation._TRUTH
        rows = []
        for value, label in ((True, "true"), (False, "false"), (None, "unresolved")):
            spellings = [k for k, v in truth.items() if v is value]
            rows.append(
                [
                    label,
                    ", ".join(f"``{s}``" for s in spellings) + ", or empty"
                    if value is None
                    else ", ".join(f"``{s}``" for s in spellings),
                ]
            )
        return ["truth", "spellings (any case, blanks around ignored)"], rows
    raise ValueError(f"belief-table: unknown table {name!r}")


def _cell(text: str) -> nodes.entry:
    """A table cell; ````x```` in ``text`` is inline code (built as nodes: no parser needed,
    so the directive works the same in reST and MyST pages)."""
    para = nodes.paragraph()
    for i, part in enumerate(text.split("``")):
        if part:
            para += nodes.literal(part, part) if i % 2 else nodes.Text(part)
    return nodes.entry("", para)


class BeliefTable(SphinxDirective):
    """``.. belief-table:: admiralty|kinds|icd203|stances|truth``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        try:
            head, rows = _table_rows(self.arguments[0])
        except Exception as e:  # an unknown table, or the code's constants moved
            logger.warning(f"belief-table {self.arguments[0]}: {e}", location=self.get_location())
            return []
        _depend(self, "belief.priors.reliability", "belief.core.verbal", "belief.data.validation")
        group = nodes.tgroup(cols=len(head))
        group += [nodes.colspec(colwidth=1) for _ in head]
        group += nodes.thead("", nodes.row("", *(_cell(h) for h in head)))
        group += nodes.tbody("", *(nodes.row("", *(_cell(c) for c in row)) for row in rows))
        table = nodes.table("", group, classes=["belief-table"])
        return [table]


# ---- real error messages --------------------------------------------------------------------
class BeliefErrors(SphinxDirective):
    """What ``belief`` prints on bad input, from running it when the docs are built.

    The content is a YAML list of cases, each ``{files: {name: text}, run: "belief ..."}``; each
    command runs in an empty temporary folder holding the files, and everything it prints to
    stderr (``belief: error: ...``, ``belief: warning: ...``) goes into one text block.
    """

    has_content = True

    def run(self) -> list[nodes.Node]:
        import contextlib
        import io
        import shlex
        import tempfile

        import yaml

        from belief.cli import main

        _depend(self, "belief.cli", "belief.data.io", "belief.data.validation")
        out: list[str] = []
        cwd = os.getcwd()
        for case in yaml.safe_load("\n".join(self.content)) or []:
            with tempfile.TemporaryDirectory() as tmp:
                for name, text in (case.get("files") or {}).items():
                    Path(tmp, name).write_text(text, encoding="utf-8")
                argv = shlex.split(case["run"])[1:]  # without the leading "belief"
                err = io.StringIO()
                try:
                    os.chdir(tmp)
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                        main(argv)
                finally:
                    os.chdir(cwd)
            lines = err.getvalue().strip().splitlines()
            if not lines:
                logger.warning(f"belief-errors: {case['run']!r} printed nothing on stderr",
                               location=self.get_location())  # fmt: skip
            out += lines
        text = "\n".join(out)
        block = nodes.literal_block(text, text, language="text")
        return [block]


# ---- example notebooks --------------------------------------------------------------------------
SETUP_SOURCE = (
    "# added by the docs build (docs/_ext/belief_docs.py), hidden: run from examples/ as the\n"
    "# tests do, so that the notebook finds ../seeds/khasham.yaml\n"
    "import os\n"
    "os.chdir({path!r})"
)


def copy_examples(app: Sphinx, config: Any) -> None:
    """Copy ``../examples/*.ipynb`` into ``docs/examples/`` with the hidden setup cell."""
    src_dir = Path(app.srcdir).parent / "examples"
    dst_dir = Path(app.srcdir) / "examples"
    dst_dir.mkdir(exist_ok=True)
    wanted = set()
    rel = os.path.relpath(src_dir, dst_dir).replace(os.sep, "/")
    for src in sorted(src_dir.glob("*.ipynb")):
        nb = json.loads(src.read_text(encoding="utf-8"))
        cell: dict[str, Any] = {"cell_type": "code", "execution_count": None,
                                "metadata": {"tags": ["remove-cell"]}, "outputs": [],
                                "source": SETUP_SOURCE.format(path=rel)}  # fmt: skip
        if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
            cell["id"] = "belief-docs-setup"
        nb["cells"].insert(0, cell)
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        dst = dst_dir / src.name
        wanted.add(dst.name)
        if not dst.is_file() or dst.read_text(encoding="utf-8") != text:
            dst.write_text(text, encoding="utf-8")
    for stale in dst_dir.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()


# ---- cross-references through re-exports ----------------------------------------------------
def _import(name: str) -> Any:
    """The object named ``name`` (``belief...`` only), or ``None``."""
    parts = name.split(".")
    if parts[0] != "belief":
        return None
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _keyable(obj: Any) -> bool:
    """Objects whose identity names them (not numbers or strings, which may be shared)."""
    return not isinstance(obj, str | bytes | int | float | complex | bool | type(None))


def _documented(env: Any) -> dict[int, str]:
    """``id(object) -> documented name`` of every documented belief object (cached per build)."""
    if "documented" in _CACHE:
        return _CACHE["documented"]
    py = env.get_domain("py")
    out: dict[int, str] = {}
    for name, entry in sorted(py.objects.items()):
        if entry.aliased or not name.startswith("belief"):
            continue
        obj = _import(name)
        if obj is not None and _keyable(obj):
            out.setdefault(id(obj), name)
    _CACHE["documented"] = out
    return out


def _page_object(docname: str) -> Any:
    """The object an autosummary page (``api/generated/<full name>``) documents, if any."""
    head, _, name = docname.rpartition("/")
    return _import(name) if head.endswith("generated") else None


def _contexts(node: Any) -> list[str]:
    """Where a relative name in this docstring or signature is looked up, in order."""
    out = []
    module, cls = node.get("py:module") or "", node.get("py:class")
    if module.startswith("belief"):
        out += [f"{module}.{cls}", module] if cls else [module]
    # a docstring is written in the module that defines its object, not where it is documented
    obj = _page_object(node.get("refdoc", ""))
    if obj is not None:
        defining = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", "")
        if defining and defining.startswith("belief"):
            if cls and inspect.isclass(obj):
                out.append(f"{defining}.{obj.__qualname__}")
            out.append(defining)
    return list(dict.fromkeys(out))


def _home(name: str, py: Any, documented: dict[int, str]) -> tuple[str | None, bool]:
    """``(documented name of the object called name, whether such an object exists)``."""
    if name in py.objects or name in py.modules:
        return name, True
    parts = name.split(".")
    obj = _import(name)
    if obj is None:
        return None, False
    if inspect.ismodule(obj):
        return (obj.__name__ if obj.__name__ in py.modules else None), True
    # the object itself, else the closest documented parent (a method of a documented class)
    for i in range(len(parts), 1, -1):
        head = _import(".".join(parts[:i]))
        if head is None or inspect.ismodule(head) or not _keyable(head):
            continue
        if id(head) in documented:
            full = ".".join([documented[id(head)], *parts[i:]])
            if full in py.objects:
                return full, True
    return None, True


def _unique_suffix(target: str, py: Any, value: Any = None, check: bool = False) -> str | None:
    """The one documented belief name ending in ``.target`` (with the same value if checked)."""
    hits = [
        n
        for n, e in py.objects.items()
        if not e.aliased and n.startswith("belief.") and n.endswith("." + target)
    ]
    hits += [n for n in py.modules if n.startswith("belief.") and n.endswith("." + target)]
    if check:
        hits = [n for n in hits if _import(n) == value]
    return hits[0] if len(hits) == 1 else None


def resolve_reexport(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a reference to a belief object to the page where that object is documented.

    ``belief.data.types.Case`` (a signature's annotation) and ``Case`` (in a docstring of
    belief.data) both resolve to ``belief.Case``. A relative name is looked up in the module of
    the docstring; a name found nowhere there resolves only if exactly one documented belief
    object has it. References to objects that are not documented are left unresolved.
    """
    if node.get("refdomain") != "py":
        return None
    target, reftype = node["reftarget"].lstrip("."), node["reftype"]
    py = env.get_domain("py")
    documented = _documented(env)
    names = [target] if target.startswith("belief.") else [
        f"{c}.{target}" for c in _contexts(node)]  # fmt: skip
    home, found, value = None, False, None
    for name in names:
        home, exists = _home(name, py, documented)
        if exists and not found:
            found, value = True, _import(name)
        if home:
            break
    if home is None and not target.startswith("belief."):
        # not found where the docstring was written: a unique name elsewhere (same value if
        # the local name exists but is a number or string)
        if not found or not _keyable(value):
            home = _unique_suffix(target, py, value, check=found)
    if home is None or home == target:
        return None
    roles = ("mod",) if home in py.modules else (reftype, "obj")
    for role in roles:
        ref = py.resolve_xref(env, node["refdoc"], app.builder, role, home, node, contnode)
        if ref is not None:
            return ref
    return None


#: Per process and build (object ids are not stable across processes: never on the env).
_CACHE: dict[str, Any] = {}


def _clear_cache(app: Sphinx, *args: Any) -> None:
    _CACHE.clear()


# ---- signatures and docstrings ---------------------------------------------------------------
def fix_signature(app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: Any,
                  return_annotation: Any) -> Any:  # fmt: skip
    """A dataclass field with a ``default_factory`` shows ``<factory>``, which is not Python and
    makes Sphinx split the signature at every comma: show ``...`` instead."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


#: Markup errors in belief docstrings, fixed when the docs are built: (object, old, new). Each
#: is a no-op once the docstring itself is fixed, and can then be deleted.
DOCSTRING_FIXES: list[tuple[str, str, str]] = []  # every known one is fixed in the package


def _canonical(obj: Any) -> str:
    if inspect.ismodule(obj):
        return obj.__name__
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


#: Constants without a doc comment show their type's docstring ("Built-in immutable
#: sequence."): these get a sentence, the others none.
DATA_DOCS = {
    "belief.__version__": "The version of belief.",
    "belief.METHODS": "The methods :func:`belief.infer` takes.",
}


def fix_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                  lines: list[str]) -> None:  # fmt: skip
    if what in ("data", "attribute") and lines and not inspect.isclass(obj):
        type_doc = inspect.getdoc(type(obj)) or ""
        if type_doc and "\n".join(lines).strip() == type_doc.strip():
            lines[:] = [DATA_DOCS[name]] if name in DATA_DOCS else []
    for target, old, new in DOCSTRING_FIXES:
        if target in (name, _canonical(obj)):
            text = "\n".join(lines)
            if old in text:
                lines[:] = text.replace(old, new).split("\n")


# ---- API coverage ---------------------------------------------------------------------------
def public_modules() -> list[str]:
    """Every importable belief module whose dotted path has no part starting with ``_``."""
    import belief

    names = ["belief"]
    for info in pkgutil.walk_packages(belief.__path__, "belief."):
        if any(p.startswith("_") for p in info.name.split(".")):
            continue
        if info.name == NOT_IN_API[0] or info.name.startswith(NOT_IN_API[0] + "."):
            continue
        names.append(info.name)
    return sorted(names)


def _constants(module: Any) -> list[str]:
    """Public UPPER_CASE names assigned at the top level of ``module``'s source."""
    import ast

    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])  # fmt: skip
        for t in targets:
            if isinstance(t, ast.Name) and t.id.isupper() and not t.id.startswith("_"):
                names.append(t.id)
    return names


def public_names(module: Any) -> list[str]:
    """``__all__`` and every other name of ``module`` without a leading underscore that it
    defines itself (classes, functions, UPPER_CASE constants): the README's rule is that a name
    with a leading underscore is private, and every other name is public."""
    names = list(getattr(module, "__all__", ()))
    defined = [
        k for k, v in vars(module).items()
        if not k.startswith("_") and getattr(v, "__module__", None) == module.__name__
        and (inspect.isclass(v) or inspect.isfunction(v))
    ]  # fmt: skip
    for name in [*defined, *_constants(module)]:
        if name not in names and hasattr(module, name):
            names.append(name)
    return names


def api_homes() -> dict[str, dict[str, list[str]]]:
    """Where each public object is documented: its *home*, one page per object.

    The top-level ``belief`` namespace first (its page, docs/api/namespace.rst, is written by
    hand), then the subpackages, then the module that defines the object, then any other module.
    Returns, per public module, ``own`` (names documented on its page), ``elsewhere`` (full names
    of the homes of its other public names) and ``modules`` (its public submodules).
    """
    modules = {m: importlib.import_module(m) for m in public_modules()}
    packages = [m for m, mod in modules.items() if hasattr(mod, "__path__") and m != "belief"]
    plain = [m for m in modules if m not in packages and m != "belief"]
    home: dict[int, str] = {}
    out: dict[str, dict[str, list[str]]] = {
        m: {"own": [], "elsewhere": [], "modules": []} for m in modules
    }
    for m in modules:
        parent = m.rpartition(".")[0]
        if parent in out:
            out[parent]["modules"].append(m)

    def visit(m: str, only_defined: bool) -> None:
        names = public_names(modules[m])
        # an alias (``calibrate_priors = calibrate``) is documented under the object's own name
        names.sort(key=lambda n: getattr(getattr(modules[m], n), "__name__", n) != n)
        for name in names:
            obj = getattr(modules[m], name)
            full = f"{m}.{name}"
            if not _keyable(obj):  # a number or a string: documented where it is listed
                if not only_defined:
                    out[m]["own"].append(name)
                continue
            if id(obj) in home:
                if (
                    home[id(obj)] != full
                    and home[id(obj)] not in out[m]["elsewhere"]
                    and not only_defined
                ):
                    out[m]["elsewhere"].append(home[id(obj)])
                continue
            if only_defined and getattr(obj, "__module__", None) != m:
                continue
            home[id(obj)] = full
            out[m]["own"].append(name)

    visit("belief", False)
    for m in packages:
        visit(m, False)
    for m in plain:
        visit(m, True)
    for m in plain:
        visit(m, False)
    return out


def add_homes(app: Sphinx, config: Any) -> None:
    """Give the module template (docs/_templates/autosummary) the homes of every name, and
    remove the stub pages of the last build: autosummary rewrites the current ones but never
    deletes a stub whose object is gone (an orphan page is a warning)."""
    import shutil

    shutil.rmtree(Path(app.srcdir) / "api" / "generated", ignore_errors=True)
    config.autosummary_context = {**config.autosummary_context, "belief_homes": api_homes()}


def check_api(app: Sphinx, env: Any) -> None:
    """Warn about every public module or name that docs/api does not document."""
    py = env.get_domain("py")
    ids = set(_documented(env))
    for modname in public_modules():
        module = importlib.import_module(modname)
        if modname not in py.modules:
            msg = f"module {modname} is not documented (add it to docs/api/index.rst)"
            logger.warning(f"API reference: {msg}", type="belief", subtype="api")
        for name in public_names(module):
            full = f"{modname}.{name}"
            obj = getattr(module, name)
            if full in py.objects or (_keyable(obj) and id(obj) in ids):
                continue
            msg = f"public name {full} is not documented (add it to docs/api/namespace.rst)"
            logger.warning(f"API reference: {msg}", type="belief", subtype="api")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("belief-cli", BeliefCli)
    app.add_directive("belief-table", BeliefTable)
    app.add_directive("belief-errors", BeliefErrors)
    app.connect("config-inited", copy_examples)
    app.connect("config-inited", add_homes)
    app.connect("missing-reference", resolve_reexport)
    app.connect("builder-inited", _clear_cache)
    app.connect("env-updated", _clear_cache)
    app.connect("env-check-consistency", check_api)
    app.connect("autodoc-process-signature", fix_signature)
    app.connect("autodoc-process-docstring", fix_docstring, priority=400)  # before numpydoc
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
