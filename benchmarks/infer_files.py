"""Files per second of ``infer`` on a folder: batched with duration
bucketing against one file at a time, on a base-size encoder with LoRA
(random init) on CPU.

The files are the synthetic IEMOCAP's (1-4 s); both settings go through
:class:`~speechbrain_peft.inference.windows.RecordingClassifier`, as the command
does, so the ratio is what ``--batch-size`` buys. The results agree (the
features do not depend on the batch).

Usage::

    python benchmarks/infer_files.py --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    add_encoder_arguments,
    load_average,
    machine_info,
    machine_lines,
    markdown_table,
    publish,
    save_base_encoder,
)

from speechbrain_peft.corpora.iemocap import (  # noqa: E402
    make_synthetic as make_iemocap,
)
from speechbrain_peft.inference.recognizer import EmotionRecognizer  # noqa: E402
from speechbrain_peft.inference.windows import RecordingClassifier  # noqa: E402
from speechbrain_peft.model.encoder import PEFTEncoder  # noqa: E402
from speechbrain_peft.model.heads import EmotionHead  # noqa: E402
from speechbrain_peft.runs.artifact import save_run_artifact  # noqa: E402

LABELS = ["neu", "hap", "ang", "sad"]


def make_run(folder, model_path):
    """A LoRA run artifact on the base-size encoder (untrained tensors)."""
    Path(folder).mkdir(parents=True)
    encoder = PEFTEncoder(str(model_path), adapters=["lora"])
    head = EmotionHead(encoder.output_size, len(LABELS))
    save_run_artifact(
        folder,
        encoder,
        head,
        task="categorical",
        label_set=LABELS,
        dimension_scale=None,
        sample_rate=16000,
        max_duration=15.0,
    )
    return folder


def timed(classifier, files):
    """Seconds to classify ``files`` and the file-level probabilities."""
    start = time.perf_counter()
    results = list(classifier.classify(files))
    seconds = time.perf_counter() - start
    probabilities = [
        [r["probabilities"][label] for label in LABELS] for r in results
    ]
    return seconds, np.array(probabilities)


def main(argv=None):
    """Print (and optionally record) the files-per-second table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_encoder_arguments(parser)
    parser.add_argument("--utterances-per-speaker", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", default=None, help="results markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)
    info = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path = save_base_encoder(args.encoder, tmp / args.encoder)
        run = make_run(tmp / "run", model_path)
        recognizer = EmotionRecognizer.from_run(run)
        corpus = make_iemocap(tmp / "IEMOCAP", args.utterances_per_speaker)
        files = sorted(
            str(p)
            for p in Path(corpus["root"]).rglob("*.wav")
            if not p.name.startswith("._")
        )
        rows, outputs = [], {}
        for batch_size in (1, args.batch_size):
            classifier = RecordingClassifier(recognizer, batch_size=batch_size)
            timed(classifier, files[:2])  # warm-up
            seconds, outputs[batch_size] = timed(classifier, files)
            rows.append([batch_size, f"{seconds:.2f}", len(files) / seconds])
    agreement = np.abs(outputs[1] - outputs[args.batch_size]).max()
    speedup = rows[1][2] / rows[0][2]
    table = markdown_table(
        ["batch size", "seconds", "files per second"],
        [[b, s, f"{f:.2f}"] for b, s, f in rows],
    )
    section = "\n".join(
        [
            f"## Inference on many files ({args.encoder}, base size, LoRA)",
            "",
            *machine_lines(info, load_average()),
            f"- Command: `python benchmarks/infer_files.py {' '.join(argv)}`",
            f"- {len(files)} files of the synthetic IEMOCAP (1-4 s), one "
            "window each; batches bucketed by duration",
            f"- Batched / one at a time: {speedup:.2f}x files per second; the "
            f"largest probability difference between the two is "
            f"{agreement:.1e}",
            "",
            table,
        ]
    )
    publish(section, args.out, f"infer_files:{args.encoder}")


if __name__ == "__main__":
    main()
