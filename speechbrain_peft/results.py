"""Aggregate ``results.json`` files over folds and seeds.

Runs are grouped by ``(corpus, config, task)``. For every scalar metric under
``splits.<split>.<metric>`` (the utterance count ``n`` and non-scalars such as
the confusion matrix are skipped) the table gives the number of runs that
report it, the mean, the sample standard deviation (``ddof=1``) and a 95%
percentile-bootstrap confidence interval of the mean (runs resampled with
replacement, seeded). With a single run the std and the CI are undefined:
they are NaN in the DataFrame and ``n/a`` in the table. NaN metric values are
kept, so a failed run shows up as a NaN mean instead of disappearing. The
trainable parameter count is the mean over the group's runs (runs of one
configuration share it).

Usage::

    python -m speechbrain_peft.results RUN_DIR [RUN_DIR ...] \\
        [--markdown OUT.md] [--bootstrap 10000] [--seed 0]

Each argument is a run folder, a ``results.json`` path, or a folder searched
recursively for ``results.json`` files.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

GROUP_KEYS = ("corpus", "config", "task")
COLUMNS = (
    *GROUP_KEYS,
    "split",
    "metric",
    "n_runs",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "trainable_params",
    "trainable_pct",
)


def load_results(paths):
    """Reads ``results.json`` files.

    Arguments
    ---------
    paths : list of str or pathlib.Path
        ``results.json`` files, or folders searched recursively for them.
        A file reached twice is read once.

    Returns
    -------
    list of dict
        The parsed files, in argument order (sorted within a folder).

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run = Path(tmp, "fold1")
    ...     run.mkdir()
    ...     _ = Path(run, "results.json").write_text('{"splits": {}}')
    ...     load_results([tmp, run / "results.json"])
    [{'splits': {}}]
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
    results = []
    for file in dict.fromkeys(path.resolve() for path in files):
        with open(file, encoding="utf-8") as handle:
            result = json.load(handle)
        if not isinstance(result, dict) or not isinstance(
            result.get("splits"), dict
        ):
            raise ValueError(f"{file}: no 'splits' mapping, not a results.json")
        results.append(result)
    return results


def bootstrap_ci(values, n_boot=10000, seed=0, level=0.95):
    """Percentile-bootstrap confidence interval of the mean.

    Arguments
    ---------
    values : array-like
        One value per run.
    n_boot : int
        Number of bootstrap resamples.
    seed : int
        Seed of the resampling generator.
    level : float
        Coverage of the interval.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(nan, nan)`` for fewer than two values.

    Example
    -------
    >>> low, high = bootstrap_ci([0.5, 0.6, 0.7, 0.8], n_boot=1000)
    >>> 0.5 <= low < 0.65 < high <= 0.8
    True
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(n_boot, values.size))
    means = values[picks].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _is_scalar(value):
    """Whether a JSON value is a number (booleans excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _group(result):
    """The ``(corpus, config, task)`` of a run, missing keys as ``""``."""
    return tuple(
        "" if result.get(key) is None else str(result[key])
        for key in GROUP_KEYS
    )


def _mean_param(results, key):
    """Mean of ``params[key]`` over the runs that report it, else NaN."""
    values = [(result.get("params") or {}).get(key) for result in results]
    values = [value for value in values if _is_scalar(value)]
    return float(np.mean(values)) if values else math.nan


def aggregate(results, n_boot=10000, seed=0):
    """Mean, std and bootstrap CI of every metric, per run group and split.

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
        One row per ``(corpus, config, task, split, metric)`` with columns
        ``n_runs, mean, std, ci_low, ci_high, trainable_params,
        trainable_pct``. Groups are sorted; splits and metrics keep their
        order of first appearance.

    Example
    -------
    >>> runs = [
    ...     {"corpus": "IEMOCAP", "config": "lora", "task": "categorical",
    ...      "params": {"trainable": 10},
    ...      "splits": {"test": {"UA": ua, "n": 5, "confusion": [[5]]}}}
    ...     for ua in (0.5, 0.7)
    ... ]
    >>> table = aggregate(runs, n_boot=100)
    >>> table[["metric", "n_runs", "mean", "trainable_params"]]
      metric  n_runs  mean  trainable_params
    0     UA       2   0.6              10.0
    >>> round(float(table["std"][0]), 4)
    0.1414
    """
    groups = {}
    for result in sorted(results, key=_group):
        groups.setdefault(_group(result), []).append(result)
    rows = []
    for group, runs in groups.items():
        values = {}
        for run in runs:
            for split, metrics in run.get("splits", {}).items():
                for metric, value in (metrics or {}).items():
                    if metric != "n" and _is_scalar(value):
                        key = (split, metric)
                        values.setdefault(key, []).append(float(value))
        for (split, metric), cell in values.items():
            ci_low, ci_high = bootstrap_ci(cell, n_boot=n_boot, seed=seed)
            rows.append(
                (
                    *group,
                    split,
                    metric,
                    len(cell),
                    float(np.mean(cell)),
                    float(np.std(cell, ddof=1)) if len(cell) > 1 else math.nan,
                    ci_low,
                    ci_high,
                    _mean_param(runs, "trainable"),
                    _mean_param(runs, "trainable_pct"),
                )
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


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
    ...          "splits": {"test": {"WA": 0.5}}}]
    >>> print(to_markdown(aggregate(runs)))
    | corpus | config | task        | split | metric | runs |   mean | \
std | 95% CI | trainable |
    | ------ | ------ | ----------- | ----- | ------ | ---: | -----: | \
--: | -----: | --------: |
    | C      | lora   | categorical | test  | WA     |    1 | 0.5000 | \
n/a |    n/a |       n/a |
    """
    header = [*GROUP_KEYS, "split", "metric"]
    right = ["runs", "mean", "std", "95% CI", "trainable"]
    lines = [header + right]
    for row in df.itertuples(index=False):
        ci = "n/a"
        if not math.isnan(row.ci_low):
            ci = f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
        lines.append(
            [
                *(str(getattr(row, key)) for key in header),
                str(row.n_runs),
                _number(row.mean),
                _number(row.std),
                ci,
                _params(row.trainable_params, row.trainable_pct),
            ]
        )
    widths = [max(map(len, column)) for column in zip(*lines)]
    rule = ["-" * width for width in widths[: len(header)]]
    rule += ["-" * (width - 1) + ":" for width in widths[len(header) :]]

    def render(cells):
        padded = [
            cell.ljust(width) if i < len(header) else cell.rjust(width)
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
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_peft.results",
        description="Mean, std and bootstrap 95% CI of results.json "
        "metrics over folds and seeds, grouped by (corpus, config, task).",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="RUN_DIR",
        help="run folder, results.json, or a folder to search recursively",
    )
    parser.add_argument("--markdown", metavar="OUT.md", help="save the table")
    parser.add_argument(
        "--bootstrap", type=int, default=10000, help="bootstrap resamples"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)
    if args.bootstrap < 1:
        parser.error("--bootstrap must be at least 1")
    try:
        results = load_results(args.paths)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    table = to_markdown(aggregate(results, args.bootstrap, args.seed))
    note = (
        f"{len(results)} runs. std: sample (ddof=1); 95% CI: percentile "
        f"bootstrap of the mean over runs ({args.bootstrap} resamples, seed "
        f"{args.seed}); both n/a for a single run."
    )
    print(note, table, sep="\n\n")
    if args.markdown:
        out = Path(args.markdown)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"{note}\n\n{table}\n", encoding="utf-8")
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
