"""Classify audio files with the ``model.onnx`` beside this script. Needs
only onnxruntime, soundfile and numpy (an ``export --format onnx`` folder
ships this file as ``classify.py``).

Usage::

    python classify.py speech.wav [more.wav ...]

Each file is read whole and its channels averaged; a file at another
sample rate than the model's is refused (resample it first, e.g. with
sox). The files go in one padded batch with their relative lengths
(``wav_lens``). One JSON line per file: the probability of each label, or
arousal, valence and dominance on the corpus scale.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import soundfile

MODEL = Path(__file__).resolve().with_name("model.onnx")


def read(path, sample_rate, min_samples):
    """A file's mono samples, zero-padded to ``min_samples``."""
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise SystemExit(
            f"{path} is at {rate} Hz; resample it to {sample_rate} Hz first"
        )
    if not len(audio):
        raise SystemExit(f"{path} holds no samples")
    signal = audio.mean(axis=1)
    return np.pad(signal, (0, max(0, min_samples - len(signal))))


def classify(paths, model=MODEL):
    """``[{name: score}]``, one per file, in the order of ``paths``."""
    session = onnxruntime.InferenceSession(
        str(model), providers=["CPUExecutionProvider"]
    )
    metadata = session.get_modelmeta().custom_metadata_map
    names = json.loads(metadata["labels"])
    signals = [
        read(path, int(metadata["sample_rate"]), int(metadata["min_samples"]))
        for path in paths
    ]
    longest = max(len(signal) for signal in signals)
    waveform = np.zeros((len(signals), longest), dtype=np.float32)
    for row, signal in enumerate(signals):
        waveform[row, : len(signal)] = signal
    wav_lens = np.array([len(s) / longest for s in signals], dtype=np.float32)
    scores, _ = session.run(None, {"waveform": waveform, "wav_lens": wav_lens})
    return [dict(zip(names, map(float, row))) for row in scores]


def main(argv=None):
    """Print one JSON line per file given on the command line."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        raise SystemExit(__doc__)
    for path, scores in zip(paths, classify(paths)):
        print(json.dumps({"file": str(path), **scores}))


if __name__ == "__main__":
    main()
