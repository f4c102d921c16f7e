"""Checks on the command's file arguments, before any work starts.

An output may not be one of the command's inputs, nor another of its outputs, nor lie among the
files a directory or glob of inputs names (the next run would read it as a report file); its
directory must exist and be writable; a report must have a suffix the report writer knows. Every
check runs before reading or computing anything, so a refused command leaves no partial output.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import os
from pathlib import Path

from belief.exceptions import ValidationError

#: Arguments that name files the command reads, and that it writes.
INPUTS = ("case", "claims", "sources", "reports", "signals", "priors", "config")
OUTPUTS = ("out", "report", "predictions", "save_model")
REPORT_SUFFIXES = (".html", ".htm", ".md", ".markdown")


def _flag(name: str) -> str:
    return "the case file" if name == "case" else "--" + name.replace("_", "-")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    found = []
    for name in INPUTS:
        value = getattr(args, name, None)
        if not value:
            continue
        paths = sorted(glob.glob(value)) if glob.has_magic(str(value)) else [value]
        found += [(name, Path(p)) for p in paths]
    return found


def _collections(args: argparse.Namespace) -> list[tuple[str, Path | str]]:
    """Inputs that name many files: a directory (resolved) or a glob pattern."""
    found: list[tuple[str, Path | str]] = []
    for name in INPUTS:
        value = getattr(args, name, None)
        if value and glob.has_magic(str(value)) and not os.path.exists(value):
            found.append((name, str(value)))
        elif value and os.path.isdir(value):
            found.append((name, Path(os.path.realpath(value))))
    return found


def check_paths(args: argparse.Namespace) -> None:
    """Refuse outputs that would clobber an input or each other, or cannot be written."""
    outputs = [(n, Path(getattr(args, n))) for n in OUTPUTS if getattr(args, n, None)]
    inputs = _inputs(args)
    for k, (name, path) in enumerate(outputs):
        real = Path(os.path.realpath(path))
        for other, opath in outputs[:k]:
            if real == Path(os.path.realpath(opath)) or _same(path, opath):
                raise ValidationError(
                    f"{_flag(name)} {path}: the same file as {_flag(other)}; give each output "
                    "its own path"
                )
        for iname, ipath in inputs:
            if real == Path(os.path.realpath(ipath)) or _same(path, ipath):
                raise ValidationError(
                    f"{_flag(name)} {path}: this is the input {_flag(iname)}; refusing to "
                    "overwrite an input, choose another output path"
                )
        for iname, where in _collections(args):
            raise_if = (
                real.is_relative_to(where)
                if isinstance(where, Path)
                else fnmatch.fnmatch(os.path.abspath(path), os.path.abspath(where))
            )
            if raise_if:
                raise ValidationError(
                    f"{_flag(name)} {path}: lies among the input files {_flag(iname)} "
                    f"{getattr(args, iname)} (the next run would read it); choose another "
                    "output path"
                )
        if real.is_dir():
            raise ValidationError(f"{_flag(name)} {path}: is a directory, expected a file path")
        parent = real.parent
        if not parent.is_dir():
            raise ValidationError(f"{_flag(name)} {path}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK) and not (real.exists() and os.access(real, os.W_OK)):
            raise ValidationError(f"{_flag(name)} {path}: directory {parent} is not writable")
        if name == "report" and path.suffix.lower() not in REPORT_SUFFIXES:
            raise ValidationError(
                f"--report {path}: expected a file ending in {', '.join(REPORT_SUFFIXES)} but "
                f"got {path.suffix or 'no suffix'!r}"
            )
