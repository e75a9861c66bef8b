"""compare-live on prediction logs written as the service writes them (one columnar line per model call)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, r2_score

from gitops_ml.core.errors import DataError
from gitops_ml.monitoring import compare_live


def write_log(path: Path, *calls: dict[str, list[Any]]) -> Path:
    path.write_text("".join(json.dumps({"logged_at": 1.0 + i, "columns": c}) + "\n" for i, c in enumerate(calls)))
    return path


def test_regression_logs_join_by_id_keep_a_retry_once_and_score_on_arrived_outcomes(tmp_path: Path) -> None:
    champion = write_log(
        tmp_path / "champion.jsonl",
        {"prediction_id": ["a", "b", "c"], "prediction_value": [10.0, 20.0, 30.0], "model_ms": [1.0] * 3},
        {"prediction_id": ["c", "d"], "prediction_value": [31.0, 40.0], "model_ms": [2.0] * 2},  # c again: a retry
    )
    candidate = write_log(
        tmp_path / "candidate.jsonl",
        {"prediction_id": ["a", "b", "c", "zz"], "prediction_value": [11.0, 18.0, 35.0, 5.0], "model_ms": [3.0] * 4},
    )
    joined = compare_live.join(champion, candidate)
    assert joined.logged == {"champion": 4, "candidate": 4} and sorted(joined.rows.index) == ["a", "b", "c"]
    outcomes = pd.Series([12.0, 19.0, 33.0], index=["a", "b", "c"])
    text = compare_live.report(joined, outcomes)
    assert "3 records answered by both, joined by id: 75.0% of the champion's 4 (the candidate logged 4)" in text
    gaps = np.abs(np.array([11.0, 18.0, 35.0]) - np.array([10.0, 20.0, 31.0]))
    assert f"| Predicted value gap: mean, p95 | {gaps.mean():.4f} | {np.quantile(gaps, 0.95):.4f} |" in text
    champion_r2 = r2_score(outcomes, [10.0, 20.0, 31.0])
    candidate_r2 = r2_score(outcomes, [11.0, 18.0, 35.0])
    assert f"| r2 | {champion_r2:.4f} | {candidate_r2:.4f} | {candidate_r2 - champion_r2:+.4f} |" in text
    assert f"| mae | {mean_absolute_error(outcomes, [10.0, 20.0, 31.0]):.4f} |" in text


def test_classification_logs_compare_the_class_and_the_probability_on_agreeing_records(tmp_path: Path) -> None:
    ids = [1, 2, 3, 4]
    champion = write_log(tmp_path / "a.jsonl", {"prediction_id": ids, "prediction_label": ["yes", "no", "no", "yes"],
                                                "prediction_probability": [0.9, 0.2, 0.4, 0.6]})  # fmt: skip
    candidate = write_log(tmp_path / "b.jsonl", {"prediction_id": ids, "prediction_label": ["yes", "no", "yes", "yes"],
                                                 "prediction_probability": [0.8, 0.1, 0.55, 0.7]})  # fmt: skip
    text = compare_live.report(compare_live.join(champion, candidate))
    assert "| Same predicted class | 75.00% |" in text
    assert "| Probability shift (same class): mean, p95 | 0.1000 |" in text  # records 1, 2 and 4
    assert "outcome" not in text


def test_logs_that_do_not_fit_are_refused_naming_the_flag(tmp_path: Path) -> None:
    values = write_log(tmp_path / "values.jsonl", {"prediction_id": ["a"], "prediction_value": [1.0]})
    labels = write_log(tmp_path / "labels.jsonl", {"prediction_id": ["a"], "prediction_label": ["x"]})
    with pytest.raises(DataError, match="champion's log holds regression predictions, the candidate's classification"):
        compare_live.join(values, labels)
    with pytest.raises(DataError, match=r"--candidate: .*missing\.jsonl does not exist"):
        compare_live.join(values, tmp_path / "missing.jsonl")
    no_ids = write_log(tmp_path / "no-ids.jsonl", {"prediction_value": [1.0]})
    with pytest.raises(DataError, match=r"--champion: .* has no prediction_id column"):
        compare_live.join(no_ids, values)
    other = write_log(tmp_path / "other.jsonl", {"prediction_id": ["b"], "prediction_value": [1.0]})
    assert "Nothing to compare: no record id is in both logs." in compare_live.report(compare_live.join(values, other))


def test_outcomes_are_read_by_the_services_record_id(tmp_path: Path) -> None:
    table = pd.DataFrame({"store": [1, 1, 2], "order": ["x", "y", "x"], "sold": [3.0, None, 5.0]})
    table.to_csv(tmp_path / "outcomes.csv", index=False)
    outcomes = compare_live.read_outcomes(tmp_path / "outcomes.csv", ["store", "order"], "sold")
    assert outcomes.to_dict() == {
        "1/x": 3.0,
        "2/x": 5.0,
    }  # as the service joins several id columns; no outcome yet: left out
    with pytest.raises(DataError, match=r"missing: \['sold '\]"):
        compare_live.read_outcomes(tmp_path / "outcomes.csv", ["store"], "sold ")
