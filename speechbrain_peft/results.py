"""Aggregate ``results.json`` files: one table row per experiment.

Runs are averaged only when they are the same experiment, that is when
they differ in fold and seed alone: every ``results.json`` carries its
experiment's settings and id (see :mod:`speechbrain_peft.runs.experiment`), and
runs are grouped by that id. An evaluation of a trained run on other
manifests (:mod:`speechbrain_peft.evaluate`) is an experiment of its own
(the evaluated run's experiment plus what it was evaluated on), so it
never joins the training row. Files written before experiment ids existed
are grouped by ``(corpus, config, task)`` and flagged ``settings
unknown``.

For every experiment, split and scalar metric (the utterance count ``n``
and non-scalars such as the confusion matrix are skipped) the table gives
the runs that report it, the mean, the sample standard deviation
(``ddof=1``) and a 95% percentile-bootstrap confidence interval of the
mean (``scipy.stats.bootstrap``, seeded). The units are the folds: with
several seeds per fold, the seeds are averaged within each fold first,
so the std and the CI are about the folds' spread, which more seeds do
not shrink; without folds (official splits) the units are the runs.
With a single unit the std and the CI are undefined (NaN, ``n/a`` in the
table). NaN metric values are kept, so a failed run shows up as a NaN
mean. Every setting whose value differs between the experiments of the
table gets a column, so a sweep reads as a table. Each row says which
folds and seeds it holds, and its ``protocol`` cell flags an incomplete
protocol (folds of the corpus' protocol missing, e.g. 4 of IEMOCAP's 5),
an unbalanced one (folds with different seeds), duplicate runs (one fold
and seed twice) and runs of one fold that read different data (another
release of the corpus: the split's IDs or count differ).

Usage::

    python -m speechbrain_peft.results RUN_DIR [RUN_DIR ...] \\
        [--markdown OUT.md] [--figures DIR] [--bootstrap 10000] [--seed 0]

Each argument is a run folder, a ``results.json`` path, or a folder searched
recursively for ``results.json`` files. A file that cannot be read is
named with the reason; the others are still aggregated, and the exit
status is 1. ``--figures DIR`` draws each task's headline metric (UA,
mean CCC) on the test split against the percentage of trainable parameters
and as bars per method and corpus (:mod:`speechbrain_peft.runs.table_plots`).

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from speechbrain_peft.runs.experiment import experiment_of, flatten
from speechbrain_peft.runs.table_plots import write_figures

SHOWN = ("corpus", "config", "task")
STATISTICS = (
    "split",
    "metric",
    "folds",
    "seeds",
    "n_runs",
    "units",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "trainable_params",
    "trainable_pct",
    "protocol",
    "experiment",
)
# Settings never shown as columns: the row already shows them, or they
# name the configuration rather than a value of it.
HIDDEN_SETTINGS = ("config_name", "corpus", "task")


def load_results(paths):
    """Read ``results.json`` files.

    Arguments
    ---------
    paths : list of str or pathlib.Path
        ``results.json`` files, or folders searched recursively for them.
        A file reached twice is read once.

    Returns
    -------
    results : list of dict
        The parsed files, in argument order (sorted within a folder), each
        with its path under ``results_file``.
    broken : list of (str, str)
        Files that could not be used, with the reason.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a folder without ``results.json``.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run = Path(tmp, "fold1")
    ...     run.mkdir()
    ...     _ = Path(run, "results.json").write_text('{"splits": {}}')
    ...     results, broken = load_results([tmp, run / "results.json"])
    >>> len(results), broken
    (1, [])
    """
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.rglob("results.json"))
            if not found:
                raise FileNotFoundError(f"no results.json under {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    results, broken = [], []
    for file in dict.fromkeys(path.resolve() for path in files):
        try:
            result = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            broken.append((str(file), f"{type(error).__name__}: {error}"))
            continue
        if not isinstance(result, dict) or not isinstance(
            result.get("splits"), dict
        ):
            broken.append((str(file), "no 'splits' mapping"))
            continue
        results.append({**result, "results_file": str(file)})
    return results, broken


def bootstrap_ci(values, n_boot=10000, seed=0, level=0.95):
    """Percentile-bootstrap confidence interval of the mean
    (``scipy.stats.bootstrap``).

    Arguments
    ---------
    values : array-like
        One value per unit (fold, or run without folds).
    n_boot : int
        Number of bootstrap resamples.
    seed : int
        Seed of the resampling generator.
    level : float
        Coverage of the interval.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(nan, nan)`` for fewer than two values or a NaN
        among them.

    Example
    -------
    >>> low, high = bootstrap_ci([0.5, 0.6, 0.7, 0.8], n_boot=1000)
    >>> 0.5 <= low < 0.65 < high <= 0.8
    True
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2 or np.isnan(values).any():
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=n_boot,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def unit_values(values, folds):
    """The values the statistics run over: one per fold, the mean of its
    seeds (runs without a fold are units of their own).

    Arguments
    ---------
    values : list of float
        One value per run.
    folds : list
        Each run's fold (None without folds).

    Returns
    -------
    units : list of float
    what : str
        What the units are, for the table.

    Example
    -------
    >>> unit_values([0.6, 0.62, 0.7, 0.72], [1, 1, 2, 2])
    ([0.61, 0.71], '2 folds (seeds averaged within each)')
    >>> unit_values([0.6, 0.7], [None, None])
    ([0.6, 0.7], '2 runs')
    """
    if all(fold is None for fold in folds):
        return list(values), _count(len(values), "run")
    by_fold = {}
    for value, fold in zip(values, folds):
        by_fold.setdefault(str(fold), []).append(value)
    units = [float(np.mean(group)) for group in by_fold.values()]
    several = any(len(group) > 1 for group in by_fold.values())
    what = _count(len(units), "fold") + (
        " (seeds averaged within each)" if several else ""
    )
    return units, what


def _count(number, noun):
    """``1 run``, ``2 runs``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _is_scalar(value):
    """Whether a JSON value is a number (booleans excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value):
    """A cell: missing as ``""``, everything else as compact text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _same_setting(short, long):
    """Whether ``long`` names ``short`` again inside an object's arguments
    (``encoder.adapters.lora.rank`` for ``adapters.lora.rank``)."""
    return long == short or long.endswith("." + short)


def differing_settings(experiments):
    """The settings whose values differ between experiments, one column per
    setting: a key that repeats another inside an object's arguments
    (``encoder.adapters.lora.rank`` for ``adapters.lora.rank``, ``opt_class.lr``
    for ``lr``) with the same values in every experiment is shown once,
    under the shorter name; settings whose values merely happen to agree
    (``batch_size`` and ``adapters.lora.rank`` both 4 and 8) each get their
    column.

    Arguments
    ---------
    experiments : dict
        ``{experiment id: settings}``.

    Returns
    -------
    dict
        ``{column name: {experiment id: cell text}}``, in name order.

    Example
    -------
    >>> differing_settings({
    ...     "a": {"lr": 0.1, "encoder": {"lr": 0.1}, "seed_set": 1},
    ...     "b": {"lr": 0.2, "encoder": {"lr": 0.2}, "seed_set": 1}})
    {'lr': {'a': '0.1', 'b': '0.2'}}
    >>> sorted(differing_settings({"a": {"batch_size": 4, "rank": 4},
    ...                            "b": {"batch_size": 8, "rank": 8}}))
    ['batch_size', 'rank']
    """
    flat = {key: flatten(settings) for key, settings in experiments.items()}
    names = sorted({name for settings in flat.values() for name in settings})
    columns = {}
    for name in names:
        if name in HIDDEN_SETTINGS:
            continue
        cells = {
            key: _text(settings.get(name)) for key, settings in flat.items()
        }
        if len(set(cells.values())) > 1:
            columns[name] = cells
    chosen = {}
    for name in sorted(columns, key=lambda n: (len(n), n)):
        if not any(
            columns[name] == cells and _same_setting(kept, name)
            for kept, cells in chosen.items()
        ):
            chosen[name] = columns[name]
    return dict(sorted(chosen.items()))


def _ranges(numbers):
    """``1-3,5`` for ``[1, 2, 3, 5]``; ``-`` when empty."""
    numbers = sorted(set(numbers))
    if not numbers:
        return "-"
    if not all(isinstance(n, int) for n in numbers):
        return ",".join(map(str, numbers))
    parts, start = [], numbers[0]
    for previous, current in zip(numbers, numbers[1:] + [None]):
        if current is None or current != previous + 1:
            parts.append(
                str(start) if start == previous else f"{start}-{previous}"
            )
            start = current
    return ",".join(parts)


def protocol_problems(runs):
    """What keeps a group of runs from being one complete, balanced
    protocol: missing folds, folds with different seeds, duplicate runs.

    Arguments
    ---------
    runs : list of dict
        The ``results.json`` contents of one experiment.

    Returns
    -------
    list of str
        Empty when the protocol is complete.

    Example
    -------
    >>> runs = [{"fold": f, "seed": s, "folds": [1, 2, 3]}
    ...         for f, s in ((1, 1), (1, 2), (2, 1))]
    >>> for problem in protocol_problems(runs):
    ...     print(problem)
    incomplete: folds 1-2 of 1-3
    unbalanced: seeds 1-2 in fold 1, 1 in fold 2
    """
    problems = []
    expected = {f for run in runs for f in run.get("folds") or ()}
    present = {run.get("fold") for run in runs} - {None}
    if expected and present != expected:
        problems.append(
            f"incomplete: folds {_ranges(present)} of {_ranges(expected)}"
        )
    seeds = {}
    seen = {}
    for run in runs:
        fold = run.get("fold")
        seeds.setdefault(fold, set()).add(run.get("seed"))
        seen.setdefault((fold, run.get("seed")), []).append(
            run.get("results_file", "?")
        )
    if len({frozenset(s) for s in seeds.values()}) > 1:
        problems.append(
            "unbalanced: seeds "
            + ", ".join(
                f"{_ranges(s)} in fold {fold}"
                for fold, s in sorted(seeds.items(), key=lambda kv: str(kv[0]))
            )
        )
    for (fold, seed), files in seen.items():
        if len(files) > 1:
            where = f"fold {fold} " if fold is not None else ""
            problems.append(
                f"duplicate: {where}seed {seed} in {len(files)} files"
            )
    return problems + data_differences(runs)


def _split_data(run):
    """``{split: (ids hash, count)}`` of the data a run read: from its
    identity, else (older runs) its manifest hashes and evaluated counts."""
    recorded = (run.get("identity") or {}).get("data")
    if recorded:
        return {
            split: (data.get("ids_sha256"), data.get("n"))
            for split, data in recorded.items()
        }
    hashes = run.get("manifest_ids_sha256") or {}
    return {
        split: (digest, (run.get("splits", {}).get(split) or {}).get("n"))
        for split, digest in hashes.items()
    }


def data_differences(runs):
    """The splits that runs of one fold read in different versions.

    Example
    -------
    >>> runs = [{"fold": 1, "identity": {"data": {"test": {
    ...     "ids_sha256": h, "n": n}}}} for h, n in (("a", 144), ("b", 16))]
    >>> data_differences(runs)
    ['data differs: test of fold 1 in 2 versions (144, 16 utterances)']
    """
    versions = {}
    for run in runs:
        for split, version in _split_data(run).items():
            versions.setdefault((run.get("fold"), split), {})[version] = None
    problems = []
    for (fold, split), seen in versions.items():
        if len(seen) > 1:
            where = f" of fold {fold}" if fold is not None else ""
            counts = ", ".join(str(n) for _, n in seen)
            problems.append(
                f"data differs: {split}{where} in {len(seen)} versions "
                f"({counts} utterances)"
            )
    return problems


def _mean_param(runs, key):
    """Mean of ``params[key]`` over the runs that report it, else NaN."""
    values = [(run.get("params") or {}).get(key) for run in runs]
    values = [value for value in values if _is_scalar(value)]
    return float(np.mean(values)) if values else math.nan


def _metric_values(runs):
    """``{(split, metric): ([value per run], [fold per run])}`` in order
    of first appearance."""
    values = {}
    for run in runs:
        for split, metrics in run.get("splits", {}).items():
            for metric, value in (metrics or {}).items():
                if metric != "n" and _is_scalar(value):
                    cell = values.setdefault((split, metric), ([], []))
                    cell[0].append(float(value))
                    cell[1].append(run.get("fold"))
    return values


def aggregate(results, n_boot=10000, seed=0):
    """Mean, std and bootstrap CI of every metric, per experiment and split.

    Arguments
    ---------
    results : list of dict
        Parsed ``results.json`` contents (see :func:`load_results`).
    n_boot : int
        Bootstrap resamples for the 95% CI.
    seed : int
        Seed of the bootstrap (the same for every row, so a row does not
        depend on the others).

    Returns
    -------
    pandas.DataFrame
        One row per ``(experiment, split, metric)``: the shown keys
        (corpus, config, task), one column per setting that differs
        between experiments (their names in ``df.attrs["settings"]``), then
        ``split, metric, folds, seeds, n_runs, units, mean, std, ci_low,
        ci_high, trainable_params, trainable_pct, protocol, experiment``:
        mean, std and CI run over ``units`` (see :func:`unit_values`). Rows are
        sorted by the shown keys and the settings; splits and metrics keep
        their order of first appearance.

    Example
    -------
    >>> runs = [
    ...     {"corpus": "IEMOCAP", "config": "lora", "task": "categorical",
    ...      "fold": fold, "folds": [1, 2], "seed": 7,
    ...      "params": {"trainable": 10},
    ...      "splits": {"test": {"UA": ua, "n": 5, "confusion": [[5]]}}}
    ...     for fold, ua in ((1, 0.5), (2, 0.7))
    ... ]
    >>> table = aggregate(runs, n_boot=100)
    >>> table[["metric", "folds", "n_runs", "mean", "trainable_params"]]
      metric folds  n_runs  mean  trainable_params
    0     UA   1-2       2   0.6              10.0
    >>> round(float(table["std"][0]), 4)
    0.1414
    """
    groups, settings = {}, {}
    for result in results:
        key, described = experiment_of(result)
        groups.setdefault(key, []).append(result)
        settings[key] = described
    columns = differing_settings(settings)
    rows = []
    for key, runs in groups.items():
        shown = [_text(runs[0].get(name)) for name in SHOWN]
        described = [columns[name][key] for name in columns]
        problems = protocol_problems(runs)
        if key.startswith("legacy:"):
            problems.append("settings unknown (older results.json)")
        for (split, metric), (cell, folds) in _metric_values(runs).items():
            units, what = unit_values(cell, folds)
            ci_low, ci_high = bootstrap_ci(units, n_boot=n_boot, seed=seed)
            rows.append(
                (
                    *shown,
                    *described,
                    split,
                    metric,
                    _ranges(run.get("fold") for run in runs if "fold" in run),
                    _ranges(run.get("seed") for run in runs if "seed" in run),
                    len(cell),
                    what,
                    float(np.mean(units)),
                    float(np.std(units, ddof=1))
                    if len(units) > 1
                    else math.nan,
                    ci_low,
                    ci_high,
                    _mean_param(runs, "trainable"),
                    _mean_param(runs, "trainable_pct"),
                    "; ".join(problems) or "complete",
                    key,
                )
            )
    names = [*SHOWN, *columns, *STATISTICS]
    table = pd.DataFrame(rows, columns=names)
    order = [*SHOWN, *columns]
    table = table.sort_values(order, kind="stable", ignore_index=True)
    table.attrs["settings"] = list(columns)
    return table


def _number(value, digits=4):
    """A float with fixed decimals, ``n/a`` for NaN."""
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _params(count, percent):
    """``442,368 (0.47%)``, omitting what is unknown."""
    if math.isnan(count):
        return "n/a"
    text = f"{round(count):,}"
    if not math.isnan(percent):
        text += f" ({percent:.3g}%)"
    return text


def _cell(value):
    """A setting's cell, with long hashes shortened."""
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def to_markdown(df):
    """A padded Markdown table of an :func:`aggregate` DataFrame.

    Arguments
    ---------
    df : pandas.DataFrame
        Output of :func:`aggregate`.

    Returns
    -------
    str
        The table, one line per row, without a trailing newline.

    Example
    -------
    >>> runs = [{"corpus": "C", "config": "lora", "task": "categorical",
    ...          "seed": 1, "splits": {"test": {"WA": 0.5}}}]
    >>> header, rule, row = to_markdown(aggregate(runs)).splitlines()
    >>> print(header)  # doctest: +NORMALIZE_WHITESPACE
    | corpus | config | task | split | metric | folds | seeds | runs | mean \
| std | 95% CI | trainable | over | protocol |
    >>> print(row)  # doctest: +NORMALIZE_WHITESPACE
    | C | lora | categorical | test | WA | - | 1 | 1 | 0.5000 | n/a | n/a \
| n/a | 1 run | settings unknown (older results.json) |
    """
    settings = df.attrs.get("settings", [])
    left = [*SHOWN, *settings, "split", "metric", "folds", "seeds"]
    right = ["runs", "mean", "std", "95% CI", "trainable"]
    lines = [left + right + ["over", "protocol"]]
    for row in df.to_dict("records"):
        ci = "n/a"
        if not math.isnan(row["ci_low"]):
            ci = f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
        lines.append(
            [
                *(_cell(row[key]) for key in left),
                str(row["n_runs"]),
                _number(row["mean"]),
                _number(row["std"]),
                ci,
                _params(row["trainable_params"], row["trainable_pct"]),
                row["units"],
                row["protocol"],
            ]
        )
    widths = [max(map(len, column)) for column in zip(*lines)]
    numeric = range(len(left), len(left) + len(right))
    rule = [
        "-" * (w - 1) + ":" if i in numeric else "-" * w
        for i, w in enumerate(widths)
    ]

    def render(cells):
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "| " + " | ".join(padded) + " |"

    return "\n".join([render(lines[0]), render(rule), *map(render, lines[1:])])


def main(argv=None):
    """Command-line entry point: print the table, optionally save it.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0, or 1 when a ``results.json`` could not be read.
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_peft.results",
        description="Mean, std and bootstrap 95% CI of results.json "
        "metrics over folds and seeds, one row per experiment.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="RUN_DIR",
        help="run folder, results.json, or a folder to search recursively",
    )
    parser.add_argument("--markdown", metavar="OUT.md", help="save the table")
    parser.add_argument(
        "--figures",
        metavar="DIR",
        help="also draw the metric against the trainable share and a bar "
        "chart per method and corpus (PNG, with the numbers as CSV)",
    )
    parser.add_argument(
        "--figure-split",
        help="the split the figures draw (default: each corpus' headline "
        "test split: MSP-Podcast's test1, the others' test)",
    )
    parser.add_argument(
        "--bootstrap", type=int, default=10000, help="bootstrap resamples"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)
    if args.bootstrap < 1:
        parser.error("--bootstrap must be at least 1")
    try:
        results, broken = load_results(args.paths)
    except FileNotFoundError as error:
        parser.error(str(error))
    table = aggregate(results, args.bootstrap, args.seed)
    n_experiments = table["experiment"].nunique()
    note = (
        f"{_count(len(results), 'run')} in "
        f"{_count(n_experiments, 'experiment')}. Mean, std "
        "(sample, ddof=1) and 95% CI (percentile bootstrap of the mean, "
        f"scipy.stats.bootstrap, {args.bootstrap} resamples, seed "
        f"{args.seed}) run over folds, each fold the mean of its seeds; "
        "without folds, over runs (the units column); std and CI are n/a "
        "for a single unit. Runs are averaged only within an experiment "
        "(they differ in fold and seed alone)."
    )
    text = f"{note}\n\n{to_markdown(table)}"
    print(text)
    if args.markdown:
        out = Path(args.markdown)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        print(f"\nwrote {out}")
    if args.figures:
        for path in write_figures(table, args.figures, args.figure_split):
            print(f"wrote {path}")
    for path, reason in broken:
        print(f"error: {path}: cannot be read ({reason})", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
