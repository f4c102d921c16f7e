"""Safe loading of YAML and JSON documents: bounded size and depth, no duplicate keys.

``yaml.safe_load`` refuses arbitrary Python objects but still (a) keeps aliases compact, so a
few hundred bytes of ``&a [*b, *b, ...]`` expand to billions of nodes as soon as anything walks
the data, (b) recurses once per nesting level, (c) silently keeps the last of two equal keys and
(d) reads plain scalars by YAML 1.1 rules (``no`` is False, ``017`` is 15, ``12:30`` is 750).

:func:`load_text` composes the node graph first, measures it (memoized over aliases, so the
measure itself costs time linear in the file) and only then constructs Python objects, reading
plain scalars by the rules YAML 1.1 and the YAML 1.2 core schema agree on. Values of the text
fields of case records (ids, ``name``, ``text``) are taken as written.
"""

from __future__ import annotations

import json
import math
import re
from json.decoder import JSONObject  # type: ignore[attr-defined]
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from belief.exceptions import ValidationError

#: Most nodes (scalars, keys, lists, mappings) a YAML file may expand to through aliases. A
#: file that spells out more nodes itself (no aliases) is not limited.
MAX_NODES = 1_000_000
#: Most characters of scalar text a YAML file may expand to through aliases (same exemption).
MAX_TEXT = 10_000_000
#: Deepest nesting of lists and mappings (after alias expansion) in a YAML or JSON file.
MAX_DEPTH = 100

#: Fields of case records whose values are text, read exactly as written (never 017 -> 17).
TEXT_FIELDS = frozenset(
    {"claim_id", "source_id", "signal_id", "group", "derived_from", "favors", "side", "kind"}
    | {"name", "text"}
)
RECORD_TABLES = ("claims", "sources", "reports", "signals")

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _MERGE = _TAG + "str", _TAG + "null", _TAG + "merge"


class _Problem(Exception):
    """A loader-level problem; the message is completed with the file name by the caller."""


#: YAML 1.2 core schema patterns. A plain scalar gets a non-text type only when both YAML 1.1
#: (PyYAML's resolver, which also decides what ``yaml.safe_dump`` quotes) and these patterns
#: agree: ``no``, ``12:30`` and ``1_000`` stay text (1.1 only) and so do ``1e3`` and ``019``
#: (1.2 only, written unquoted by ``safe_dump``), so whatever belief writes reads back the same.
_CORE = {
    _TAG + "null": r"~|null|Null|NULL|",
    _TAG + "bool": r"true|True|TRUE|false|False|FALSE",
    _TAG + "int": r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
    _TAG + "float": r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
}
_CORE_RE = {tag: re.compile(f"(?:{pattern})") for tag, pattern in _CORE.items()}
_KEEP = (_TAG + "timestamp", _MERGE)  # dates and ``<<`` merge keys as PyYAML reads them


def _int(text: str) -> int:
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    return int(text, 10)  # 017 is 17 (YAML 1.1 read it as octal 15)


def _float(text: str) -> float:
    low = text.lower()
    if low.endswith(".inf"):
        return -math.inf if low.startswith("-") else math.inf
    return math.nan if low == ".nan" else float(text)


def _key(node: Node) -> Any:
    """The value a scalar mapping key stands for, for duplicate detection (None: not checked)."""
    if not isinstance(node, ScalarNode) or node.tag == _MERGE:
        return None
    text, kind = node.value, node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag
    try:
        if kind == "int":
            return ("number", _int(text))
        if kind == "float":
            return ("number", _float(text))
        if kind == "bool":
            return ("number", int(text.lower() == "true"))  # True == 1 as a Python dict key
        if kind == "null":
            return ("null", None)
    except ValueError:
        pass
    return ("text", text)


class _Loader(Reader, Scanner, Parser, Composer, SafeConstructor, Resolver):
    """PyYAML's safe loader with the scalar types above, a depth limit and duplicate-key checks."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.depth = 0
        self.written_nodes = 0
        self.written_text = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if kind is not ScalarNode or not implicit[0] or tag == _STR or tag in _KEEP:
            return tag
        core = _CORE_RE.get(tag)
        return tag if core is not None and core.fullmatch(value) else _STR

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):  # the anchored node itself: nothing new is written
            return super().compose_node(parent, index)
        nested = self.check_event(SequenceStartEvent, MappingStartEvent)
        if nested:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Problem(
                    f"lists and mappings nested deeper than {MAX_DEPTH} levels at line {line}"
                )
        try:
            node = super().compose_node(parent, index)
        finally:
            if nested:
                self.depth -= 1
        self.written_nodes += 1
        if isinstance(node, ScalarNode):
            self.written_text += len(node.value)
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            key = _key(key_node)
            if key is None:
                continue
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise _Problem(
                    f"duplicate key {key_node.value!r} at line {key_node.start_mark.line + 1} "
                    f"(first at line {first}); each key may appear once in a mapping"
                )
            seen[key] = key_node
        return node

    def construct_int(self, node: ScalarNode) -> int:
        return _int(self.construct_scalar(node))

    def construct_float(self, node: ScalarNode) -> float:
        return _float(self.construct_scalar(node))

    def construct_bool(self, node: ScalarNode) -> bool:
        return self.construct_scalar(node).lower() == "true"

    def construct_date(self, node: ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except (ValueError, OverflowError):  # 2017-13-45: left as text for the validator
            return self.construct_scalar(node)


_Loader.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    _TAG + "int": _Loader.construct_int,
    _TAG + "float": _Loader.construct_float,
    _TAG + "bool": _Loader.construct_bool,
    _TAG + "timestamp": _Loader.construct_date,
}


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _measure(root: Node, max_nodes: int, max_text: int) -> None:
    """Check the alias-expanded size and depth of ``root`` without expanding anything."""
    done: dict[int, tuple[int, int, int]] = {}  # id(node) -> (nodes, text, depth) expanded
    open_: set[int] = set()  # nodes whose children are being measured (a cycle if met again)
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_.discard(key)
            parts = [done[id(c)] for c in _children(node)]
            nodes = 1 + sum(p[0] for p in parts)
            text = (len(node.value) if isinstance(node, ScalarNode) else 0) + sum(
                p[1] for p in parts
            )
            depth = (0 if isinstance(node, ScalarNode) else 1) + max(
                (p[2] for p in parts), default=0
            )
            line = node.start_mark.line + 1
            if nodes > max_nodes or text > max_text:
                raise _Problem(
                    f"aliases (*name) expand the data at line {line} to more than "
                    f"{max_nodes:,} values or {max_text:,} characters (an alias bomb?)"
                )
            if depth > MAX_DEPTH:
                raise _Problem(
                    f"aliases (*name) nest lists and mappings deeper than {MAX_DEPTH} levels "
                    f"at line {line}"
                )
            done[key] = (nodes, text, depth)
        elif key not in done:
            if key in open_:
                raise _Problem(f"recursive alias at line {node.start_mark.line + 1}")
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in done)


def _text_fields_as_written(root: Node) -> None:
    """Tag the text fields of case records as strings, so they keep the text as written."""

    def fix(entry: Node, seen: set[int]) -> None:
        if not isinstance(entry, MappingNode) or id(entry) in seen:
            return
        seen.add(id(entry))
        for i, (k, v) in enumerate(entry.value):
            if not isinstance(k, ScalarNode):
                continue
            if k.tag == _MERGE:  # <<: *defaults, or <<: [*a, *b]
                for m in v.value if isinstance(v, SequenceNode) else [v]:
                    fix(m, seen)
            elif k.value in TEXT_FIELDS and isinstance(v, ScalarNode) and v.tag != _NULL:
                text = ScalarNode(_STR, v.value, v.start_mark, v.end_mark, v.style)
                entry.value[i] = (k, text)

    if not isinstance(root, MappingNode):
        return
    seen: set[int] = set()
    for k, v in root.value:
        if isinstance(k, ScalarNode) and k.value in RECORD_TABLES and isinstance(v, SequenceNode):
            for entry in v.value:
                fix(entry, seen)


def _yaml(text: str, *, case_records: bool) -> Any:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _measure(
            root,
            max(MAX_NODES, loader.written_nodes),
            max(MAX_TEXT, loader.written_text),
        )
        if case_records:
            _text_fields_as_written(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()


class _DuplicateKey(Exception):
    def __init__(self, key: str, start: int | None = None) -> None:
        super().__init__(key)
        self.key, self.start = key, start


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _duplicate_line(text: str) -> int | None:
    """Line of the JSON object holding a duplicate key (a second, slower pass: the pure-Python
    scanner is the one that lets us see where each object starts)."""
    starts: list[int] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        try:
            return _unique_pairs(pairs)
        except _DuplicateKey as e:
            raise _DuplicateKey(e.key, starts[-1]) from None

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> Any:
        starts.append(s_and_end[1] - 1)
        try:
            return JSONObject(s_and_end, *args)
        finally:
            starts.pop()

    decoder: Any = json.JSONDecoder(object_pairs_hook=hook)
    decoder.parse_object = parse_object
    decoder.scan_once = py_make_scanner(decoder)
    try:
        decoder.decode(text)
    except _DuplicateKey as e:
        return None if e.start is None else text.count("\n", 0, e.start) + 1
    except (RecursionError, ValueError):
        pass
    return None


def _depth(data: Any) -> int:
    """Nesting depth of lists and mappings in parsed JSON (iteratively)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((c, level + 1) for c in children)
    return deepest


def _json(text: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as e:
        line = _duplicate_line(text)
        where = f" in the object starting at line {line}" if line else ""
        raise _Problem(
            f"duplicate key {e.key!r}{where}; each key may appear once in an object"
        ) from None
    except RecursionError:
        raise _Problem(f"lists and objects nested deeper than {MAX_DEPTH} levels") from None
    if _depth(data) > MAX_DEPTH:
        raise _Problem(f"lists and objects nested deeper than {MAX_DEPTH} levels")
    return data


def load_text(text: str, label: str, *, kind: str, case_records: bool = False) -> Any:
    """Parse ``text`` as ``kind`` ("YAML" or "JSON"); errors name ``label`` (the file).

    ``case_records``: take the text fields of the records under ``claims``, ``sources``,
    ``reports`` and ``signals`` as written (YAML only; JSON says what is text by quoting).
    """
    try:
        return _json(text) if kind == "JSON" else _yaml(text, case_records=case_records)
    except _Problem as e:
        raise ValidationError(f"{label}: not valid {kind}: {e}") from None
    except json.JSONDecodeError as e:
        raise ValidationError(f"{label}: not valid JSON: {e}") from None
    except yaml.YAMLError as e:
        # PyYAML's own message spans several lines; keep the error to one line
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or " ".join(str(e).split())
        raise ValidationError(f"{label}: not valid {kind}: {problem}{at}") from None
    except RecursionError:  # only when called with little stack left
        raise ValidationError(f"{label}: not valid {kind}: nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as e:  # e.g. an explicit !!int tag on text
        raise ValidationError(f"{label}: not valid {kind}: {e}") from None


__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_TEXT", "TEXT_FIELDS", "load_text"]
