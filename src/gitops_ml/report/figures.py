"""Figures for the pull-request report: the base branch's model and this branch's, overlaid."""

from __future__ import annotations

from pathlib import Path

from gitops_ml.core.settings import Settings
from gitops_ml.quality.compare import Predictions
from gitops_ml.quality.plots import draw_confusion_matrix, save_figure

# The figures a report may show: file name -> caption (the comment job posts no other file).
FIGURES = {"curves.png": "ROC and precision-recall curves", "confusion_matrices.png": "Confusion matrices"}


def render_comparison(
    base: Predictions | None, new: Predictions | None, settings: Settings, out_dir: Path, *, base_name: str
) -> list[tuple[str, str]]:
    """ROC and precision-recall curves overlaid, and the two confusion matrices side by side.

    Returns (caption, file name) pairs; nothing when neither side has predictions.
    """
    sides = [(base_name, base), ("this PR", new)]
    present = [(name, p) for name, p in sides if p is not None]
    if not present:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
    for (name, p), style in zip(present, ("--", "-"), strict=False):
        fpr, tpr, _ = roc_curve(p.is_positive, p.probability)
        roc_ax.plot(fpr, tpr, linestyle=style, label=name)
        precision, recall, _ = precision_recall_curve(p.is_positive, p.probability)
        pr_ax.plot(recall, precision, linestyle=style, label=name)
    roc_ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
    roc_ax.set(
        xlabel="False positive rate", ylabel="True positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1.02)
    )
    pr_ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.legend(loc="lower left" if ax is pr_ax else "lower right")
    save_figure(fig, out_dir / "curves.png")
    figures.append((FIGURES["curves.png"], "curves.png"))

    labels = [str(settings.data.negative_class), str(settings.data.positive_class)]
    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 4), dpi=100, squeeze=False)
    for ax, (name, p) in zip(axes[0], present, strict=True):
        counts = confusion_matrix(p.is_positive, p.predicted_positive, labels=[False, True])
        draw_confusion_matrix(ax, counts, labels, f"Confusion matrix: {name}")
    save_figure(fig, out_dir / "confusion_matrices.png")
    figures.append((FIGURES["confusion_matrices.png"], "confusion_matrices.png"))
    return figures
