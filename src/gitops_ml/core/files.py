"""Reading input tables and writing outputs atomically.

Every output is written to a temporary file beside its destination and renamed into place, so a
stage that fails half-way leaves the previous good output untouched (the DVC outs are ``persist``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from gitops_ml.core.errors import DataError


@contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``destination``, on error it is removed."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.replace(destination)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_with(destination: Path, writer: Callable[[Path], Any]) -> None:
    with atomic_path(destination) as tmp:
        writer(tmp)


def write_text(destination: Path, text: str) -> None:
    write_with(destination, lambda tmp: tmp.write_text(text))


def write_json(destination: Path, payload: Any) -> None:
    """Stable JSON: sorted keys and a trailing newline, so identical results give identical bytes."""
    write_text(destination, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_table(destination: Path, frame: pd.DataFrame) -> None:
    write_with(destination, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(destination: Path, frame: pd.DataFrame) -> None:
    write_with(destination, lambda tmp: frame.to_csv(tmp, index=False))


def read_table(path: Path, missing_values: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every way it can fail into a DataError naming the file.

    In a CSV, exactly the texts in ``missing_values`` mark a missing value (pandas' own list when None).
    """
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"{path}: file does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (no header, no rows)")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            # Arrow's buffers are freed column by column as pandas takes them over, so a large table is not held
            # twice (pd.read_parquet keeps both until it returns, and Arrow's allocator keeps the memory after);
            # the copy joins the columns into one block per type, as pandas' later operations want them.
            frame: pd.DataFrame = pq.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
            return frame.copy()
        if suffix == ".csv":
            if missing_values is None:
                return pd.read_csv(path)
            return pd.read_csv(path, keep_default_na=False, na_values=list(missing_values))
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        kind = suffix.lstrip(".").upper()
        raise DataError(f"{path}: cannot be read as {kind}: {_first_line(exc)}") from exc
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def table_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file, from its header or schema alone (no rows are read)."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return [str(name) for name in pd.read_csv(path, nrows=0).columns]
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read its columns: {_first_line(exc)}") from exc


def missing_markers(path: Path, missing_values: Sequence[str], columns: Sequence[str]) -> dict[str, dict[str, int]]:
    """How often each missing-value text stands in these columns of a CSV file (a Parquet file has real nulls).

    Only the columns that came out with gaps are read again, as text: the others hold no marker.
    """
    if path.suffix.lower() != ".csv" or not columns:
        return {}
    text = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=list(columns))
    found = {}
    for column in text.columns:
        counts = text[column][text[column].isin(missing_values)].value_counts()
        if len(counts):
            found[str(column)] = {str(marker): int(count) for marker, count in counts.sort_index().items()}
    return found


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
