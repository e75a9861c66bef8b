from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.core.errors import DataError
from gitops_ml.core.files import read_table, write_json, write_with


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_text("last good")

    def crash(tmp: Path) -> None:
        tmp.write_text("half written")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_with(target, crash)
    assert target.read_text() == "last good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_json_is_stable_whatever_the_key_order(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"b": 1, "a": {"d": 2, "c": 3}})
    write_json(tmp_path / "b.json", {"a": {"c": 3, "d": 2}, "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_reading_names_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.csv: file does not exist"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "table.json").write_text("{}")
    with pytest.raises(DataError, match=r"unsupported file type '\.json'"):
        read_table(tmp_path / "table.json")
    (tmp_path / "ok.csv").write_text("a,b\n1,x\n")
    assert read_table(tmp_path / "ok.csv").to_dict("list") == {"a": [1], "b": ["x"]}
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "ok.parquet")
    assert read_table(tmp_path / "ok.parquet")["a"].tolist() == [1]
