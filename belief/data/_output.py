"""Writing output files safely: atomic replacement of regular files, in-place writes elsewhere.

What :func:`atomic_path` does with what is already at the path:

* nothing there, or a regular file: the output goes to a temporary file in the same directory
  (``.<name>.<8 hex>.tmp``, or ``.belief-<8 hex>.tmp`` when that name would be too long) that
  then atomically replaces the target, so readers see the old file or the new one, never half of
  one. An existing file keeps its permission bits (and, when allowed, its owner and group).
* a symbolic link: it is followed and the same rules apply to what it points to; the link stays.
* a regular file with other hard links (or in a directory we may not create files in): the
  output is staged in a temporary file, then copied into the existing file, which keeps its
  identity (every link sees the new content).
* a character device (``/dev/null``, a terminal), a FIFO, a socket or anything else that is not a
  regular file, and any path under ``/dev/`` or ``/proc/`` (``/dev/stdout`` redirected to a
  file): written in place, as a shell redirection would; it is never replaced.

The temporary file is removed on every exit Python can see: an exception, ``KeyboardInterrupt``
and, while the main thread writes, ``SIGTERM`` and ``SIGHUP`` (the default action then follows).
Error messages name the user's path, never the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------- temporary files


_LIVE: set[str] = set()  # temporary files to remove if the process is told to terminate
_LOCK = threading.Lock()
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _remove_and_die(signum: int, frame: FrameType | None) -> None:
    with contextlib.suppress(Exception):
        for name in list(_LIVE):
            with contextlib.suppress(OSError):
                os.unlink(name)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # the default action: terminate, as without us


def _register(name: str) -> None:
    with _LOCK:
        _LIVE.add(name)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                if signal.getsignal(sig) is signal.SIG_DFL:  # never replace someone's handler
                    signal.signal(sig, _remove_and_die)


def _unregister(name: str) -> None:
    with _LOCK:
        _LIVE.discard(name)
        if _LIVE or threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                if signal.getsignal(sig) is _remove_and_die:
                    signal.signal(sig, signal.SIG_DFL)


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _create_temp(directory: Path, name: str, mode: int) -> Path:
    """Create an empty temporary file in ``directory`` (``O_EXCL``: never someone else's)."""
    limit = _name_max(directory)
    for _ in range(100):
        tag = secrets.token_hex(4)
        tmp = f".{name}.{tag}.tmp"
        if len(os.fsencode(tmp)) > limit:
            tmp = f".belief-{tag}.tmp"
        path = directory / tmp
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "cannot create a temporary file", str(directory))


def _user_path(e: BaseException, names: dict[str, str]) -> None:
    """Make ``e`` name the user's path instead of the temporary file or the resolved target."""
    if isinstance(e, OSError):
        for attr in ("filename", "filename2"):
            value = getattr(e, attr, None)
            if isinstance(value, bytes | os.PathLike):
                value = os.fsdecode(value)
            if isinstance(value, str) and value in names:
                setattr(e, attr, names[value])
        if e.filename2 is not None and e.filename2 == e.filename:
            e.filename2 = None
        return
    with contextlib.suppress(Exception):  # a library's own message may quote the temporary file
        for old, new in names.items():
            e.args = tuple(a.replace(old, new) if isinstance(a, str) else a for a in e.args)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None  # nothing there (or a dangling symbolic link: its target gets created)


def _special(path: Path) -> bool:
    """``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``: names of open files, not places."""
    return os.path.abspath(path).startswith(("/dev/", "/proc/"))


def _keep_identity(tmp: Path, old: os.stat_result) -> None:
    """Give the replacement the replaced file's owner, group and permission bits."""
    new = os.stat(tmp)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        with contextlib.suppress(OSError):  # only root may give files away
            os.chown(tmp, old.st_uid, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode))


def _copy_into(tmp: Path, target: Path) -> None:
    with open(tmp, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a path to write the output of ``path`` to; put it in place only on success.

    See the module docstring for what happens to what is already at ``path``: a regular file
    (or nothing) is replaced atomically from a temporary file next to it; links are followed;
    devices, FIFOs and other special files are written in place (the yielded path is then
    ``path`` itself). The temporary file never outlives the ``with`` block.
    """
    user = Path(path)
    old = _stat(user)
    if old is not None and (not stat.S_ISREG(old.st_mode) or _special(user)):
        yield user  # a device, FIFO, socket, /dev/stdout...: never replace it, write to it
        return
    target = Path(os.path.realpath(user))
    copy_back = old is not None and old.st_nlink > 1  # replacing would split the hard link
    if old is not None:
        now = _stat(target)
        if now is None or (now.st_dev, now.st_ino) != (old.st_dev, old.st_ino):
            target, copy_back = user, True  # no path of its own (e.g. /proc/<pid>/fd/<n>)
    try:
        try:
            # a file that exists keeps its mode: no wider access while the new content is written
            tmp = _create_temp(target.parent, target.name, 0o666 if old is None else 0o600)
        except PermissionError:
            if old is None or not os.access(target, os.W_OK):
                raise
            # a writable file in a directory we may not add files to: stage elsewhere, copy back
            fd, name = tempfile.mkstemp(prefix=".belief-", suffix=".tmp")
            os.close(fd)
            tmp, copy_back = Path(name), True
    except OSError as e:
        e.filename, e.filename2 = str(user), None  # not the temporary file's name
        raise
    names = {str(tmp): str(user), str(target): str(user)}
    _register(str(tmp))
    try:
        yield tmp
        if copy_back:
            _copy_into(tmp, target)
        else:
            if old is not None:
                _keep_identity(tmp, old)
            os.replace(tmp, target)
    except BaseException as e:
        _user_path(e, names)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _unregister(str(tmp))


# ------------------------------------------------------------------------- CSV formulas

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def escape_formula(value: Any) -> Any:
    """Prefix ``'`` to text a spreadsheet would run as a formula (plain numbers such as ``-1``
    are left alone: spreadsheets read them as numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell and column name passed through :func:`escape_formula`."""
    out = df.copy()
    for i, dtype in enumerate(out.dtypes):
        if pd.api.types.is_object_dtype(dtype) or isinstance(
            dtype, pd.StringDtype | pd.CategoricalDtype
        ):
            out.isetitem(i, out.iloc[:, i].astype(object).map(escape_formula))
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.Index([escape_formula(c) for c in out.columns], dtype=object)
    return out


# ------------------------------------------------------------------ fast table writing

#: Frames of at least this many rows are written by Arrow when they can be (:func:`fast_csv`);
#: smaller ones by pandas, which is then fast enough. Both give the same text.
FAST_ROWS = 10_000
#: ``_PLAIN_NUMBER`` for Arrow's regular expressions (RE2), anchored.
_PLAIN_NUMBER_RE2 = r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
_QUOTED = re.compile(r'[,"\r\n]')
#: Python's float repr writes 1e-05 and 3.5e-06 where Arrow writes 0.00001 and 0.0000035.
_SMALL = [
    (rf"^(-?)0\.{zeros}([1-9]){more}$", rf"\1\2{dot}e-{exp}")
    for zeros, exp in (("00000", "06"), ("0000", "05"))
    for more, dot in (("", ""), ("([0-9]+)", r".\3"))
]


def _replace(text: Any, mask: np.ndarray, fix: Any) -> Any:
    """``text`` with the cells under ``mask`` replaced by ``fix`` of them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not mask.any():
        return text
    return pc.replace_with_mask(text, pa.array(mask), fix(text.filter(pa.array(mask))))


def _text_cells(values: Any) -> Any:
    """A text column, formula-escaped as :func:`escape_formula` does, or ``None`` when a cell
    would need CSV quoting."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.fill_null(values.cast(pa.string()), "")
    if pc.any(pc.match_substring_regex(values, _QUOTED.pattern)).as_py():
        return None
    risky = pc.starts_with(values, FORMULA_START[0])
    for c in FORMULA_START[1:]:
        risky = pc.or_(risky, pc.starts_with(values, c))
    if not pc.any(risky).as_py():
        return values
    risky = pc.and_not(risky, pc.match_substring_regex(values, _PLAIN_NUMBER_RE2))
    return pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)


def _float_text(text: Any) -> Any:
    """Arrow's text of small floats (below 1e-4) laid out as Python's repr lays them out."""
    import pyarrow.compute as pc

    text = pc.replace_substring_regex(text, r"e-([0-9])$", r"e-0\1")  # e-7 -> e-07
    for pattern, replacement in _SMALL:
        text = pc.replace_substring_regex(text, pattern, replacement)
    return text


def _number_cells(v: np.ndarray) -> Any:
    """Numbers as pandas writes them, or ``None``: ints as ints; floats with Python's repr (the
    shortest text that reads back to the same float, ``2.0`` for a whole one), NaN as an empty
    cell. Arrow gives the same digits; its layout is fixed up to Python's for every float below
    1e10 in magnitude (a column with a larger one is left to pandas)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(v).cast(pa.string())
    if v.dtype.kind != "f":
        return text
    finite = np.isfinite(v)
    size = np.abs(np.where(finite, v, 0.0))
    if (size >= 1e10).any():
        return None
    text = _replace(
        text, finite & (v == np.floor(v)), lambda t: pc.binary_join_element_wise(t, ".0", "")
    )
    text = _replace(text, (size < 1e-4) & (size > 0), _float_text)
    return _replace(text, np.isnan(v), lambda t: pc.if_else(pc.is_null(t), "", ""))


def fast_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> bool:
    """Write ``df`` as CSV with Arrow (no per-row formatting); ``False`` if it does not.

    Writes the text ``escape_formulas(df).to_csv(path, index=False)`` writes. Frames below
    :data:`FAST_ROWS` rows, and any frame that needs more than plain cells (a cell with a
    comma, quote or line break, booleans, mixed object columns, a single column, floats of
    1e10 or more), are left to pandas.
    """
    if len(df) < FAST_ROWS or df.shape[1] < 2 or isinstance(df.columns, pd.MultiIndex):
        return False
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        return False
    names = [escape_formula(c) for c in df.columns]
    if not all(isinstance(c, str) and not _QUOTED.search(c) for c in names):
        return False
    cols = []
    for i, dtype in enumerate(df.dtypes):
        s = df.iloc[:, i]
        try:
            if pd.api.types.is_bool_dtype(dtype):
                return False
            if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
                cells = _number_cells(s.to_numpy())
            else:
                cells = _text_cells(pa.array(s, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            return False  # e.g. an object column that holds numbers: pandas writes those
        if cells is None:
            return False
        cols.append(cells)
    table = pa.table(cols, names=[f"c{i}" for i in range(len(cols))])
    with open(path, "wb") as f:
        f.write((",".join(names) + "\n").encode("utf-8"))
        pcsv.write_csv(table, f, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return True
