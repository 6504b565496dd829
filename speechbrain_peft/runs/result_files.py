"""The files a training run or an evaluation leaves: ``results.json``,
``predictions_<split>.jsonl`` and confusion-matrix PNGs, written the same
way by both.

``results.json`` holds the record describing what was run, the versions
of the libraries it was made with (``software``) (see
:mod:`speechbrain_peft.training.recipe` and :mod:`speechbrain_peft.evaluate`),
the
parameter counts, the label set, the utterances left out per split and
the metrics per split. Per-utterance dimensional predictions and targets
are written on the rating scale of each split's corpus
(``prediction_scales`` in ``results.json``: 1-5 for IEMOCAP), the scale
``infer`` reports; the metrics (CCC) do not depend on it.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
from pathlib import Path

import numpy as np

from speechbrain_peft.data.datasets import denormalize_dimensions
from speechbrain_peft.runs.plots import plot_confusion
from speechbrain_peft.utils.files import atomic_write_text
from speechbrain_peft.utils.versions import software_versions

logger = logging.getLogger(__name__)


def parameter_summary(encoder, head):
    """Trainable and total parameters of a trained lobe and head.

    Example
    -------
    >>> import torch
    >>> encoder, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    >>> _ = encoder.requires_grad_(False)
    >>> parameter_summary(encoder, head)["trainable"]
    3
    """
    total = sum(p.numel() for p in encoder.parameters())
    trainable = sum(p.numel() for p in encoder.parameters() if p.requires_grad)
    head_params = sum(p.numel() for p in head.parameters())
    return {
        "trainable": trainable + head_params,
        "total": total + head_params,
        "trainable_pct": 100.0
        * (trainable + head_params)
        / (total + head_params),
        "encoder_trainable": trainable,
        "head": head_params,
    }


def on_scale(rows, scale):
    """Per-utterance dimensional rows with prediction and target mapped
    from the internal ``[-1, 1]`` to ``scale``.

    Example
    -------
    >>> on_scale([{"id": "a", "prediction": {"arousal": 0.0},
    ...            "target": {"arousal": 1.0}}], (1.0, 5.0))
    [{'id': 'a', 'prediction': {'arousal': 3.0}, 'target': {'arousal': 5.0}}]
    """

    def mapped(values):
        return {
            name: None
            if value is None
            else float(denormalize_dimensions(np.float64(value), scale))
            for name, value in values.items()
        }

    return [
        {
            **row,
            "prediction": mapped(row["prediction"]),
            "target": mapped(row["target"]),
        }
        for row in rows
    ]


def write_split_outputs(out, split, evaluated, label_names, scale, title):
    """Write one split's ``predictions_<split>.jsonl`` and, for a
    categorical task, ``confusion_<split>.png``.

    Arguments
    ---------
    out : pathlib.Path
        The run (or evaluation) folder.
    split : str
        Split name.
    evaluated : dict
        ``stats`` (the metrics summary) and ``predictions`` (per
        utterance, dimensions on the internal ``[-1, 1]`` scale).
    label_names : list of str or None
        Class names; None for a dimensional task.
    scale : tuple or None
        The corpus' rating scale, for a dimensional task.
    title : str
        Plot title.
    """
    rows = evaluated["predictions"]
    if label_names is None:
        rows = on_scale(rows, scale)
    with open(out / f"predictions_{split}.jsonl", "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    if label_names is not None:
        plot_confusion(
            evaluated["stats"]["confusion"],
            label_names,
            out / f"confusion_{split}.png",
            title=title,
        )


def write_results(out, record, evaluated, label_names=None, scales=None):
    """Write ``results.json`` and every split's outputs.

    Arguments
    ---------
    out : str or pathlib.Path
        The run (or evaluation) folder.
    record : dict
        What was run: the run or evaluation description, parameters,
        label set, left-out counts... (stored as given, at the top).
    evaluated : dict
        ``{split: {"stats": ..., "predictions": ...}}``.
    label_names : list of str, optional
        Class names (categorical task).
    scales : dict, optional
        ``{split: (low, high)}``: the rating scale of each split's corpus,
        for the predictions files of a dimensional task.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    out = Path(out)
    results = {**record, "software": software_versions(), "splits": {}}
    if scales:
        results["prediction_scales"] = {k: list(v) for k, v in scales.items()}
    for split, outcome in evaluated.items():
        results["splits"][split] = outcome["stats"]
        write_split_outputs(
            out,
            split,
            outcome,
            label_names,
            (scales or {}).get(split),
            title=f"{record.get('config', '')} {split}",
        )
    # Atomic, and the last file a run writes: a results.json says the run
    # (or evaluation) is whole.
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    logger.info("Results written to %s", out / "results.json")
    return results
