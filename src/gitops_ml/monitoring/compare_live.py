"""``python -m gitops_ml compare-live``: a shadow candidate against the champion, on the same live traffic.

Both services log every predicted record (``gitops_ml.serving.prediction_log``); the champion's
shadow copy (``gitops_ml.serving.shadow``) makes the candidate log each record under the champion's
id. The two logs are joined on ``prediction_id`` and compared: how many of the champion's records
the candidate answered, agreement of the predicted class (or the gap between predicted values),
the shift of the predicted probability, the model's time per call, and, on the records whose
outcome has arrived (``--outcomes``: a CSV or Parquet file with the id column and the target), each
model's metrics. The Markdown goes into the promotion pull request (``deploy promote --live``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml.core import markdown
from gitops_ml.core.errors import DataError
from gitops_ml.core.files import read_table
from gitops_ml.serving.prediction_log import ID_FIELD, LABEL_FIELD, MODEL_MS_FIELD, PROBABILITY_FIELD, VALUE_FIELD
from gitops_ml.serving.prediction_log import read as read_log

SIDES = ("champion", "candidate")


@dataclass(frozen=True)
class Joined:
    """The two logs' records, one row per id both answered (columns suffixed _champion and _candidate)."""

    rows: pd.DataFrame
    logged: dict[str, int]
    task: str


def join(champion: Path, candidate: Path) -> Joined:
    frames = {side: _predictions(path, side) for side, path in zip(SIDES, (champion, candidate), strict=True)}
    tasks = {side: _task(frame, side) for side, frame in frames.items()}
    if tasks["champion"] != tasks["candidate"]:
        raise DataError(
            f"the champion's log holds {tasks['champion']} predictions, the candidate's {tasks['candidate']}"
        )
    rows = frames["champion"].join(frames["candidate"], how="inner", lsuffix="_champion", rsuffix="_candidate")
    return Joined(rows, {side: len(frame) for side, frame in frames.items()}, tasks["champion"])


def _predictions(path: Path, side: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"--{side}: {path} does not exist (a prediction log, or a folder of them)")
    frame = read_log(path)
    if ID_FIELD not in frame.columns:
        raise DataError(f"--{side}: {path} has no {ID_FIELD} column; is it a prediction log?")
    kept = [c for c in (LABEL_FIELD, PROBABILITY_FIELD, VALUE_FIELD, MODEL_MS_FIELD) if c in frame.columns]
    frame = frame.assign(**{ID_FIELD: frame[ID_FIELD].astype(str)})
    # A record sent twice (a client's retry) counts once: its last answer.
    return frame.drop_duplicates(ID_FIELD, keep="last").set_index(ID_FIELD)[kept]


def _task(frame: pd.DataFrame, side: str) -> str:
    if VALUE_FIELD in frame.columns:
        return "regression"
    if LABEL_FIELD in frame.columns:
        return "classification"
    raise DataError(f"--{side}: the log has neither {LABEL_FIELD} nor {VALUE_FIELD}")


def report(joined: Joined, outcomes: pd.Series | None = None) -> str:
    """The comparison as Markdown; ``outcomes`` is the actual target by record id."""
    rows, logged = joined.rows, joined.logged
    share = len(rows) / logged["champion"] if logged["champion"] else 0.0
    lines = [
        "### Live traffic: candidate against champion (shadow)",
        "",
        f"{len(rows):,} records answered by both, joined by id: {share:.1%} of the champion's {logged['champion']:,} "
        f"(the candidate logged {logged['candidate']:,}).",
        "",
    ]
    if rows.empty:
        return "\n".join([*lines, "Nothing to compare: no record id is in both logs."]) + "\n"
    table: list[list[str]] = []
    if joined.task == "classification":
        same = rows[f"{LABEL_FIELD}_champion"].astype(str) == rows[f"{LABEL_FIELD}_candidate"].astype(str)
        table.append(["Same predicted class", f"{same.mean():.2%}", ""])
        if f"{PROBABILITY_FIELD}_champion" in rows.columns:
            shift = (rows[f"{PROBABILITY_FIELD}_candidate"] - rows[f"{PROBABILITY_FIELD}_champion"]).abs()
            table.append(["Probability shift (same class): mean, p95", *_mean_p95(shift[same])])
    else:
        gap = (rows[f"{VALUE_FIELD}_candidate"] - rows[f"{VALUE_FIELD}_champion"]).abs()
        table.append(["Predicted value gap: mean, p95", *_mean_p95(gap)])
    if f"{MODEL_MS_FIELD}_champion" in rows.columns:
        for side in SIDES:
            times = rows[f"{MODEL_MS_FIELD}_{side}"]
            table.append([f"Model time per call (ms), {side}: median, p99", f"{times.median():.2f}",
                          f"{times.quantile(0.99):.2f}"])  # fmt: skip
    lines.append(markdown.table(["On the joined records", "Value", "Tail"], table, align="lrr"))
    if outcomes is not None:
        lines += ["", *_on_outcomes(joined, outcomes)]
    return "\n".join(lines) + "\n"


def _mean_p95(values: pd.Series) -> list[str]:
    return [f"{values.mean():.4f}", f"{values.quantile(0.95):.4f}"] if len(values) else ["n/a", "n/a"]


def _on_outcomes(joined: Joined, outcomes: pd.Series) -> list[str]:
    known = joined.rows.join(outcomes.rename("actual"), how="inner")
    if known.empty:
        return ["No outcome has arrived yet for the joined records."]
    header = f"On the {len(known):,} records whose outcome has arrived:"
    scores = {side: _scores(joined.task, known, side) for side in SIDES}
    names = list(scores["champion"])
    rows = [[name, f"{scores['champion'][name]:.4f}", f"{scores['candidate'][name]:.4f}",
             f"{scores['candidate'][name] - scores['champion'][name]:+.4f}"] for name in names]  # fmt: skip
    return [header, "", markdown.table(["Metric", "Champion", "Candidate", "Change"], rows, align="lrrr")]


def _scores(task: str, known: pd.DataFrame, side: str) -> dict[str, float]:
    from sklearn import metrics

    if task == "regression":
        values, truth = known[f"{VALUE_FIELD}_{side}"].astype(float), known["actual"].astype(float)
        return {
            "r2": float(metrics.r2_score(truth, values)),
            "mae": float(metrics.mean_absolute_error(truth, values)),
            "rmse": float(np.sqrt(metrics.mean_squared_error(truth, values))),
        }
    labels, classes = known[f"{LABEL_FIELD}_{side}"].astype(str), known["actual"].astype(str)
    return {
        "accuracy": float(metrics.accuracy_score(classes, labels)),
        "macro_f1": float(metrics.f1_score(classes, labels, average="macro", zero_division=0)),
    }


def read_outcomes(path: Path, id_columns: list[str], target: str) -> pd.Series:
    """The actual target by record id (several id columns: joined by '/', as the service does), from CSV or Parquet."""
    frame = read_table(path)
    missing = [c for c in (*id_columns, target) if c not in frame.columns]
    if not id_columns or missing:
        raise DataError(
            f"--outcomes: {path} needs the id columns {id_columns} and the target {target!r}; missing: {missing}"
        )
    known = frame.dropna(subset=[target])
    ids = known[id_columns].astype(str).agg("/".join, axis=1)
    return pd.Series(known[target].to_numpy(), index=ids.to_numpy(), name=target)
