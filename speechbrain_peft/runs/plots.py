"""Figures for a run: the confusion matrix and the training curves.

Figures are built with matplotlib's object-oriented API (``Figure``, no
``pyplot``) and saved through the non-interactive Agg renderer, so plotting
never changes the global backend and needs no display. matplotlib is imported
when a function is called.

Authors
 * speechbrain-peft-ser developers 2026
"""

import math
from pathlib import Path

LEARNING_RATE_KEYS = ("lr", "learning_rate")


def save_figure(figure, path):
    """Writes ``figure`` to ``path`` (parents created) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def plot_confusion(confusion, label_names, path, title=None):
    """Confusion matrix coloured by row-normalised recall, counts annotated.

    Arguments
    ---------
    confusion : array-like
        ``[C, C]`` counts, rows = true class, columns = predicted.
    label_names : list of str
        The ``C`` class names.
    path : str or pathlib.Path
        Output image (format from the suffix, e.g. ``.png``).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = plot_confusion([[3, 1], [0, 4]], ["neu", "hap"],
    ...                          Path(tmp, "confusion.png"))
    ...     out.stat().st_size > 0
    True
    """
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.asarray(confusion, dtype=np.int64)
    n_classes = len(label_names)
    if counts.shape != (n_classes, n_classes):
        raise ValueError(
            f"confusion shape {counts.shape} does not match "
            f"{n_classes} label names"
        )
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(
        counts, totals, out=np.zeros(counts.shape), where=totals > 0
    )
    size = 1.5 + 0.6 * n_classes
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="fraction of true class")
    for row in range(n_classes):
        for col in range(n_classes):
            axes.text(
                col,
                row,
                str(counts[row, col]),
                ha="center",
                va="center",
                color="white" if rates[row, col] > 0.5 else "black",
            )
    ticks = range(n_classes)
    axes.set_xticks(ticks, labels=label_names)
    axes.set_yticks(ticks, labels=label_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if title:
        axes.set_title(title)
    return save_figure(figure, path)


def _is_number(value):
    """Whether ``value`` is a finite real number (booleans excluded)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def plot_training_curves(history, path, title=None):
    """Per-epoch curves: losses on one axis, every other number on another.

    Every numeric key except ``epoch`` is plotted: keys containing ``loss``
    on a first axis, metrics on a second one and, if present, the learning
    rate (``lr`` or ``learning_rate``, a different scale) and step counts
    (keys ending in ``_steps``, e.g. skipped non-finite steps) on their own.
    Epochs missing a key (e.g. validation every other epoch) are skipped for
    that curve.

    Arguments
    ---------
    history : list of dict
        One dict per epoch, e.g. ``{"epoch": 1, "train_loss": 1.2,
        "valid_loss": 1.1, "valid_UA": 0.4}``; without ``epoch`` the
        position (1, 2, ...) is used.
    path : str or pathlib.Path
        Output image.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Example
    -------
    >>> import tempfile
    >>> history = [
    ...     {"epoch": 1, "train_loss": 1.3, "valid_loss": 1.2, "valid_UA": .4},
    ...     {"epoch": 2, "train_loss": 1.0, "valid_loss": 1.1, "valid_UA": .5},
    ... ]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = plot_training_curves(history, Path(tmp, "curves.png"))
    ...     out.stat().st_size > 0
    True
    """
    from matplotlib.figure import Figure

    keys = list(
        dict.fromkeys(
            key
            for entry in history
            for key, value in entry.items()
            if key != "epoch" and _is_number(value)
        )
    )
    if not keys:
        raise ValueError("history has no numeric values to plot")
    losses = [key for key in keys if "loss" in key.lower()]
    rates = [key for key in keys if key.lower() in LEARNING_RATE_KEYS]
    # Step counts (e.g. train_skipped_steps) are not on a metric's scale.
    counts = [key for key in keys if key.endswith("_steps")]
    metrics = [key for key in keys if key not in losses + rates + counts]
    panels = [
        (group, label)
        for group, label in (
            (losses, "loss"),
            (metrics, "metric"),
            (rates, "learning rate"),
            (counts, "steps"),
        )
        if group
    ]
    figure = Figure(figsize=(5 * len(panels), 3.5), layout="constrained")
    for index, (group, label) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for key in group:
            points = [
                (entry.get("epoch", position), entry[key])
                for position, entry in enumerate(history, start=1)
                if _is_number(entry.get(key))
            ]
            epochs, values = zip(*points)
            axes.plot(epochs, values, marker="o", label=key)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.legend()
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
