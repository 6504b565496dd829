"""Epoch time and size of the feature caches on a base-size encoder
(768 x 12, random init) on CPU and the synthetic IEMOCAP's utterances:

* a weighted-sum configuration (nothing trains inside the encoder): no
  cache, the frame cache (every frame of every hidden state) and the pooled
  cache (one mean vector per layer and utterance, for heads that pool
  first);
* LoRA in the top 4 of the 12 layers: no cache and the lower-layer cache
  (the input of layer 8, computed once; layers 8-11 run every epoch).

One epoch is: for each batch, features (encoder or cache) + the
configuration's adaptors + :class:`EmotionHead` + cross-entropy, backward
and an AdamW step, exactly the work
:class:`~speechbrain_peft.training.brain.EmotionBrain` does per batch
(audio reading
excluded: the waveforms are in memory, so the comparison isolates the
encoder against the cache). Reported per cache: epoch 1 (cold cache), the
median of the following epochs (warm), and the speed-up over no cache as
the median and range of the ratios of the same warm epoch (epoch 2 to
epoch 2, ...), and the bytes per utterance. Last, the disk space the
frame and pooled caches would need for MSP-Podcast with WavLM Large (25
states x 1024, float16), computed from the release's size.

Usage::

    python benchmarks/feature_cache.py --utterances-per-speaker 4 \\
        --epochs 4 --out benchmarks/RESULTS.md

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
    add_encoder_arguments,
    load_average,
    machine_info,
    machine_lines,
    markdown_table,
    median,
    publish,
    ratio_cell,
    save_base_encoder,
)

from speechbrain_peft.corpora.iemocap import (  # noqa: E402
    make_synthetic as make_iemocap,
)
from speechbrain_peft.model.encoder import PEFTEncoder  # noqa: E402
from speechbrain_peft.model.heads import EmotionHead  # noqa: E402
from speechbrain_peft.training.feature_cache import (  # noqa: E402
    FeatureCache,
    LowerLayerCache,
    PooledFeatureCache,
)

N_CLASSES = 4
# MSP-Podcast release 1.12 (its readme): 207,136 speaking turns, 324 h 23
# min; WavLM Large: 24 layers + the CNN projection, 1024 wide, 50 frames/s.
MSP_TURNS = 207_136
MSP_SECONDS = 324 * 3600 + 23 * 60
LARGE_STATES, LARGE_WIDTH, FRAMES_PER_SECOND = 25, 1024, 50

#: Benchmarked configurations: label, PEFTEncoder arguments, and the cache
#: classes that serve them (constructor arguments after folder and encoder
#: come from :func:`make_caches`).
SETUPS = {
    "weighted_sum": (
        "weighted sum",
        {"adapters": ["weighted_sum"]},
        ("frames", "pooled"),
    ),
    "lora_top4": (
        "LoRA in layers 8-11 of 12",
        {"adapters": ["lora"], "adapter_layers": [8, 9, 10, 11]},
        ("lower",),
    ),
}


def batches_of(corpus, batch_size):
    """``[(paths, padded wavs, relative lengths, labels), ...]`` of the
    synthetic corpus' files, in order."""
    paths = sorted(str(p) for p in Path(corpus).rglob("*.wav"))
    paths = [p for p in paths if not Path(p).name.startswith("._")]
    batches = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        wavs = [torch.from_numpy(sf.read(p, dtype="float32")[0]) for p in chunk]
        lengths = torch.tensor([len(w) for w in wavs], dtype=torch.float)
        padded = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
        labels = torch.arange(start, start + len(chunk)) % N_CLASSES
        batches.append((chunk, padded, lengths / lengths.max(), labels))
    return batches


def run_epoch(encoder, head, optimizer, cache, batches):
    """One pass over ``batches``; returns its wall-clock seconds."""
    start = time.perf_counter()
    for paths, wav, lens, labels in batches:
        if cache is None:
            logits = head(*encoder(wav, lens))
        else:
            logits = cache.predict(paths, wav, lens, encoder, head)
        F.cross_entropy(logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument("--utterances-per-speaker", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--epochs",
        type=int,
        default=4,
        help="epochs per cache; the ones after the first give the ratios",
    )
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--out", default=None, help="results markdown file")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    return args


def timed_epochs(args, encoder, head, optimizer, cache, batches):
    """Seconds of each epoch."""
    times = []
    for epoch in range(args.epochs):
        times.append(run_epoch(encoder, head, optimizer, cache, batches))
        kind = "no cache" if cache is None else cache.kind
        print(f"  {kind} epoch {epoch + 1}: {times[-1]:.2f} s", flush=True)
    return times


def msp_estimate_lines():
    """The disk both caches need for MSP-Podcast with WavLM Large."""
    bytes_per_frame_state = LARGE_STATES * LARGE_WIDTH * 2
    frames = MSP_SECONDS * FRAMES_PER_SECOND * bytes_per_frame_state
    pooled = MSP_TURNS * bytes_per_frame_state
    return [
        "- MSP-Podcast 1.12 (207,136 turns, 324 h 23 min) with WavLM Large "
        "(25 x 1024, float16, 50 frames/s): frame cache "
        f"{frames / 1e12:.2f} TB, pooled cache {pooled / 1e9:.1f} GB "
        f"({frames / pooled:.0f}x smaller: the mean turn has "
        f"{MSP_SECONDS * FRAMES_PER_SECOND / MSP_TURNS:.0f} frames)",
    ]


def make_caches(names, folder, encoder, head, dtype):
    """The caches called ``names``, each in its own folder."""
    build = {
        "frames": lambda: FeatureCache(folder / "frames", encoder, dtype),
        "pooled": lambda: PooledFeatureCache(
            folder / "pooled", encoder, head.pool, dtype
        ),
        "lower": lambda: LowerLayerCache(folder / "lower", encoder, dtype),
    }
    return {name: build[name]() for name in names}


def setup_rows(args, setup, model_path, tmp, batches):
    """The table rows of one configuration: no cache, then each cache."""
    label, spec, cache_names = SETUPS[setup]
    torch.manual_seed(0)
    encoder = PEFTEncoder(
        str(model_path), save_path=str(tmp / "hub"), layerdrop=0.0, **spec
    ).train()
    head = EmotionHead(encoder.output_size, N_CLASSES).train()
    optimizer = torch.optim.AdamW(
        [p for p in encoder.parameters() if p.requires_grad]
        + list(head.parameters()),
        lr=1e-4,
    )
    n_utts = sum(len(paths) for paths, *_ in batches)
    print(f"{label}: no cache", flush=True)
    reference = timed_epochs(args, encoder, head, optimizer, None, batches)
    rows = [
        [label, "none", f"{reference[0]:.2f}", f"{median(reference[1:]):.3f}"]
        + ["1.0", "1.0", "-", "-"]
    ]
    caches = make_caches(cache_names, tmp / setup, encoder, head, args.dtype)
    for name, cache in caches.items():
        print(f"{label}: {name} cache", flush=True)
        times = timed_epochs(args, encoder, head, optimizer, cache, batches)
        warm = median(times[1:])
        speedups = [r / t for r, t in zip(reference[1:], times[1:])]
        size = sum(f.stat().st_size for f in cache.folder.glob("*.safetensors"))
        rows.append(
            [
                label,
                f"{name} ({args.dtype})",
                f"{times[0]:.2f}",
                f"{warm:.3f}",
                f"{times[0] / warm:.1f}",
                ratio_cell(speedups),
                f"{size / n_utts / 1000:.1f}",
                f"{size / 2**20:.1f}",
            ]
        )
    return rows


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
        corpus = make_iemocap(tmp / "IEMOCAP", args.utterances_per_speaker)
        batches = batches_of(corpus["root"], args.batch_size)
        n_utts = sum(len(paths) for paths, *_ in batches)
        for setup in SETUPS:
            rows += setup_rows(args, setup, model_path, tmp, batches)
        load_after = load_average()

    table = markdown_table(
        [
            "configuration",
            "cache",
            "epoch 1 s",
            "later epochs s (median)",
            "epoch 1 / later",
            "no cache / later: median [range]",
            "KB per utterance (disk)",
            "cache MB",
        ],
        rows,
    )
    section = "\n".join(
        [
            f"## Feature caches ({args.encoder}, base size)",
            "",
            *machine_lines(info, load_after),
            f"- Command: `python benchmarks/feature_cache.py "
            f"{' '.join(args.argv)}`".replace("  ", " "),
            f"- The synthetic IEMOCAP ({n_utts} utterances of 1-4 s), batch "
            f"{args.batch_size}, {args.epochs} epochs per cache; one epoch "
            "= features + adaptors + head + backward + AdamW step per batch "
            "(audio already in memory)",
            "- Speed-up: the ratio of the same later epoch without and with "
            f"the cache, median [min-max] over the {args.epochs - 1} later "
            "epochs",
            *msp_estimate_lines(),
            "",
            table,
        ]
    )
    publish(section, args.out, f"feature_cache:{args.encoder}")


if __name__ == "__main__":
    main()
