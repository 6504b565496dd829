"""Epoch time of a weighted-sum configuration with the feature cache, on a
base-size encoder (768 x 12, random init) on CPU: the first epoch encodes
and stores every utterance, later epochs read the stored hidden states.

One epoch is: for each batch, features (encoder or cache) + weighted sum +
:class:`EmotionHead` + cross-entropy, backward and an AdamW step, exactly
the work :class:`~speechbrain_peft.brain.EmotionBrain` does per batch
(audio reading excluded: the waveforms are in memory, so the comparison
isolates the encoder against the cache). Reported per storage dtype:
epoch 1 (cold cache), the median of the following epochs (warm), the
reference epoch without a cache, their ratios and the cache size on disk.

Usage::

    python benchmarks/feature_cache.py --utterances 32 --epochs 3 \\
        --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch
import torch.nn.functional as F

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

from speechbrain_peft.encoder import PEFTEncoder  # noqa: E402
from speechbrain_peft.feature_cache import FeatureCache  # noqa: E402
from speechbrain_peft.heads import EmotionHead  # noqa: E402

N_CLASSES = 4


def make_utterances(folder, count, seconds, seed=0):
    """Write ``count`` random waveforms as WAV files (the cache keys on
    files) and return ``[(path, tensor), ...]``."""
    generator = torch.Generator().manual_seed(seed)
    utterances = []
    for index in range(count):
        wav = 0.1 * torch.randn(int(seconds * SAMPLE_RATE), generator=generator)
        path = Path(folder) / f"utt{index:03d}.wav"
        sf.write(path, wav.numpy(), SAMPLE_RATE, subtype="FLOAT")
        utterances.append((str(path), wav))
    return utterances


def run_epoch(encoder, head, optimizer, cache, batches):
    """One pass over ``batches``; returns its wall-clock seconds."""
    start = time.perf_counter()
    for paths, wav, labels in batches:
        lens = torch.ones(wav.shape[0])
        if cache is None:
            feats, feat_lens = encoder(wav, lens)
        else:
            feats, feat_lens = cache(paths, wav, lens)
        loss = F.cross_entropy(head(feats, feat_lens), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument("--utterances", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=None, help="results markdown file")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    return args


def main(argv=None):
    """Run the benchmark and print (and optionally record) the table."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)
    info = machine_info()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path = save_base_encoder(args.encoder, tmp / args.encoder)
        encoder = PEFTEncoder(
            str(model_path),
            save_path=str(tmp / "hub"),
            adapters=["weighted_sum"],
        ).train()
        head = EmotionHead(encoder.output_size, N_CLASSES).train()
        optimizer = torch.optim.AdamW(
            [p for p in encoder.parameters() if p.requires_grad]
            + list(head.parameters()),
            lr=1e-4,
        )
        (tmp / "audio").mkdir()
        utterances = make_utterances(
            tmp / "audio", args.utterances, args.seconds
        )
        labels = torch.arange(len(utterances)) % N_CLASSES
        batches = []
        for start in range(0, len(utterances), args.batch_size):
            chunk = utterances[start : start + args.batch_size]
            batches.append(
                (
                    [path for path, _ in chunk],
                    torch.stack([wav for _, wav in chunk]),
                    labels[start : start + args.batch_size],
                )
            )

        print("Reference epoch without a cache", flush=True)
        reference = run_epoch(encoder, head, optimizer, None, batches)
        for dtype in ("float32", "float16"):
            cache = FeatureCache(tmp / f"cache_{dtype}", encoder, dtype)
            times = []
            for epoch in range(args.epochs):
                times.append(
                    run_epoch(encoder, head, optimizer, cache, batches)
                )
                print(f"  {dtype} epoch {epoch + 1}: {times[-1]:.2f} s")
            warm = median(times[1:])
            size = sum(
                f.stat().st_size for f in cache.folder.glob("*.safetensors")
            )
            rows.append(
                [
                    dtype,
                    f"{times[0]:.2f}",
                    f"{warm:.3f}",
                    f"{times[0] / warm:.1f}",
                    f"{reference / warm:.1f}",
                    f"{size / 2**20:.0f}",
                ]
            )
        load_after = load_average()

    table = markdown_table(
        [
            "cache dtype",
            "epoch 1 s (encode + store)",
            "later epochs s (median)",
            "epoch 1 / later",
            "no cache / later",
            "cache MB",
        ],
        rows,
    )
    section = "\n".join(
        [
            f"## Feature cache ({args.encoder}, base size, weighted sum)",
            "",
            *machine_lines(info, load_after),
            f"- Command: `python benchmarks/feature_cache.py "
            f"{' '.join(args.argv)}`".replace("  ", " "),
            f"- {args.utterances} utterances x {args.seconds:g} s, batch "
            f"{args.batch_size}, {args.epochs} epochs per dtype; one epoch "
            "= features + weighted sum + head + backward + AdamW step per "
            "batch (audio already in memory)",
            f"- Reference epoch without a cache: {reference:.2f} s",
            "",
            table,
        ]
    )
    publish(section, args.out, f"feature_cache:{args.encoder}")


if __name__ == "__main__":
    main()
