"""Figures for the pull-request report: the base branch's model and this branch's, overlaid."""

from __future__ import annotations

from pathlib import Path

from gitops_ml.quality.compare import Predictions

# The figures a report may show: file name -> caption (the comment job posts no other file).
FIGURES = {
    "curves.png": "ROC and precision-recall curves",
    "roc_ovr.png": "ROC curves, each class against the rest",
    "confusion_matrices.png": "Confusion matrices",
    "predicted_vs_actual.png": "Predicted against actual, and the residuals",
}


def render_comparison(
    base: Predictions | None, new: Predictions | None, out_dir: Path, *, base_name: str
) -> list[tuple[str, str]]:
    """The task's figures, both models in each: binary ROC and precision-recall curves; multiclass
    one-vs-rest ROC curves; confusion matrices side by side; regression predicted against actual
    and the residuals. A base model of another task is left out.

    Returns (caption, file name) pairs; nothing when neither side has predictions.
    """
    sides = [(base_name, base), ("this PR", new)]
    present = [(name, p) for name, p in sides if p is not None]
    if new is not None:
        present = [(name, p) for name, p in present if p.task == new.task]
    if not present:
        return []
    # Here, not at the top: the comment job reads FIGURES and never draws (plots imports scikit-learn).
    import matplotlib

    from gitops_ml.quality.plots import (
        draw_confusion_matrix,
        draw_predicted_vs_actual,
        draw_residuals,
        draw_roc_ovr,
        plain_text,
        save_figure,
    )

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    task, styles = present[-1][1].task, ("--", "-")
    names: list[str] = []
    if task == "binary":
        from sklearn.metrics import precision_recall_curve, roc_curve

        fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
        for (name, p), style in zip(present, styles, strict=False):
            fpr, tpr, _ = roc_curve(p.actual, p.scores)
            roc_ax.plot(fpr, tpr, linestyle=style, label=plain_text(name))
            precision, recall, _ = precision_recall_curve(p.actual, p.scores)
            pr_ax.plot(recall, precision, linestyle=style, label=plain_text(name))
        roc_ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
        roc_ax.set(
            xlabel="False positive rate", ylabel="True positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1.02)
        )
        pr_ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.02))
        roc_ax.legend(loc="lower right")
        pr_ax.legend(loc="lower left")
        save_figure(fig, out_dir / "curves.png")
        names.append("curves.png")
    elif task == "multiclass":
        fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 4), dpi=100, squeeze=False)
        for ax, (name, p) in zip(axes[0], present, strict=True):
            draw_roc_ovr(ax, p, list(p.classes), linestyle="-")
            ax.set(title=plain_text(f"One-vs-rest ROC: {name}"))
        save_figure(fig, out_dir / "roc_ovr.png")
        names.append("roc_ovr.png")
    else:
        fig, (scatter_ax, residual_ax) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
        for name, p in present:
            draw_predicted_vs_actual(scatter_ax, p.actual, p.predicted, label=name)
            draw_residuals(residual_ax, p.actual, p.predicted, label=name)
        scatter_ax.legend(loc="upper left")
        residual_ax.legend(loc="upper right")
        save_figure(fig, out_dir / "predicted_vs_actual.png")
        return [(FIGURES["predicted_vs_actual.png"], "predicted_vs_actual.png")]

    from sklearn.metrics import confusion_matrix

    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 4), dpi=100, squeeze=False)
    for ax, (name, p) in zip(axes[0], present, strict=True):
        actual, predicted = (values.astype(int) for values in (p.actual, p.predicted))
        counts = confusion_matrix(actual, predicted, labels=range(len(p.classes)))
        draw_confusion_matrix(ax, counts, list(p.classes), f"Confusion matrix: {name}")
    save_figure(fig, out_dir / "confusion_matrices.png")
    names.append("confusion_matrices.png")
    return [(FIGURES[name], name) for name in names]
