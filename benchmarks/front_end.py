"""Cost of masking the group-norm front-end.

Base checkpoints (wav2vec2-base, hubert-base, wavlm-base) normalise each
CNN channel over the whole padded row, so the encoder normalises each row
over its valid frames only (see
``speechbrain_peft.model.padding.masked_front_end``): every file then gets
the features it gets alone. This script times a padded batch through the
frozen base-size encoder (eval mode, no gradient, as in evaluation,
inference, the feature cache and frozen-CNN training) with the front-end
masked and unmasked, and measures how far the unmasked features of the
shortest file drift from its features alone.

Usage::

    python benchmarks/front_end.py --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    SAMPLE_RATE,
    add_encoder_arguments,
    load_average,
    machine_info,
    machine_lines,
    markdown_table,
    median,
    publish,
    save_base_encoder,
)

from speechbrain_peft.model.encoder import PEFTEncoder  # noqa: E402


def padded_batch(seconds, seed=0):
    """Random audio of the given durations, zero-padded, with relative
    lengths."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [int(s * SAMPLE_RATE) for s in seconds]
    wav = torch.zeros(len(lengths), max(lengths))
    for row, n in enumerate(lengths):
        wav[row, :n] = 0.1 * torch.randn(n, generator=generator)
    return wav, torch.tensor(lengths, dtype=torch.float) / max(lengths)


def timed(encoder, wav, lens, repeats):
    """Median seconds of ``encoder(wav, lens)`` over ``repeats`` calls."""
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            encoder(wav, lens)
            times.append(time.perf_counter() - start)
    return median(times)


def main(argv=None):
    """Print (and optionally record) the front-end cost table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument(
        "--seconds",
        nargs="+",
        type=float,
        default=[2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0],
        help="durations of the batch's files",
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="results markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    info = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        source = save_base_encoder(args.encoder, Path(tmp) / args.encoder)
        encoder = PEFTEncoder(str(source)).eval()
    wav, lens = padded_batch(args.seconds)
    with torch.no_grad():
        shortest = int(lens.argmin())
        alone = encoder(
            wav[shortest : shortest + 1, : int(lens[shortest] * wav.shape[1])]
        )[0][0]
    rows = []
    timings = {}
    for masked in (False, True):
        encoder.front_end_masked = masked
        timed(encoder, wav, lens, 1)  # warm-up
        timings[masked] = timed(encoder, wav, lens, args.repeats)
        with torch.no_grad():
            feats = encoder(wav, lens)[0][shortest, : alone.shape[0]]
        drift = float((feats - alone).norm() / alone.norm())
        rows.append(
            [
                "masked" if masked else "unmasked",
                f"{timings[masked]:.3f}",
                f"{timings[masked] / timings[False]:.2f}",
                f"{100 * drift:.2g}",
            ]
        )
    table = markdown_table(
        [
            "front-end",
            "batch forward s (median)",
            "time / unmasked",
            "shortest file's features vs alone: relative difference %",
        ],
        rows,
    )
    command = " ".join(["python benchmarks/front_end.py", *argv])
    section = "\n".join(
        [
            f"## Group-norm front-end masked ({args.encoder}, base size)",
            "",
            *machine_lines(info, load_average()),
            f"- Command: `{command}`",
            f"- Batch: {len(args.seconds)} files of "
            f"{', '.join(f'{s:g}' for s in args.seconds)} s, frozen encoder "
            f"in eval mode, no gradient; median of {args.repeats} calls",
            "",
            table,
        ]
    )
    publish(section, args.out, f"front_end_{args.encoder}")


if __name__ == "__main__":
    main()
