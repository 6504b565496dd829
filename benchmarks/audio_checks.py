"""Cost of checking every audio file before training.

Each run checks the files of all its manifests before the first epoch
(``speechbrain_peft.data.datasets.check_audio_files``): integer PCM files
by their
header and last sample, float files (which alone can hold NaN or infinite
samples) by reading every sample. This script writes ``--files`` random
files of ``--seconds`` each, once as 16-bit PCM and once as 32-bit float,
and times the check of each set (median of ``--repeats``; the first pass
reads from disk, later ones mostly from the page cache, as when a run
starts right after its data prep).

Usage::

    python benchmarks/audio_checks.py --files 10000 --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    load_average,
    machine_info,
    machine_lines,
    markdown_table,
    median,
    publish,
)

from speechbrain_peft.data.datasets import check_audio_files  # noqa: E402

SAMPLE_RATE = 16000


def write_files(folder, count, seconds, subtype, seed=0):
    """``count`` random files in ``folder``: a manifest-like frame."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    audio = (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(
        "float32"
    )
    paths = []
    for index in range(count):
        path = folder / f"{index:05d}.wav"
        sf.write(path, audio, SAMPLE_RATE, subtype=subtype)
        paths.append(str(path))
    return pd.DataFrame({"wav": paths, "duration": seconds})


def timed_check(frame, repeats):
    """Seconds of the first check and median of the following ones."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        check_audio_files({"manifest.csv": frame})
        times.append(time.perf_counter() - start)
    return times[0], median(times[1:]) if len(times) > 1 else times[0]


def main(argv=None):
    """Print (and optionally record) the audio check table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="results markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    info = machine_info()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for subtype in ("PCM_16", "FLOAT"):
            frame = write_files(
                Path(tmp) / subtype, args.files, args.seconds, subtype
            )
            first, again = timed_check(frame, args.repeats)
            rows.append(
                [
                    subtype,
                    "header + last sample"
                    if subtype == "PCM_16"
                    else "every sample",
                    f"{first:.2f}",
                    f"{again:.2f}",
                    f"{1000 * again / args.files:.3f}",
                ]
            )
    table = markdown_table(
        [
            "format",
            "read",
            "first check s",
            "again s (median)",
            "ms per file",
        ],
        rows,
    )
    command = " ".join(["python benchmarks/audio_checks.py", *argv])
    section = "\n".join(
        [
            "## Audio checks before training",
            "",
            *machine_lines(info, load_average()),
            f"- Command: `{command}`",
            f"- {args.files} files of {args.seconds:g} s at 16 kHz per "
            "format; `check_audio_files` over all of them",
            "",
            table,
        ]
    )
    publish(section, args.out, "audio_checks")


if __name__ == "__main__":
    main()
