"""Figures of a results table: the paper's metric against the share of
trainable parameters, and a bar chart per method and corpus.

Each figure is written as PNG beside a CSV of exactly the numbers it draws,
so a reader can check or replot them. A point or bar is one row of
:func:`speechbrain_peft.results.aggregate` (one experiment): its mean over
the row's units (fold means, or runs without folds) and, as error bar, the
sample standard deviation over those units; a row of a single unit has no
error bar and its CSV ``std`` is empty.

Authors
 * speechbrain-peft-ser developers 2026
"""

import textwrap
from pathlib import Path

from speechbrain_peft.corpora import headline_test_split
from speechbrain_peft.runs.plots import save_figure

# The metric each task is judged by, as in the paper.
HEADLINE = {"categorical": "UA", "dimensional": "CCC_mean"}
COLUMNS = [
    "label",
    "corpus",
    "config",
    "task",
    "split",
    "metric",
    "mean",
    "std",
    "trainable_pct",
    "trainable_params",
    "folds",
    "seeds",
    "n_runs",
    "units",
    "experiment",
]


def _labels(rows, settings):
    """``IEMOCAP lora`` per row, plus ``name=value`` for each setting that
    tells apart rows of the same corpus and method."""
    labels = []
    for row in rows:
        twins = [
            other
            for other in rows
            if (other["corpus"], other["config"])
            == (row["corpus"], row["config"])
        ]
        telling = [
            f"{name}={row[name]}"
            for name in settings
            if len({str(other[name]) for other in twins}) > 1
        ]
        labels.append(" ".join([row["corpus"], row["config"], *telling]))
    return labels


def _drawn_split(table, split):
    """Per row, whether it scores the split drawn: ``split``, or each
    corpus' headline test split (see
    :func:`~speechbrain_peft.corpora.headline_test_split`) when None."""
    if split is not None:
        return table["split"] == split
    return table["split"] == table["corpus"].map(headline_test_split)


def figure_rows(table, split=None):
    """The rows a figure draws: per task, its headline metric on ``split``.

    Arguments
    ---------
    table : pandas.DataFrame
        Output of :func:`speechbrain_peft.results.aggregate`.
    split : str, optional
        The split whose scores are drawn; by default each corpus' headline
        test split (MSP-Podcast's ``test1``, the others' ``test``).

    Returns
    -------
    dict
        ``{(task, metric): DataFrame}`` with the columns of ``COLUMNS``.

    Example
    -------
    >>> from speechbrain_peft.results import aggregate
    >>> runs = [
    ...     {"corpus": "C", "config": "lora", "task": "categorical",
    ...      "fold": fold, "seed": 1, "params": {"trainable_pct": 1.5},
    ...      "splits": {"test": {"UA": ua}, "dev": {"UA": 0.9}}}
    ...     for fold, ua in ((1, 0.5), (2, 0.7))
    ... ]
    >>> rows = figure_rows(aggregate(runs, n_boot=10))
    >>> data = rows["categorical", "UA"]
    >>> data[["label", "mean", "trainable_pct", "units"]].values.tolist()
    [['C lora', 0.6, 1.5, '2 folds']]
    """
    settings = table.attrs.get("settings", [])
    figures = {}
    for task, metric in HEADLINE.items():
        chosen = table[
            (table["task"] == task)
            & _drawn_split(table, split)
            & (table["metric"] == metric)
        ].copy()
        if chosen.empty:
            continue
        chosen["label"] = _labels(chosen.to_dict("records"), settings)
        figures[task, metric] = chosen[COLUMNS].reset_index(drop=True)
    return figures


def _error_bars(data):
    """Standard deviations; NaN, which matplotlib draws as no bar, where a
    row has a single unit."""
    return data["std"].astype(float).tolist()


def plot_tradeoff(data, path, title):
    """The metric against the percentage of trainable parameters.

    One point per row, error bars of one standard deviation over its units,
    the x axis logarithmic when the shares span a decade. Rows that do not
    report their trainable share are left out of the picture and named in
    the returned list.

    Arguments
    ---------
    data : pandas.DataFrame
        One entry of :func:`figure_rows`.
    path : str or pathlib.Path
        Output PNG.
    title : str
        Figure title (say what the numbers were computed on).

    Returns
    -------
    list of str
        Labels of the rows left out (no ``trainable_pct``).
    """
    from matplotlib.figure import Figure

    known = data[data["trainable_pct"].notna() & (data["trainable_pct"] > 0)]
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    for row, error in zip(known.to_dict("records"), _error_bars(known)):
        axes.errorbar(
            row["trainable_pct"],
            row["mean"],
            yerr=error,
            fmt="o",
            capsize=4,
            label=row["label"],
        )
    _share_axis(axes, known["trainable_pct"])
    axes.set_xlabel("trainable parameters (% of the model)")
    axes.grid(True, which="both", alpha=0.3)
    if len(known):
        axes.legend(fontsize=7, loc="best")
    _finish(figure, axes, data, title, path)
    return sorted(set(data["label"]) - set(known["label"]))


def _share_axis(axes, shares):
    """Log scale when the shares span a decade or more (0.1% to 100% do),
    linear otherwise: a log axis over a narrow range has no major tick and
    labels its minor ones in scientific notation. Ticks are plain numbers.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if len(shares) and shares.max() >= 10 * shares.min():
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
    else:
        axes.ticklabel_format(axis="x", style="plain", useOffset=False)


def _colours(configs):
    """One matplotlib cycle colour per method, in order of first sight."""
    first = list(dict.fromkeys(configs))
    return [f"C{first.index(config) % 10}" for config in configs]


def plot_bars(data, path, title):
    """One bar per row, grouped by corpus, error bars over its units.

    Arguments
    ---------
    data : pandas.DataFrame
        One entry of :func:`figure_rows`.
    path : str or pathlib.Path
        Output PNG.
    title : str
        Figure title.
    """
    from matplotlib.figure import Figure

    ordered = data.sort_values(["corpus", "label"], kind="stable")
    figure = Figure(figsize=(max(5, 0.6 * len(ordered) + 2), 4.5))
    axes = figure.add_subplot()
    positions, gap, corpus = [], 0, None
    for index, row in enumerate(ordered.to_dict("records")):
        gap += row["corpus"] != corpus and corpus is not None
        corpus = row["corpus"]
        positions.append(index + gap)
    axes.bar(
        positions,
        ordered["mean"],
        yerr=_error_bars(ordered),
        capsize=4,
        color=_colours(ordered["config"]),
    )
    axes.set_xticks(positions, ordered["label"], rotation=30, ha="right")
    axes.tick_params(axis="x", labelsize=7)
    axes.grid(True, axis="y", alpha=0.3)
    _finish(figure, axes, data, title, path)


def _split_names(data):
    """``test`` or, when corpora are drawn on different splits,
    ``test (IEMOCAP) / test1 (MSP-Podcast)``."""
    pairs = dict(zip(data["corpus"], data["split"]))
    if len(set(pairs.values())) == 1:
        return next(iter(pairs.values()))
    return " / ".join(f"{split} ({corpus})" for corpus, split in pairs.items())


def _finish(figure, axes, data, title, path):
    """The axis label and title every figure has, then save it. The
    title, which names each corpus' split, is wrapped to the figure."""
    splits = set(data["split"])
    metric = data["metric"][0]
    axes.set_ylabel(
        f"{next(iter(splits))} {metric}" if len(splits) == 1 else metric
    )
    width = int(figure.get_figwidth() * 13)
    axes.set_title(textwrap.fill(title, width), fontsize=9)
    figure.tight_layout()
    save_figure(figure, path)


def write_figures(table, out_dir, split=None):
    """Both figures for each task of ``table``, each as PNG plus CSV.

    Arguments
    ---------
    table : pandas.DataFrame
        Output of :func:`speechbrain_peft.results.aggregate`.
    out_dir : str or pathlib.Path
        Folder for ``tradeoff_<task>.png/.csv`` and ``bars_<task>.png/.csv``.
    split : str, optional
        The split whose scores are drawn (default: each corpus' headline
        test split).

    Returns
    -------
    list of pathlib.Path
        The files written (PNG then CSV, per figure).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.results import aggregate
    >>> runs = [
    ...     {"corpus": "C", "config": config, "task": "categorical",
    ...      "fold": fold, "seed": 1, "params": {"trainable_pct": pct},
    ...      "splits": {"test": {"UA": ua + fold / 10}}}
    ...     for config, pct, ua in (("lora", 1.0, 0.5), ("full", 100, 0.6))
    ...     for fold in (1, 2)
    ... ]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_figures(aggregate(runs, n_boot=10), tmp)
    ...     print([path.name for path in paths])
    ...     print(all(path.stat().st_size > 0 for path in paths))
    ['tradeoff_categorical.png', 'tradeoff_categorical.csv', \
'bars_categorical.png', 'bars_categorical.csv']
    True
    """
    out_dir = Path(out_dir)
    written = []
    for (task, metric), data in figure_rows(table, split).items():
        units = ", ".join(sorted(set(data["units"])))
        base = (
            f"{_split_names(data)} {metric}, {task}: mean and std over "
            f"{units}, one per experiment"
        )
        tradeoff = out_dir / f"tradeoff_{task}.png"
        left_out = plot_tradeoff(data, tradeoff, base)
        if left_out:
            print(f"{tradeoff}: no trainable share for {', '.join(left_out)}")
        bars = out_dir / f"bars_{task}.png"
        plot_bars(data, bars, base)
        for png in (tradeoff, bars):
            csv = png.with_suffix(".csv")
            data.to_csv(csv, index=False)
            written += [png, csv]
    return written
