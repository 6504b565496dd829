"""Training-step time and peak memory of each PEFT configuration against
full fine-tuning, on a base-size encoder (768 x 12, random init) on CPU.

One training step is: encoder forward + :class:`EmotionHead` + cross-entropy,
backward, ``AdamW.step()`` over the trainable parameters and
``zero_grad(set_to_none=True)`` (no gradient clipping, no data loading).

* **Time**: every configuration is built in this one process and the steps
  are interleaved round-robin (the start of the rotation moves every round),
  so a load change on the machine hits all of them alike; each repeat takes
  the median over its measured rounds (after warm-up) and its ratios to
  full fine-tuning. Reported: the median over the repeats of each ratio,
  and its range (min-max over the repeats).
* **Memory**, two measures, each in fresh processes (``multiprocessing``
  spawn):

  - *Tensor peak*: the most bytes held in live tensors at once, from
    before the model is built to the end of a few steps, summed from the
    allocation and free events ``torch.profiler`` records. It counts
    weights, gradients, optimizer state and activations, and nothing else:
    what ``torch.cuda.max_memory_allocated`` reports on a GPU, where the
    issue's users hit the limit. The same allocations happen in every
    repeat, so it is measured once per configuration.
  - *RSS peak*: peak resident memory of the process during the steps
    (``VmHWM`` of ``/proc/self/status``, reset with
    ``/proc/self/clear_refs`` once the model is built) minus its resident
    memory before the model was built. On top of the tensors it holds what
    the C allocator keeps after a free and the library code the backward
    pages in. Where the peak cannot be reset, ``ru_maxrss`` is used (then
    model loading is included too; the table says so). One fresh process
    per configuration and repeat.
* **bf16** rows run the forward under ``torch.autocast("cpu",
  torch.bfloat16)``, as SpeechBrain's ``--precision bf16`` does.

Usage::

    python benchmarks/train_step.py --steps 8 --warmup 2 --repeats 3 \\
        --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import concurrent.futures
import ctypes
import gc
import itertools
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

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
    ratio_cell,
    save_base_encoder,
    spread,
)

from speechbrain_peft.adapters.wavlm_attention import (  # noqa: E402
    call_projections,
    is_wavlm_attention,
)
from speechbrain_peft.model.encoder import PEFTEncoder  # noqa: E402
from speechbrain_peft.model.heads import EmotionHead  # noqa: E402

COMBO = ["lora", "bottleneck", "weighted_sum", "gating"]

#: ``key: (table name, PEFTEncoder keyword arguments)``; ``route_attention``
#: (not a PEFTEncoder argument) makes every WavLM attention call its
#: projection modules, as it does once LoRA is in it: full fine-tuning on
#: that path separates the attention implementation from LoRA's own saving.
#: ``precision: bf16`` (not one either) autocasts the forward to bfloat16.
CONFIGS = {
    "full": ("full fine-tuning", {"full_finetune": True}),
    "full_routed": (
        "full fine-tuning, attention via projections",
        {"full_finetune": True, "route_attention": True},
    ),
    "frozen": ("frozen (head only)", {"adapters": []}),
    "ws": ("weighted sum", {"adapters": ["weighted_sum"]}),
    "lora": ("LoRA (q,k,v, r=8)", {"adapters": ["lora"]}),
    "bottleneck": ("bottleneck (64)", {"adapters": ["bottleneck"]}),
    "gating": ("gating", {"adapters": ["gating"]}),
    "combo": ("combo (LoRA+BA+WS+WG)", {"adapters": COMBO}),
    "lora_ckpt": (
        "LoRA + selective activation checkpointing",
        {"adapters": ["lora"], "activation_checkpointing": "selective"},
    ),
    "lora_ckpt_full": (
        "LoRA + full activation checkpointing",
        {"adapters": ["lora"], "activation_checkpointing": "full"},
    ),
    "full_bf16": (
        "full fine-tuning, bf16",
        {"full_finetune": True, "precision": "bf16"},
    ),
    "lora_bf16": ("LoRA, bf16", {"adapters": ["lora"], "precision": "bf16"}),
}

N_CLASSES = 4


def make_batch(batch_size, seconds, seed=0):
    """Random waveforms (all full length), relative lengths and labels."""
    generator = torch.Generator().manual_seed(seed)
    n_samples = int(seconds * SAMPLE_RATE)
    wav = torch.randn(batch_size, n_samples, generator=generator)
    lens = torch.ones(batch_size)
    labels = torch.randint(0, N_CLASSES, (batch_size,), generator=generator)
    return wav, lens, labels


class Runner:
    """One configuration: encoder lobe, head and optimizer.

    Arguments
    ---------
    model_path : str
        Local ``save_pretrained`` folder of the encoder.
    spec : dict
        :class:`PEFTEncoder` keyword arguments.
    save_path : str
        Cache folder for the SpeechBrain wrapper.
    seed : int
        Seed of the adaptor and head initialisation.
    lr : float
        AdamW learning rate.
    """

    def __init__(self, model_path, spec, save_path, seed=0, lr=1e-4):
        torch.manual_seed(seed)
        spec = dict(spec)
        route_attention = spec.pop("route_attention", False)
        self.autocast = torch.autocast(
            "cpu",
            dtype=torch.bfloat16,
            enabled=spec.pop("precision", "fp32") == "bf16",
        )
        self.encoder = PEFTEncoder(
            str(model_path), save_path=save_path, layerdrop=0.0, **spec
        )
        if route_attention:
            for module in self.encoder.modules():
                if is_wavlm_attention(module):
                    call_projections(module)
        self.head = EmotionHead(self.encoder.output_size, N_CLASSES)
        self.encoder.train()
        self.head.train()
        self.params = [
            p
            for p in itertools.chain(
                self.encoder.parameters(), self.head.parameters()
            )
            if p.requires_grad
        ]
        self.optimizer = torch.optim.AdamW(self.params, lr=lr)

    def counts(self):
        """``(trainable, total)`` parameters of encoder lobe plus head."""
        total = sum(
            p.numel()
            for p in itertools.chain(
                self.encoder.parameters(), self.head.parameters()
            )
        )
        return sum(p.numel() for p in self.params), total

    def step(self, wav, lens, labels):
        """One training step; returns the loss."""
        with torch.profiler.record_function("step/forward"), self.autocast:
            feats, feat_lens = self.encoder(wav, lens)
            loss = F.cross_entropy(self.head(feats, feat_lens), labels)
        with torch.profiler.record_function("step/backward"):
            loss.backward()
        with torch.profiler.record_function("step/optimizer"):
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()


def _rss_kb(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _trim():
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def memory_child(model_path, spec, save_path, batch, seconds, threads, steps):
    """Peak memory of ``steps`` training steps, run in a fresh process.

    Returns
    -------
    dict
        ``peak_mb`` (peak during training minus the resident memory before
        the model was built), ``model_mb`` (resident memory added by
        building the model), ``method``.
    """
    torch.set_num_threads(threads)
    logging.disable(logging.WARNING)
    wav, lens, labels = make_batch(batch, seconds)
    _trim()
    before = _rss_kb()
    runner = Runner(model_path, spec, save_path)
    with torch.no_grad():  # page in lazily loaded (mmap) weights
        for param in runner.encoder.parameters():
            param.sum()
    _trim()
    loaded = _rss_kb()
    reset = _reset_peak_rss()
    for _ in range(steps):
        runner.step(wav, lens, labels)
    if reset:
        peak, method = _rss_kb("VmHWM"), "VmHWM"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss (includes model loading)"
    return {
        "peak_mb": (peak - before) / 1024,
        "model_mb": (loaded - before) / 1024,
        "method": method,
    }


def live_tensor_peak(prof):
    """The most bytes held in live tensors at once during ``prof``: the
    running sum of its allocation (+) and free (-) events."""
    events = sorted(
        (event.start_ns(), event.nbytes())
        for event in prof.profiler.kineto_results.events()
        if event.name() == "[memory]"
    )
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def tensor_child(model_path, spec, save_path, batch, seconds, threads, steps):
    """Tensor peak in MB (see the module docstring) of building the model
    and running ``steps`` training steps, in a fresh process."""
    torch.set_num_threads(threads)
    logging.disable(logging.WARNING)
    wav, lens, labels = make_batch(batch, seconds)
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        runner = Runner(model_path, spec, save_path)
        for _ in range(steps):
            runner.step(wav, lens, labels)
    return live_tensor_peak(prof) / 2**20


def in_fresh_processes(child, keys, model_path, save_path, args):
    """``{key: child(...)}`` for each configuration, each in a fresh
    process, one after the other."""
    context = multiprocessing.get_context("spawn")
    results = {}
    for key in keys:
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=context
        ) as pool:
            results[key] = pool.submit(
                child,
                str(model_path),
                CONFIGS[key][1],
                save_path,
                args.batch_size,
                args.seconds,
                args.threads,
                args.memory_steps,
            ).result()
        print(f"  {child.__name__} {key}: {results[key]}", flush=True)
    return results


def measure_time(runners, batch, warmup, steps):
    """Interleaved step times per configuration: wall-clock seconds and
    process CPU seconds (all threads; less sensitive to other processes
    competing for the cores)."""
    keys = list(runners)
    times = {key: [] for key in keys}
    cpu_times = {key: [] for key in keys}
    for round_index in range(warmup + steps):
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            start, start_cpu = time.perf_counter(), time.process_time()
            runners[key].step(*batch)
            elapsed = time.perf_counter() - start
            elapsed_cpu = time.process_time() - start_cpu
            if round_index >= warmup:
                times[key].append(elapsed)
                cpu_times[key].append(elapsed_cpu)
        print(
            f"  round {round_index + 1}/{warmup + steps}"
            + (" (warm-up)" if round_index < warmup else ""),
            flush=True,
        )
    return times, cpu_times


def profile(runner, batch, row_limit):
    """Profile one step with ``torch.profiler`` (CPU) and return the table
    of operators sorted by total CPU time."""
    runner.step(*batch)
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU]
    ) as prof:
        runner.step(*batch)
    return prof.key_averages().table(
        sort_by="cpu_time_total", row_limit=row_limit
    )


def ratios(per_repeat, key, reference="full"):
    """``per_repeat[r][key] / per_repeat[r][reference]`` for each repeat
    that has both."""
    return [
        run[key] / run[reference]
        for run in per_repeat
        if run.get(key) and run.get(reference)
    ]


def memory_lines(keys, repeats, args):
    """How the memory columns were measured, or that they were not."""
    memories = [r["memory"] for r in repeats if r["memory"]]
    if not memories:
        return ["- Memory: not measured (`--no-memory`)"]
    method = next(iter(memories[0].values()))["method"]
    model_mb = ", ".join(
        f"{key} {memories[0][key]['model_mb']:.0f}" for key in keys
    )
    return [
        "- Tensor peak: the most bytes in live tensors at once (weights, "
        "gradients, optimizer state, activations; what "
        "`torch.cuda.max_memory_allocated` counts on a GPU), from the "
        "allocation events `torch.profiler` records while a fresh process "
        f"builds the model and runs {args.memory_steps} steps; "
        "deterministic, so measured once per configuration",
        f"- RSS peak: fresh spawned process per configuration and repeat, "
        f"{args.memory_steps} steps; peak RSS during the steps ({method}) "
        "minus RSS before building the model: the tensors plus what the C "
        "allocator keeps after frees and the library code the steps page "
        f"in. Weights alone (RSS added by building, MB): {model_mb}",
    ]


def tensor_cells(tensor_peaks, key):
    """The tensor peak of ``key`` and its ratio to full fine-tuning."""
    if key not in tensor_peaks:
        return ["n/a", "n/a"]
    ratio = tensor_peaks[key] / tensor_peaks["full"]
    return [f"{tensor_peaks[key]:.0f}", f"{ratio:.2f}"]


def report(keys, counts, tensor_peaks, repeats, info, args, load_after):
    """The markdown section with the results table.

    ``tensor_peaks`` holds the tensor peak (MB) per configuration;
    ``repeats`` holds one dict per repeat: ``time`` and ``cpu`` (median
    step seconds per configuration), ``iqr`` (per configuration) and
    ``memory`` (:func:`memory_child` results per configuration)."""
    step_times = [r["time"] for r in repeats]
    cpu_times = [r["cpu"] for r in repeats]
    peaks = [
        {key: m["peak_mb"] for key, m in r["memory"].items()} for r in repeats
    ]
    rows = []
    for key in keys:
        trainable, total = counts[key]
        peak = [p[key] for p in peaks if key in p]
        rows.append(
            [
                CONFIGS[key][0],
                f"{trainable:,}",
                f"{100 * trainable / total:.3f}",
                f"{median([t[key] for t in step_times]):.3f}",
                f"{median([r['iqr'][key] for r in repeats]):.0f}",
                ratio_cell(ratios(step_times, key)),
                ratio_cell(ratios(step_times, key, reference="lora")),
                ratio_cell(ratios(cpu_times, key)),
                *tensor_cells(tensor_peaks, key),
                f"{median(peak):.0f}" if peak else "n/a",
                ratio_cell(ratios(peaks, key)),
            ]
        )
    table = markdown_table(
        [
            "config",
            "trainable params",
            "% trainable",
            "median step s",
            "IQR %",
            "time / full FT",
            "time / LoRA",
            "CPU / full FT",
            "tensor peak MB",
            "tensors / full FT",
            "RSS peak MB",
            "RSS / full FT",
        ],
        rows,
    )
    title = f"## Training step ({args.encoder}, base size)"
    if args.section:
        title += f": {args.section}"
    lines = [
        title,
        "",
        *machine_lines(info, load_after),
        f"- Command: `python benchmarks/train_step.py "
        f"{' '.join(args.argv)}`".replace("  ", " "),
        f"- Encoder: {args.encoder}, 768 x 12 layers, random init from "
        "the transformers default config; CNN front-end frozen in every "
        "configuration",
        f"- Batch: {args.batch_size} x {args.seconds:g} s of 16 kHz audio; "
        f"{args.repeats} repeats of {args.warmup} warm-up + {args.steps} "
        "measured steps per configuration, interleaved round-robin in one "
        "process",
        "- Step: forward (encoder + head + cross-entropy), backward, AdamW "
        "step, zero_grad; trainable params include the head "
        f"({counts['frozen'][0] if 'frozen' in counts else 'n/a'} "
        "for the bare head); bf16 rows autocast the forward to bfloat16",
        *memory_lines(keys, repeats, args),
        "- Ratios: median over the repeats of each repeat's ratio to full "
        "fine-tuning (or to plain LoRA, when it ran), [min-max] over the "
        "repeats. Step s and IQR % (inter-"
        "quartile range of a repeat's step times over its median): median "
        "over the repeats. CPU: process CPU time of the step (both "
        "threads), a cross-check less sensitive to other processes",
        "",
        table,
    ]
    return "\n".join(lines)


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="independent measurements; ratios are their median and range",
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=list(CONFIGS),
        default=list(CONFIGS),
        help="configurations to run (full is always added)",
    )
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--profile",
        nargs="*",
        choices=list(CONFIGS),
        default=[],
        help="print a torch.profiler table of one step of these configs",
    )
    parser.add_argument("--profile-rows", type=int, default=30)
    parser.add_argument(
        "--model-dir",
        default=None,
        help="where to save/reuse the random-init encoder (temp by default)",
    )
    parser.add_argument("--out", default=None, help="results markdown file")
    parser.add_argument(
        "--section",
        default="",
        help="a name for this table, so that runs of other --configs keep "
        "their own section of the results file",
    )
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if "full" not in args.configs:
        args.configs = ["full"] + list(args.configs)
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
        save_path = str(Path(tmp) / "cache")
        keys = list(dict.fromkeys(args.configs))

        print("Building every configuration in this process")
        runners = {
            key: Runner(model_path, CONFIGS[key][1], save_path) for key in keys
        }
        counts = {key: runner.counts() for key, runner in runners.items()}
        batch = make_batch(args.batch_size, args.seconds)
        tensor_peaks = {}
        if not args.no_memory:
            print("Tensor peaks, one fresh process per configuration")
            tensor_peaks = in_fresh_processes(
                tensor_child, keys, model_path, save_path, args
            )
        repeats = []
        for repeat in range(args.repeats):
            print(f"Repeat {repeat + 1}/{args.repeats}")
            memory = {}
            if not args.no_memory:
                print("RSS peaks, one fresh process per configuration")
                memory = in_fresh_processes(
                    memory_child, keys, model_path, save_path, args
                )
            print(f"Timing {args.warmup} + {args.steps} interleaved rounds")
            times, cpu_times = measure_time(
                runners, batch, args.warmup, args.steps
            )
            repeats.append(
                {
                    "time": {k: median(v) for k, v in times.items()},
                    "cpu": {k: median(v) for k, v in cpu_times.items()},
                    "iqr": {k: spread(v) for k, v in times.items()},
                    "memory": memory,
                }
            )
        load_after = load_average()

        for key in args.profile:
            print(f"\n### torch.profiler, one step of {CONFIGS[key][0]}\n")
            print(profile(runners[key], batch, args.profile_rows))

    section = report(
        keys, counts, tensor_peaks, repeats, info, args, load_after
    )
    name = ":".join(filter(None, ["train_step", args.encoder, args.section]))
    publish(section, args.out, name)


if __name__ == "__main__":
    main()
