"""Many files and long recordings with a trained run.

A recording longer than the window (by default the run's ``max_duration``,
the longest audio it trained on) is classified in overlapping windows, and
the whole file gets the mean of its windows' class probabilities (or of
their arousal, valence and dominance); nothing is cropped. Many files are
read in chunks, their windows sorted by length and batched (duration
bucketing: little padding, and padding never changes a file's features,
see :mod:`speechbrain_peft.model.padding`), and the results come back file by
file, in the order given.

Authors
 * speechbrain-peft-ser developers 2026
"""

import math

import numpy as np
import torch
from tqdm import tqdm

from speechbrain_peft.data.datasets import AudioReader, ManifestError
from speechbrain_peft.utils.errors import ConfigError

# Seconds of the window when the run records no max_duration.
DEFAULT_WINDOW = 15.0


def window_bounds(n_samples, window, hop):
    """``(start, end)`` sample ranges covering a signal: windows of
    ``window`` samples every ``hop``, the last one ending at the signal's
    end; a single window when the signal is no longer than one.

    Example
    -------
    >>> window_bounds(10, 4, 3)
    [(0, 4), (3, 7), (6, 10)]
    >>> window_bounds(3, 4, 2)
    [(0, 3)]
    """
    if n_samples <= window:
        return [(0, n_samples)]
    count = math.ceil((n_samples - window) / hop) + 1
    starts = [min(k * hop, n_samples - window) for k in range(count)]
    return [(start, start + window) for start in starts]


def file_result(recognizer, windows):
    """The whole file's result from its windows' results: the mean class
    probabilities (label: the most probable) or the mean dimensions."""
    if recognizer.task == "categorical":
        labels = recognizer.label_set
        mean = np.mean(
            [[w["probabilities"][label] for label in labels] for w in windows],
            axis=0,
        )
        return {
            "label": labels[int(mean.argmax())],
            "probabilities": dict(zip(labels, mean.tolist())),
        }
    names = [k for k in windows[0] if k not in ("start", "end")]
    return {name: float(np.mean([w[name] for w in windows])) for name in names}


class RecordingClassifier:
    """Classifies files of any length with a recognizer, in batches.

    Arguments
    ---------
    recognizer : speechbrain_peft.inference.recognizer.EmotionRecognizer
        The loaded run.
    window, hop : float, optional
        Window length and step in seconds; by default the run's
        ``max_duration`` and half of it.
    batch_size : int
        Windows per forward pass.
    chunk_files : int
        Files read (and their windows sorted by length) at a time.
    embeddings : bool
        Also give each window's and file's utterance embedding
        (``embedding``: see :meth:`EmotionRecognizer.embed`; a file's is the
        mean of its windows').

    Example
    -------
    >>> window_bounds(16000 * 40, 16000 * 15, 16000 * 7)[-1]
    (400000, 640000)
    """

    def __init__(
        self,
        recognizer,
        window=None,
        hop=None,
        batch_size=8,
        chunk_files=64,
        embeddings=False,
    ):
        rate = recognizer.config["sample_rate"]
        window = window or recognizer.config.get("max_duration")
        window = window or DEFAULT_WINDOW
        hop = hop or window / 2
        if not 0 < hop <= window:
            raise ConfigError(
                f"--hop must be positive and at most --window ({window} s), "
                f"got {hop}"
            )
        self.recognizer = recognizer
        self.window, self.hop = int(window * rate), int(hop * rate)
        self.rate = rate
        self.batch_size = batch_size
        self.chunk_files = chunk_files
        self.embeddings = embeddings
        # Whole files: windows take the place of cropping.
        self.read_audio = AudioReader(rate, max_duration=None)

    def classify(self, paths, progress=False):
        """One result per file, in the order of ``paths``.

        Yields
        ------
        dict
            ``file``, ``duration`` (seconds), the file-level result (see
            :func:`file_result`) and ``windows``, one result per window
            with its ``start`` and ``end`` in seconds; or ``file`` and
            ``error`` for a file that is missing, not audio or holds NaN
            samples.
        """
        paths = list(paths)
        bar = tqdm(total=len(paths), unit="file", disable=not progress)
        for start in range(0, len(paths), self.chunk_files):
            chunk = paths[start : start + self.chunk_files]
            yield from self._classify_chunk(chunk)
            bar.update(len(chunk))
        bar.close()

    def _classify_chunk(self, paths):
        signals, errors = {}, {}
        for path in paths:
            try:
                signals[path] = self.read_audio(str(path))
            except ManifestError as error:
                errors[path] = str(error)
        segments = [
            (path, begin, end)
            for path, signal in signals.items()
            for begin, end in window_bounds(len(signal), self.window, self.hop)
        ]
        results = self._run(segments, signals)
        for path in paths:
            if path in errors:
                yield {"file": str(path), "error": errors[path]}
                continue
            windows = [
                {"start": begin / self.rate, "end": end / self.rate, **result}
                for (owner, begin, end), result in zip(segments, results)
                if owner == path
            ]
            result = {
                "file": str(path),
                "duration": len(signals[path]) / self.rate,
                **file_result(self.recognizer, windows),
                "windows": windows,
            }
            if self.embeddings:
                result["embedding"] = np.mean(
                    [w["embedding"] for w in windows], axis=0
                )
            yield result

    def _run(self, segments, signals):
        """Results of every segment, batched by length."""
        order = sorted(
            range(len(segments)),
            key=lambda i: segments[i][2] - segments[i][1],
        )
        results = [None] * len(segments)
        for first in range(0, len(order), self.batch_size):
            batch = order[first : first + self.batch_size]
            wavs = [
                signals[segments[i][0]][segments[i][1] : segments[i][2]]
                for i in batch
            ]
            lengths = torch.tensor([len(w) for w in wavs], dtype=torch.float)
            padded = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
            embedded, outputs = self.recognizer.embed(
                padded, lengths / lengths.max()
            )
            decoded = self.recognizer.decode(outputs)
            for index, result, vector in zip(batch, decoded, embedded):
                if self.embeddings:
                    result["embedding"] = vector.float().cpu().numpy()
                results[index] = result
        return results
