"""Reading the contract's CSV files: the same pandas options and checks for every reader.

:func:`belief.data.io.read_tables` (whole tables) and :func:`belief.data.streaming.read_reports`
(reports in chunks) both read through :func:`csv_chunks`, so a file is accepted or refused,
with the same message, whichever path reads it: every value is text (``017`` stays ``017``),
empty cells are empty text, a row with more fields than the header is an error (never a silent
shift of every value to the left), a column named twice is an error (pandas would rename the
second one ``x.1``), and a file that cannot be read or parsed is an error naming it.
"""

from __future__ import annotations

import csv
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd

from belief.data._columns import check_unique
from belief.exceptions import ValidationError

#: Options of every contract CSV read: all text, no NA guessing, no index column, blank lines
#: kept (they keep their spreadsheet row number; readers drop them).
OPTIONS: dict[str, Any] = {
    "dtype": str,
    "keep_default_na": False,
    "index_col": False,
    "skip_blank_lines": False,
}


def header(path: str | os.PathLike[str]) -> list[str]:
    """The CSV header as written (pandas renames a repeated column ``x`` to ``x.1``).

    Read by pandas, as the data are, so any path pandas opens (URLs through fsspec) works.
    """
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(x) for x in first.iloc[0]] if len(first) else []


def long_row(path: str | os.PathLike[str]) -> int | None:
    """Spreadsheet row number of the first CSV record longer than the header, if found."""
    old = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # fields of any length
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = csv.reader(f)
            width = len(next(rows, []))
            return next((i for i, row in enumerate(rows, start=2) if len(row) > width), None)
    except (OSError, ValueError, csv.Error):  # not a local file (a URL): no row number
        return None
    finally:
        csv.field_size_limit(old)


def csv_chunks(
    path: str | os.PathLike[str], *, chunksize: int | None = None
) -> Iterator[pd.DataFrame]:
    """Yield the rows of a contract CSV file as text DataFrames: one, or chunks of ``chunksize``.

    The header is checked (no column twice) before the first frame is yielded.

    Raises
    ------
    ValidationError
        Naming the file (and the row, where there is one): the file is missing, is not UTF-8,
        cannot be parsed as CSV, has a row longer than its header or a column named twice.
    """
    label = str(path)
    try:
        with warnings.catch_warnings():
            # a row with more fields than the header: without index_col=False pandas would
            # silently use the first column as the index and shift every value left
            warnings.simplefilter("error", pd.errors.ParserWarning)
            data = pd.read_csv(path, chunksize=chunksize, **OPTIONS)
            frames = iter([data] if chunksize is None else data)
            first = next(frames, None)
        check_unique(header(path), f"{label}, row 1")
        while first is not None:
            yield first
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                first = next(frames, None)
    except FileNotFoundError:
        raise ValidationError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise ValidationError(f"{label}: is a directory, expected a CSV file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValidationError(f"{label}: cannot parse as CSV: {' '.join(str(e).split())}") from None
    except pd.errors.ParserWarning:
        row = long_row(path)
        raise ValidationError(
            f"{label}{'' if row is None else f', row {row}'}: more fields than the header has "
            "columns (an unquoted comma?)"
        ) from None
