"""A project's first steps after copier copy (``make init``): the team's table in place and tracked by DVC, its
suite drafted, and nothing done twice or written over."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gitops_ml.adoption.start import start
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import load_settings
from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import copy_project, write_params


def test_the_table_is_placed_tracked_and_its_suite_drafted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(tmp_path / "project")
    table = tmp_path / "downloads" / "customers.csv"
    table.parent.mkdir()
    make_customer_table(300, seed=2).to_csv(table, index=False)
    data = {"source": "file", "path": "data/external/customers.csv", "target": "churned", "positive_class": "yes",
            "negative_class": "no", "id_columns": ["customer_id"]}  # fmt: skip
    write_params(project, data=data, validate={"suite": "data/expectations/customers.json"})
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    settings = load_settings(check_files=False)

    done = start(settings, table)
    assert done == [
        f"data/external/customers.csv: copied from {table}",
        "data/external/customers.csv: tracked by DVC (data/external/customers.csv.dvc)",
        "data/expectations/customers.json: drafted from the data; read it, tighten or loosen it",
    ]
    assert "customers.csv" in (project / "data/external/.gitignore").read_text()
    assert start(settings, table) == []  # again: nothing left to do, the suite (now the team's) kept

    make_customer_table(300, seed=3).to_csv(table, index=False)
    with pytest.raises(PipelineError, match=r"data/external/customers.csv exists and differs from .*customers.csv"):
        start(settings, table)
    with pytest.raises(PipelineError, match=r"data file .*nowhere.csv: no such file"):
        start(settings, tmp_path / "nowhere.csv")


def test_an_embedded_source_needs_nothing(workdir: Path) -> None:
    assert start(load_settings(check_files=False), None) == []


def test_a_target_not_in_the_table_stops_before_dvc_tracks_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_project(tmp_path / "project")
    table = tmp_path / "customers.csv"
    make_customer_table(100, seed=2).to_csv(table, index=False)
    data = {"source": "file", "path": "data/external/customers.csv", "target": "churn"}
    write_params(project, data=data, validate={"suite": "data/expectations/customers.json"})
    monkeypatch.chdir(project)

    with pytest.raises(PipelineError, match=r"data.target: no column 'churn' in data/external/customers.csv \(its "):
        start(load_settings(check_files=False), table)
    assert not (project / "data/external/customers.csv.dvc").exists()
    assert not (project / "data/expectations/customers.json").exists()
