"""Curve tables for DVC plots (committed, small) and their PNG renderings for the PR report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from gitops_ml.core.files import write_with

DECIMALS = 6


def curve_tables(
    is_positive: np.ndarray, probability: np.ndarray, *, bins: int, max_points: int
) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall and calibration points, thinned to ``max_points`` rows each."""
    fpr, tpr, _ = roc_curve(is_positive, probability)
    precision, recall, _ = precision_recall_curve(is_positive, probability)
    fraction_positive, mean_predicted = calibration_curve(is_positive, probability, n_bins=bins)
    tables = {
        "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "precision_recall": pd.DataFrame({"recall": recall, "precision": precision}),
        "calibration": pd.DataFrame({"mean_predicted": mean_predicted, "fraction_positive": fraction_positive}),
    }
    return {name: thin(table, max_points).round(DECIMALS) for name, table in tables.items()}


def thin(table: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Evenly spaced rows, first and last kept, so a million-row test set still commits a small file."""
    if len(table) <= max_points:
        return table.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(table) - 1, max_points).round().astype(int))
    return table.iloc[keep].reset_index(drop=True)


def render_pngs(
    tables: dict[str, pd.DataFrame], actual: pd.Series, predicted: pd.Series, labels: list[str], out_dir: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = {
        "roc": ("fpr", "tpr", "False positive rate", "True positive rate", "ROC curve"),
        "precision_recall": ("recall", "precision", "Recall", "Precision", "Precision-recall curve"),
        "calibration": (
            "mean_predicted",
            "fraction_positive",
            "Mean predicted probability",
            "Fraction positive",
            "Calibration",
        ),
    }
    for name, (x, y, xlabel, ylabel, title) in specs.items():
        fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
        ax.plot(tables[name][x], tables[name][y], marker="." if name == "calibration" else None)
        if name in ("roc", "calibration"):
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(0, 1), ylim=(0, 1.02))
        save_figure(fig, out_dir / f"{name}.png")

    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
    draw_confusion_matrix(ax, confusion_matrix(actual, predicted, labels=labels), labels, "Confusion matrix")
    save_figure(fig, out_dir / "confusion_matrix.png")


def draw_confusion_matrix(ax: Any, counts: np.ndarray, labels: list[str], title: str) -> None:
    ax.imshow(counts, cmap="Blues")
    for (row, col), count in np.ndenumerate(counts):
        ax.text(col, row, str(count), ha="center", va="center", color="black")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels)
    ax.set(xlabel="Predicted", ylabel="Actual", title=title)


def save_figure(fig: object, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()  # type: ignore[attr-defined]
    # No software/date metadata: the same figure gives the same bytes on every run.
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
