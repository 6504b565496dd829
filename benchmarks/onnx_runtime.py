"""Files per second of an ``export --format onnx`` graph under onnxruntime
against our torch inference (``EmotionRecognizer``), on CPU.

One run with random trained tensors (LoRA, bottleneck adapters, gates and
the weighted sum on a base-size encoder, transformers' default config) is
exported once; the same files (3 s of 16 kHz audio each) then go through
both back ends, one file per call, the back ends alternating in every
round (the starting one swaps each round). Torch runs in ``eval()`` under
``torch.inference_mode()`` with as many threads as onnxruntime's
intra-op pool. Reported: the median files per second and, for the ratio,
the median [min-max] of the rounds' own ratios.

Usage::

    python benchmarks/onnx_runtime.py --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
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
    ratio_cell,
    save_base_encoder,
)

from speechbrain_peft.export import export_run  # noqa: E402
from speechbrain_peft.inference.recognizer import (  # noqa: E402
    EmotionRecognizer,
)
from speechbrain_peft.synthetic.runs import save_random_run  # noqa: E402

ADAPTORS = ["lora", "bottleneck", "gating", "weighted_sum"]
LABELS = ["neu", "hap", "ang", "sad"]


def back_ends(run_dir, export_dir, threads):
    """``{name: classify(wav [1, T] float32 numpy) -> probabilities}``."""
    recognizer = EmotionRecognizer.from_run(run_dir)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(export_dir / "model.onnx"),
        options,
        providers=["CPUExecutionProvider"],
    )
    ones = np.ones(1, dtype=np.float32)

    def with_torch(wav):
        with torch.inference_mode():
            logits = recognizer(torch.from_numpy(wav))
        return logits.softmax(dim=-1).numpy()

    def with_onnxruntime(wav):
        return session.run(None, {"waveform": wav, "wav_lens": ones})[0]

    return {"torch": with_torch, "onnxruntime": with_onnxruntime}


def measure(classifiers, files, warmup, repeats):
    """Each round's files per second of every back end, and the largest
    difference between their probabilities."""
    names = list(classifiers)
    rates = {name: [] for name in names}
    difference = 0.0
    for round_index in range(warmup + repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        outputs = {}
        for name in order:
            start = time.perf_counter()
            outputs[name] = [classifiers[name](wav) for wav in files]
            elapsed = time.perf_counter() - start
            if round_index >= warmup:
                rates[name].append(len(files) / elapsed)
        difference = max(
            difference,
            max(
                float(np.abs(a - b).max())
                for a, b in zip(outputs["torch"], outputs["onnxruntime"])
            ),
        )
        print(f"  round {round_index + 1}/{warmup + repeats}", flush=True)
    return rates, difference


def main(argv=None):
    """Print (and optionally record) the onnxruntime / torch table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", default=None, help="results markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    info = machine_info()
    generator = np.random.default_rng(0)
    samples = int(args.seconds * SAMPLE_RATE)
    files = [
        (0.1 * generator.standard_normal((1, samples))).astype(np.float32)
        for _ in range(args.files)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = save_base_encoder(args.encoder, tmp / args.encoder)
        run_dir = save_random_run(tmp / "run", source, ADAPTORS, LABELS)
        export_run(run_dir, tmp / "onnx", format="onnx")
        size = (tmp / "onnx" / "model.onnx").stat().st_size
        classifiers = back_ends(run_dir, tmp / "onnx", args.threads)
        rates, difference = measure(
            classifiers, files, args.warmup, args.repeats
        )
    ratios = [o / t for o, t in zip(rates["onnxruntime"], rates["torch"])]
    rows = [
        ["torch (EmotionRecognizer)", f"{median(rates['torch']):.2f}", "1.00"],
        [
            "onnxruntime (model.onnx)",
            f"{median(rates['onnxruntime']):.2f}",
            ratio_cell(ratios),
        ],
    ]
    command = " ".join(["python benchmarks/onnx_runtime.py", *argv])
    section = "\n".join(
        [
            f"## ONNX export under onnxruntime ({args.encoder}, base size)",
            "",
            *machine_lines(info, load_average()),
            f"- onnxruntime {onnxruntime.__version__}, CPU execution "
            f"provider, {args.threads} intra-op threads",
            f"- Command: `{command}`",
            f"- Model: {' + '.join(ADAPTORS)}, random trained tensors; "
            f"model.onnx {size / 1e6:.0f} MB",
            f"- Input: {args.files} files of {args.seconds:g} s, one file "
            f"per call; {args.warmup} warm-up + {args.repeats} measured "
            "rounds, back ends alternating; max |onnxruntime - torch| "
            f"probability {difference:.2g}",
            "",
            markdown_table(
                ["back end", "files / s (median)", "files / s vs torch"],
                rows,
            ),
        ]
    )
    publish(section, args.out, f"onnx_runtime_{args.encoder}")


if __name__ == "__main__":
    main()
