"""Classify audio files with a trained run (or an export of one).

Usage::

    python -m speechbrain_peft.infer RUN_DIR a.wav b.flac ...

One JSON line per file on stdout, in the order given::

    {"file": "a.wav", "label": "ang", "probabilities": {"neu": 0.1, ...}}
    {"file": "b.flac", "arousal": 3.2, "valence": 2.1, "dominance": 3.0}

A file that is missing or not audio gets ``{"file": ..., "error": ...}``
instead; the other files are still classified and the exit status is 1.
Audio rules (resampling, mono downmix, cropping of long files to the run's
``max_duration``) are those of :mod:`speechbrain_peft.inference`.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json

from speechbrain_peft.dataio import ManifestError
from speechbrain_peft.errors import UserError
from speechbrain_peft.inference import EmotionRecognizer


def classify_files(recognizer, paths):
    """One result per file, errors included.

    Arguments
    ---------
    recognizer : speechbrain_peft.inference.EmotionRecognizer
        The loaded run.
    paths : list of str
        Audio files.

    Yields
    ------
    dict
        ``{"file": path, **result}``, or ``{"file": path, "error": text}``
        for a file that is missing, not audio or holds NaN samples.
    """
    for path in paths:
        try:
            yield {"file": path, **recognizer.classify_file(path)}
        except ManifestError as error:
            yield {"file": path, "error": str(error)}


def main(argv=None):
    """Command line; returns the exit status (1 when a file failed)."""
    parser = argparse.ArgumentParser(
        description="Classify audio files with a trained run: one JSON line "
        "per file."
    )
    parser.add_argument("run_dir", help="a run's output folder or an export")
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda:0")
    parser.add_argument(
        "--source", help="load the base encoder from this folder instead"
    )
    parser.add_argument("--savedir", help="download cache of hub encoders")
    args = parser.parse_args(argv)
    try:
        recognizer = EmotionRecognizer.from_run(
            args.run_dir, args.device, args.source, args.savedir
        )
    except (UserError, ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    failed = False
    for line in classify_files(recognizer, args.files):
        failed = failed or "error" in line
        print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
