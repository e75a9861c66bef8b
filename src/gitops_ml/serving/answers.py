"""The service's answer for each task, from the model's output: what the client gets, what the
prediction log keeps and what Prometheus counts.

- binary: ``label`` (at the model's threshold) and ``probability`` of the positive class;
- multiclass: ``label`` (the most probable class) and ``probabilities``, one per class;
- regression: ``value``.

Ships in the Bento.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gitops_ml.serving.prediction_log import LABEL_FIELD, PROBABILITY_FIELD, VALUE_FIELD

DECIMALS = 6


@dataclass(frozen=True)
class Answers:
    """One model call's answers, by field: for the client (``fields``) and for the log (``logged``)."""

    fields: dict[str, list[Any]]
    logged: dict[str, list[Any]]
    labels: list[str] | None = None  # the predicted classes, for the counts by class
    observed: np.ndarray | None = None  # the numbers the task's histogram observes


class Answerer:
    """Turns the model's output into answers, as the package stage's metadata describes the model."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.task: str = metadata.get("task", "binary")  # a bundle from before tasks is binary
        if self.task == "binary":
            self.classes = [metadata["negative_class"], metadata["positive_class"]]
            self.threshold = float(metadata["threshold"])
        else:
            self.classes = list(metadata.get("classes", []))

    def __call__(self, model: Any, frame: Any) -> Answers:
        if self.task == "regression":
            values = np.asarray(model.predict(frame), dtype=float).round(DECIMALS)
            listed = values.tolist()
            return Answers({"value": listed}, {VALUE_FIELD: listed}, observed=values)
        probabilities = np.asarray(model.predict_proba(frame), dtype=float)
        if self.task == "binary":
            probability = probabilities[:, 1]
            chosen = (probability >= self.threshold).astype(int)
            rounded = probability.round(DECIMALS).tolist()
            labels = [self.classes[i] for i in chosen.tolist()]
            fields = {"label": labels, "probability": rounded}
            return Answers(fields, {LABEL_FIELD: labels, PROBABILITY_FIELD: rounded}, labels, probability)
        chosen = probabilities.argmax(axis=1)
        labels = [self.classes[i] for i in chosen.tolist()]
        top = probabilities[np.arange(len(chosen)), chosen]
        names = [str(label) for label in self.classes]
        per_class = [dict(zip(names, row, strict=True)) for row in probabilities.round(DECIMALS).tolist()]
        logged = {LABEL_FIELD: labels, PROBABILITY_FIELD: top.round(DECIMALS).tolist()}
        return Answers({"label": labels, "probabilities": per_class}, logged, labels, top)


def value_buckets(target_range: list[float] | None, count: int = 10) -> tuple[float, ...]:
    """Histogram buckets over the training range of a regression target (and beyond it, +Inf)."""
    if not target_range or target_range[0] >= target_range[1]:
        return (0.0, 1.0)
    low, high = target_range
    return tuple(float(edge) for edge in np.linspace(low, high, count + 1))
