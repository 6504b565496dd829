"""Padding fraction of the training batches: the recipes' duration-bucketed
batches against random batches of the same size, on an IEMOCAP-like
duration distribution.

The padding fraction is the share of the padded batch tensor that is
padding, ``1 - sum(durations) / sum(batch_size_i * longest_i)``, averaged
over the epochs (each epoch reshuffles). Durations: 5,531 draws (the
4-class IEMOCAP size) from a log-normal with IEMOCAP's shape (median
3.5 s, long right tail), clipped to its range 0.6-34 s; or a manifest's
``duration`` column with ``--manifest``.

Usage::

    python benchmarks/padding.py --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    machine_info,
    machine_lines,
    markdown_table,
    publish,
)

from speechbrain_peft.data.datasets import DurationBucketSampler  # noqa: E402


def iemocap_like(count=5531, seed=0):
    """Utterance durations (s) shaped like IEMOCAP's."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(np.log(3.5), 0.6, count), 0.6, 34.0)


def padding(durations, batches):
    """Share of the padded batch tensors that is padding."""
    real = sum(durations[b].sum() for b in batches)
    padded = sum(len(b) * durations[b].max() for b in batches)
    return 1.0 - real / padded


def random_batches(n, batch_size, rng):
    """Fixed-size batches of a random permutation."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def main(argv=None):
    """Print (and optionally record) the padding table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", help="use this manifest's durations")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 16])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default=None, help="results markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.manifest:
        durations = pd.read_csv(args.manifest)["duration"].to_numpy(float)
        source = args.manifest
    else:
        durations = iemocap_like()
        source = "IEMOCAP-like log-normal (median 3.5 s, 0.6-34 s)"
    rng = np.random.default_rng(0)
    rows = []
    for batch_size in args.batch_sizes:
        sampler = DurationBucketSampler(list(durations), batch_size)
        bucketed, shuffled = [], []
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            bucketed.append(padding(durations, [list(b) for b in sampler]))
            shuffled.append(
                padding(
                    durations, random_batches(len(durations), batch_size, rng)
                )
            )
        rows.append(
            [
                batch_size,
                f"{100 * np.mean(shuffled):.1f}",
                f"{100 * np.mean(bucketed):.1f}",
            ]
        )
    table = markdown_table(
        [
            "batch size",
            "random batches: padding %",
            "duration-bucketed (recipes): padding %",
        ],
        rows,
    )
    section = "\n".join(
        [
            "## Padding of training batches",
            "",
            *machine_lines(machine_info())[:1],
            f"- Command: `{' '.join(['python benchmarks/padding.py', *argv])}`",
            f"- Durations: {len(durations)} utterances, {source}; mean of "
            f"{args.epochs} epochs",
            "",
            table,
        ]
    )
    publish(section, args.out, "padding")


if __name__ == "__main__":
    main()
