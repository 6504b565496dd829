"""Inference latency of a base-size encoder with LoRA merged, LoRA unmerged
and without LoRA (the base encoder), on CPU.

The three encoders share the same random-init base weights (768 x 12,
transformers' default config); the LoRA ``B`` matrices are set to small
random values, as after training, so merging really changes the weights.
``merge_lora`` folds ``B A`` into the base weight and restores plain
``nn.Linear`` modules, so the merged encoder should cost exactly what the
base encoder costs.

Each forward runs in ``eval()`` mode under ``torch.inference_mode()``;
the encoders and input shapes are interleaved round-robin in one process
(the rotation start moves every round). Reported: the median latency, and
the ratio to the base encoder as the median [min-max] of the rounds' own
ratios (each round times every encoder once, back to back).

Usage::

    python benchmarks/inference.py --repeats 12 --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import copy
import logging
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
    ratio_cell,
    save_base_encoder,
    spread,
)

from speechbrain_peft.adapters import LoRALinear, merge_lora  # noqa: E402
from speechbrain_peft.model.encoder import PEFTEncoder  # noqa: E402

NAMES = {
    "base": "base encoder (no LoRA)",
    "unmerged": "LoRA unmerged",
    "merged": "LoRA merged (merge_lora)",
}


def parse_shape(text):
    """``"4x3"`` -> ``(4, 3.0)``: batch size and seconds."""
    batch, seconds = text.lower().split("x")
    return int(batch), float(seconds)


def build_encoders(model_path, save_path, lora_rank, seed=0):
    """The base, LoRA-unmerged and LoRA-merged encoders, in eval mode.

    Returns
    -------
    dict
        ``{name: PEFTEncoder}`` and the number of merged layers.
    """
    base = PEFTEncoder(str(model_path), save_path=save_path, adapters=[])
    lora = PEFTEncoder(
        str(model_path),
        save_path=save_path,
        adapters={"lora": {"rank": lora_rank}},
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in lora.modules():
            if isinstance(module, LoRALinear):
                weight = module.lora_B.weight
                weight.copy_(
                    0.02 * torch.randn(weight.shape, generator=generator)
                )
    merged = copy.deepcopy(lora)
    n_merged = merge_lora(merged.ssl.model)
    encoders = {"base": base, "unmerged": lora, "merged": merged}
    for encoder in encoders.values():
        encoder.eval()
        materialize(encoder)
    return encoders, n_merged


def materialize(module):
    """Give every parameter and buffer its own freshly allocated memory.

    Loaded weights may still be backed by the (memory-mapped) checkpoint
    file while a deep copy lives in anonymous memory; copying all three
    encoders the same way keeps the comparison fair.
    """
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            tensor.data = tensor.data.clone()


def check_outputs(encoders, wav, lens):
    """Largest absolute difference of merged vs unmerged outputs and of
    unmerged vs base outputs (the LoRA update must be visible)."""
    with torch.inference_mode():
        out = {name: enc(wav, lens)[0] for name, enc in encoders.items()}
    return {
        "merged_vs_unmerged": (out["merged"] - out["unmerged"]).abs().max(),
        "unmerged_vs_base": (out["unmerged"] - out["base"]).abs().max(),
    }


def measure(encoders, inputs, warmup, repeats):
    """Interleaved latencies (wall and process CPU seconds)."""
    names = list(encoders)
    wall = {(n, s): [] for n in names for s in inputs}
    cpu = {(n, s): [] for n in names for s in inputs}
    with torch.inference_mode():
        for round_index in range(warmup + repeats):
            shift = round_index % len(names)
            for shape, (wav, lens) in inputs.items():
                for name in names[shift:] + names[:shift]:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    encoders[name](wav, lens)
                    elapsed = time.perf_counter() - start
                    elapsed_cpu = time.process_time() - start_cpu
                    if round_index >= warmup:
                        wall[name, shape].append(elapsed)
                        cpu[name, shape].append(elapsed_cpu)
            print(
                f"  round {round_index + 1}/{warmup + repeats}"
                + (" (warm-up)" if round_index < warmup else ""),
                flush=True,
            )
    return wall, cpu


def round_ratios(times, name, shape):
    """Each round's time of ``name`` over the base encoder's."""
    return [
        t / base for t, base in zip(times[name, shape], times["base", shape])
    ]


def report(wall, cpu, shapes, checks, n_merged, info, args, load_after):
    """The markdown section with the latency table."""
    rows = []
    for shape in shapes:
        for name in NAMES:
            rows.append(
                [
                    shape,
                    NAMES[name],
                    f"{median(wall[name, shape]) * 1000:.0f}",
                    f"{spread(wall[name, shape]):.0f}",
                    ratio_cell(round_ratios(wall, name, shape), digits=3),
                    f"{median(cpu[name, shape]) * 1000:.0f}",
                    ratio_cell(round_ratios(cpu, name, shape), digits=3),
                ]
            )
    table = markdown_table(
        [
            "batch x s",
            "encoder",
            "median ms",
            "IQR %",
            "time / base: median [range]",
            "median CPU ms",
            "CPU / base: median [range]",
        ],
        rows,
    )
    lines = [
        f"## Inference ({args.encoder}, base size, LoRA r={args.lora_rank} "
        "on q,k,v)",
        "",
        *machine_lines(info, load_after),
        f"- Command: `python benchmarks/inference.py {' '.join(args.argv)}`",
        f"- {args.warmup} warm-up + {args.repeats} measured forwards per "
        "encoder and shape, interleaved round-robin in one process; "
        "`eval()` + `torch.inference_mode()`; encoder lobe only (the head "
        "is the same for all)",
        f"- merge_lora merged {n_merged} layers; max |merged - unmerged| = "
        f"{checks['merged_vs_unmerged']:.2e}, max |unmerged - base| = "
        f"{checks['unmerged_vs_base']:.2e} (the LoRA update is non-zero)",
        "- IQR %: inter-quartile range over the median; ratios: median "
        f"[min-max] over the {args.repeats} rounds of each round's ratio; "
        "CPU ms: process CPU time (both threads), a cross-check less "
        "sensitive to other load",
        "",
        table,
    ]
    return "\n".join(lines)


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument(
        "--shapes",
        nargs="+",
        default=["1x5", "4x3"],
        help="batch x seconds, e.g. 1x5 4x3",
    )
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument(
        "--model-dir",
        default=None,
        help="where to save/reuse the random-init encoder (temp by default)",
    )
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
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model_dir or Path(tmp) / args.encoder)
        print(f"Saving/loading the base {args.encoder} in {model_dir}")
        model_path = save_base_encoder(args.encoder, model_dir)
        encoders, n_merged = build_encoders(
            model_path, str(Path(tmp) / "cache"), args.lora_rank
        )
    generator = torch.Generator().manual_seed(0)
    inputs = {}
    for shape in args.shapes:
        batch, seconds = parse_shape(shape)
        wav = torch.randn(
            batch, int(seconds * SAMPLE_RATE), generator=generator
        )
        inputs[shape] = (wav, torch.ones(batch))
    first = next(iter(inputs.values()))
    checks = check_outputs(encoders, *first)
    print(f"Timing {args.warmup} + {args.repeats} interleaved rounds")
    wall, cpu = measure(encoders, inputs, args.warmup, args.repeats)
    load_after = load_average()
    section = report(
        wall, cpu, list(inputs), checks, n_merged, info, args, load_after
    )
    publish(section, args.out, f"inference:{args.encoder}")


if __name__ == "__main__":
    main()
