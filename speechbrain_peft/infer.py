"""Classify audio with a trained run (or an export of one).

Usage::

    python -m speechbrain_peft.infer RUN_DIR a.wav recordings/ "clips/*.flac"
    python -m speechbrain_peft.infer RUN_DIR manifests/test.csv \\
        --data-root /corpora/IEMOCAP_full_release --output predictions.csv

Inputs are audio files, folders (searched recursively for audio files),
glob patterns, and manifest CSVs (their ``wav`` column; ``--data-root``
replaces ``$data_root``). Files are read in chunks, their windows batched
by length (``--batch-size``), with a progress bar on stderr.

Output, one JSON line per file on stdout (or ``--output`` ``.jsonl`` /
``.csv``), in the order of the inputs::

    {"file": "a.wav", "start": 0.0, "end": 3.2, "windows": 1, "label": "ang",
     "probabilities": {"neu": 0.1, ...}}

A recording longer than ``--window`` seconds (by default the run's
``max_duration``) is classified in windows every ``--hop`` seconds (by
default half a window): one line per window (``"scope": "window"``, with
its ``start`` and ``end``) comes before the file's line, whose result is
the mean of the windows' probabilities (or of their arousal, valence and
dominance, on the corpus scale). Nothing is cropped. ``--embeddings
OUT.npz`` also writes the utterance embedding (the head's input: the mean
of the encoder features over the valid frames) of every file and window,
with the JSON lines' ``file`` (as ``files``), ``scope``, ``start`` and
``end``, for ``numpy.load``. A file that is
missing or not audio gets ``{"file": ..., "error": ...}``; the other files
are still classified and the exit status is 1 (2 when the run cannot be
loaded or an input names nothing).

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import csv
import glob
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from speechbrain_peft.inference.recognizer import EmotionRecognizer
from speechbrain_peft.inference.windows import RecordingClassifier
from speechbrain_peft.utils.errors import ConfigError, UserError, run_command

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def expand_inputs(inputs, data_root=None):
    """The audio files named by files, folders, globs and manifest CSVs.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("b.wav", "a.flac", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [Path(p).name for p in expand_inputs([str(folder)])]
    ['a.flac', 'b.wav']
    >>> expand_inputs([tempfile.mkdtemp()])
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: ... holds no audio file ...
    """
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in path.rglob("*")
                if p.suffix.lower() in AUDIO_SUFFIXES
                and not p.name.startswith("._")
            )
            if not found:
                raise ConfigError(
                    f"{item} holds no audio file (searched recursively for "
                    f"{', '.join(AUDIO_SUFFIXES)})"
                )
            files += found
        elif path.suffix.lower() == ".csv" and path.is_file():
            wavs = pd.read_csv(path)["wav"].astype(str)
            if data_root is not None:
                wavs = wavs.str.replace("$data_root", str(data_root))
            files += list(wavs)
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise ConfigError(f"{item} matches no file")
            files += matches
        else:
            files.append(item)  # a file; missing ones get an error line
    return files


def lines_of(result, vectors=None):
    """The output lines of one file's result: its windows (when there
    are several), then the file. With ``vectors``, each line's embedding
    moves there (one row per line)."""
    if "error" in result:
        return [result]
    windows = result.pop("windows")
    if vectors is not None:
        rows = windows if len(windows) > 1 else []
        vectors += [window.pop("embedding") for window in rows]
        vectors.append(result.pop("embedding"))
        for window in windows:
            window.pop("embedding", None)
    lines = []
    if len(windows) > 1:
        lines = [
            {"file": result["file"], "scope": "window", **window}
            for window in windows
        ]
    duration = result.pop("duration")
    lines.append(
        {
            "file": result.pop("file"),
            "scope": "file",
            "start": 0.0,
            "end": duration,
            "windows": len(windows),
            **result,
        }
    )
    return lines


def _flat(line):
    """A CSV row: probabilities as ``p_<label>`` columns."""
    row = {k: v for k, v in line.items() if k != "probabilities"}
    for label, value in (line.get("probabilities") or {}).items():
        row[f"p_{label}"] = value
    return row


def write_lines(lines, output):
    """Write the lines as JSON lines (stdout or ``.jsonl``) or a CSV."""
    if output is not None and Path(output).suffix.lower() == ".csv":
        rows = [_flat(line) for line in lines]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with open(output, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return
    handle = open(output, "w") if output else sys.stdout  # noqa: SIM115
    try:
        for line in lines:
            handle.write(json.dumps(line) + "\n")
            handle.flush()
    finally:
        if output:
            handle.close()


def main(argv=None):
    """Command line; returns the exit status (1 when a file failed)."""
    parser = argparse.ArgumentParser(
        description="Classify audio files with a trained run: one JSON line "
        "per file (and per window of a long recording)."
    )
    parser.add_argument("run_dir", help="a run's output folder or an export")
    parser.add_argument(
        "inputs", nargs="+", help="audio files, folders, globs, manifest CSVs"
    )
    parser.add_argument("--window", type=float, help="window seconds")
    parser.add_argument("--hop", type=float, help="seconds between windows")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", help="write .jsonl or .csv here")
    parser.add_argument("--data-root", help="replaces $data_root in CSVs")
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda:0")
    parser.add_argument(
        "--source", help="load the base encoder from this folder instead"
    )
    parser.add_argument("--savedir", help="download cache of hub encoders")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar"
    )
    parser.add_argument(
        "--embeddings",
        metavar="OUT.npz",
        help="also write each file's and window's utterance embedding here",
    )
    args = parser.parse_args(argv)
    try:
        recognizer = EmotionRecognizer.from_run(
            args.run_dir, args.device, args.source, args.savedir
        )
        classifier = RecordingClassifier(
            recognizer,
            args.window,
            args.hop,
            args.batch_size,
            embeddings=bool(args.embeddings),
        )
        files = expand_inputs(args.inputs, args.data_root)
    except UserError as error:
        parser.exit(2, f"error: {error}\n")
    failed = False
    lines, vectors, embedded = [], [] if args.embeddings else None, []
    for result in classifier.classify(files, progress=not args.no_progress):
        failed = failed or "error" in result
        file_lines = lines_of(result, vectors)
        if "error" not in result and vectors is not None:
            embedded += file_lines
        if args.output:
            lines += file_lines
        else:
            write_lines(file_lines, None)
    if args.output:
        write_lines(lines, args.output)
    if args.embeddings:
        write_embeddings(args.embeddings, embedded, vectors)
    return 1 if failed else 0


def write_embeddings(path, lines, vectors):
    """Save the embeddings with the lines they belong to, as ``.npz``:
    ``embeddings`` ``[N, d]`` and each row's ``files`` (its line's
    ``file``; numpy reserves that name), ``scope``, ``start`` and ``end``."""
    arrays = dict(
        embeddings=np.stack(vectors) if vectors else np.zeros((0, 0)),
        files=np.array([line["file"] for line in lines]),
        scope=np.array([line["scope"] for line in lines]),
        start=np.array([line["start"] for line in lines], dtype=float),
        end=np.array([line["end"] for line in lines], dtype=float),
    )
    np.savez(path, **arrays)


if __name__ == "__main__":
    run_command(main)
