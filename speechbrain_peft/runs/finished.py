"""A finished run, read once: its ``run.json``, its trained tensors and
their hash, the speakers it and its ancestors trained on, and what names
it as a parent. Stage two, the speaker checks, ``evaluate`` and
:meth:`~speechbrain_peft.inference.EmotionRecognizer.from_run` all take
it from here.

Authors
 * speechbrain-peft-ser developers 2026
"""

import functools
import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load as load_tensors

from speechbrain_peft.model.saved_tensors import (
    METADATA_KEY,
    CheckpointMismatchError,
    unreadable_because,
)
from speechbrain_peft.runs.artifact import RUN_WEIGHTS, read_run_config
from speechbrain_peft.runs.experiment import experiment_of
from speechbrain_peft.runs.speakers import recorded_trained_on


@dataclass
class FinishedRun:
    """A run folder (or an export of one), read by :meth:`read`.

    Attributes
    ----------
    path : pathlib.Path
        The folder, resolved.
    config : dict
        Its ``run.json`` in today's form.
    tensors : dict
        The trained tensors, by parameter name.
    metadata : dict or None
        The configuration stored with the tensors.
    weights_sha256 : str
        The hash of ``adapters.safetensors``.
    """

    path: Path
    config: dict
    tensors: dict
    metadata: dict
    weights_sha256: str

    @classmethod
    def read(cls, run_dir):
        """Read a finished run once.

        Raises
        ------
        CheckpointMismatchError
            When the folder is not a finished run or its tensors cannot be
            read.
        """
        path = Path(run_dir).resolve()
        config = read_run_config(path)
        weights = path / RUN_WEIGHTS
        data = weights.read_bytes()
        try:
            tensors = load_tensors(data)
            metadata = _stored_metadata(data)
        except Exception as error:
            why = unreadable_because(weights, error)
            raise CheckpointMismatchError(
                f"{weights} cannot be read: {why}"
            ) from error
        return cls(
            path,
            config,
            tensors,
            metadata,
            hashlib.sha256(data).hexdigest(),
        )

    @property
    def run_info(self):
        """The run's description (corpus, fold, seed, manifests,
        experiment, identity...)."""
        return self.config.get("run_info") or {}

    @functools.cached_property
    def trained_on(self):
        """The training speakers of the run and its ancestors (see
        :func:`~speechbrain_peft.runs.speakers.read_trained_on`), read when
        first asked for; None for an artifact that recorded none (an
        export)."""
        return recorded_trained_on(self.path, self.run_info)

    @property
    def identity(self):
        """What names this run as a parent: ``{"path", "run_id",
        "experiment_id"}``. A run written before identities is named by
        the hash of its weights and by ``(corpus, config, task)``."""
        info = {"task": self.config.get("task"), **self.run_info}
        run_id = (info.get("identity") or {}).get("id")
        return {
            "path": str(self.path),
            "run_id": run_id or f"weights:{self.weights_sha256}",
            "experiment_id": experiment_of(info)[0],
        }


def _stored_metadata(data):
    """The configuration stored in a safetensors file's header (see
    :func:`~speechbrain_peft.model.saved_tensors.save_trainable`)."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    stored = (header.get("__metadata__") or {}).get(METADATA_KEY)
    return None if stored is None else json.loads(stored)
