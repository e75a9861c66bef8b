"""Curve tables for DVC plots (committed, small) and their PNG renderings for the PR report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from gitops_ml.core.files import write_with
from gitops_ml.quality.metrics import Scored

DECIMALS = 6


def curve_tables(scored: Scored, classes: Sequence[object], *, bins: int, max_points: int) -> dict[str, pd.DataFrame]:
    """The task's plot tables, each thinned to ``max_points`` rows (per class):

    - binary: ROC, precision-recall and calibration points;
    - multiclass: each class's one-vs-rest ROC curve (``roc_ovr``, a ``class`` column);
    - regression: actual and predicted values with their residual (``predicted_vs_actual``).
    """
    if scored.task == "binary":
        fpr, tpr, _ = roc_curve(scored.actual, scored.scores)
        precision, recall, _ = precision_recall_curve(scored.actual, scored.scores)
        fraction_positive, mean_predicted = calibration_curve(scored.actual, scored.scores, n_bins=bins)
        tables = {
            "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
            "precision_recall": pd.DataFrame({"recall": recall, "precision": precision}),
            "calibration": pd.DataFrame({"mean_predicted": mean_predicted, "fraction_positive": fraction_positive}),
        }
    elif scored.task == "multiclass":
        curves = []
        for index, label in enumerate(classes):
            fpr, tpr, _ = roc_curve(scored.actual == index, scored.scores[:, index])
            curves.append(thin(pd.DataFrame({"class": str(label), "fpr": fpr, "tpr": tpr}), max_points))
        return {"roc_ovr": pd.concat(curves, ignore_index=True).round(DECIMALS)}
    else:
        order = np.argsort(scored.actual, kind="stable")
        actual, predicted = scored.actual[order], scored.predicted[order]
        tables = {
            "predicted_vs_actual": pd.DataFrame(
                {"actual": actual, "predicted": predicted, "residual": actual - predicted}
            )
        }
    return {name: thin(table, max_points).round(DECIMALS) for name, table in tables.items()}


def thin(table: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Evenly spaced rows, first and last kept, so a million-row test set still commits a small file."""
    if len(table) <= max_points:
        return table.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(table) - 1, max_points).round().astype(int))
    return table.iloc[keep].reset_index(drop=True)


def render_pngs(scored: Scored, tables: dict[str, pd.DataFrame], classes: Sequence[object], out_dir: Path) -> None:
    """The task's figures: binary ROC, precision-recall, calibration and confusion matrix; multiclass
    one-vs-rest ROC and confusion matrix; regression predicted against actual, and residuals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    labels = [str(label) for label in classes]
    if scored.task == "binary":
        specs = {
            "roc": ("fpr", "tpr", "False positive rate", "True positive rate", "ROC curve"),
            "precision_recall": ("recall", "precision", "Recall", "Precision", "Precision-recall curve"),
            "calibration": (
                "mean_predicted", "fraction_positive", "Mean predicted probability", "Fraction positive", "Calibration"
            ),
        }  # fmt: skip
        for name, (x, y, xlabel, ylabel, title) in specs.items():
            fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
            ax.plot(tables[name][x], tables[name][y], marker="." if name == "calibration" else None)
            if name in ("roc", "calibration"):
                ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
            ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(0, 1), ylim=(0, 1.02))
            save_figure(fig, out_dir / f"{name}.png")
    elif scored.task == "multiclass":
        fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
        draw_roc_ovr(ax, scored, labels, linestyle="-")
        ax.set(title="ROC curves, each class against the rest")
        save_figure(fig, out_dir / "roc_ovr.png")
    else:
        fig, (scatter_ax, residual_ax) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
        draw_predicted_vs_actual(scatter_ax, scored.actual, scored.predicted, label=None)
        draw_residuals(residual_ax, scored.actual, scored.predicted, label=None)
        save_figure(fig, out_dir / "predicted_vs_actual.png")
        return
    fig, ax = plt.subplots(figsize=(4.5 + 0.3 * len(labels), 4 + 0.3 * len(labels)), dpi=100)
    counts = confusion_matrix(scored.actual, scored.predicted, labels=range(len(labels)))
    draw_confusion_matrix(ax, counts, labels, "Confusion matrix")
    save_figure(fig, out_dir / "confusion_matrix.png")


def draw_roc_ovr(ax: Any, scored: Scored, labels: list[str], *, linestyle: str, prefix: str = "") -> None:
    """Each class's ROC curve against the rest, one colour per class."""
    for index, label in enumerate(labels):
        fpr, tpr, _ = roc_curve(scored.actual == index, scored.scores[:, index])
        ax.plot(fpr, tpr, linestyle=linestyle, color=f"C{index % 10}", label=plain_text(prefix + label))
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right", fontsize="small")


def draw_predicted_vs_actual(ax: Any, actual: np.ndarray, predicted: np.ndarray, *, label: str | None) -> None:
    sample = _sample(len(actual))
    ax.scatter(actual[sample], predicted[sample], s=6, alpha=0.5, label=plain_text(label) if label else None)
    low, high = float(np.min(actual)), float(np.max(actual))
    ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlabel="Actual", ylabel="Predicted", title="Predicted against actual")


def draw_residuals(ax: Any, actual: np.ndarray, predicted: np.ndarray, *, label: str | None) -> None:
    ax.hist(actual - predicted, bins=40, histtype="step", label=plain_text(label) if label else None)
    ax.axvline(0, linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlabel="Actual - predicted", ylabel="Records", title="Residuals")


def _sample(rows: int, most: int = 5_000) -> np.ndarray:
    """Evenly spaced rows: a scatter of a million points draws for minutes and shows no more."""
    return np.unique(np.linspace(0, rows - 1, min(rows, most)).round().astype(int))


def plain_text(text: str) -> str:
    """A label matplotlib shows as written: a "$" would start its math parser (and fail on bad input)."""
    return text.replace("$", r"\$")


def draw_confusion_matrix(ax: Any, counts: np.ndarray, labels: list[str], title: str) -> None:
    ax.imshow(counts, cmap="Blues")
    for (row, col), count in np.ndenumerate(counts):
        ax.text(col, row, str(count), ha="center", va="center", color="black")
    shown = [plain_text(label) for label in labels]
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=shown, yticklabels=shown)
    ax.set(xlabel="Predicted", ylabel="Actual", title=plain_text(title))


def save_figure(fig: object, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()  # type: ignore[attr-defined]
    # No software/date metadata: the same figure gives the same bytes on every run.
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
