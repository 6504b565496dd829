"""A finished run's artifact: what is needed to use it again and nothing
more. ``adapters.safetensors`` holds the trainable tensors of the encoder
lobe and the head (the frozen encoder is reloaded from its source) and
``run.json`` the arguments that rebuild them, the task, labels, audio
settings and the run's description.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
from pathlib import Path

import torch

from speechbrain_peft.adapters import upgrade_flat_settings
from speechbrain_peft.model.saved_tensors import (
    CheckpointMismatchError,
    save_trainable,
)

# The run configuration's entries that define the model and its outputs.
MODEL_KEYS = (
    "encoder",
    "encoder_config",
    "head",
    "task",
    "label_set",
    "dimension_scale",
    "sample_rate",
    "max_duration",
)
RUN_WEIGHTS = "adapters.safetensors"
RUN_CONFIG = "run.json"


def save_run_artifact(run_dir, encoder, head, **run_config):
    """Write what a trained run needs to be used again, and nothing more:
    the trainable tensors of encoder and head (``adapters.safetensors``)
    and a small ``run.json`` (encoder and head arguments, task, labels,
    audio settings, parent run). The frozen encoder is not copied: it is
    reloaded from its source.

    Arguments
    ---------
    run_dir : str or pathlib.Path
        The run's output folder.
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        The trained lobe.
    head : speechbrain_peft.model.heads.EmotionHead
        The trained head.
    **run_config
        JSON-serialisable settings (task, label_set, dimension_scale,
        sample_rate, max_duration, run_info...).

    Returns
    -------
    dict
        The stored configuration.
    """
    run_dir = Path(run_dir)
    config = {
        "encoder": encoder.init_kwargs,
        "encoder_config": encoder.config_summary,
        "head": head.init_kwargs,
        **run_config,
    }
    modules = torch.nn.ModuleDict({"encoder": encoder, "head": head})
    save_trainable(modules, run_dir / RUN_WEIGHTS, metadata=config)
    (run_dir / RUN_CONFIG).write_text(json.dumps(config, indent=2))
    return config


def upgrade_run_config(config):
    """A run configuration written before the adaptor registry (flat
    ``lora_rank``... lobe arguments) in today's form; today's unchanged."""
    upgraded = dict(config)
    for key in ("encoder", "encoder_config"):
        if isinstance(upgraded.get(key), dict):
            upgraded[key] = upgrade_flat_settings(upgraded[key])
    return upgraded


def model_config(config):
    """The part of a run configuration that defines its model and the
    meaning of its outputs (what a checkpoint must agree with), in today's
    form; the run's description (``run_info``) and an export's record are
    left out."""
    upgraded = upgrade_run_config(config)
    return {key: upgraded[key] for key in MODEL_KEYS if key in upgraded}


def read_run_config(run_dir):
    """The ``run.json`` of a finished run (in today's form, whichever
    version wrote it), with a clear error when there is none."""
    run_dir = Path(run_dir)
    if (
        not (run_dir / RUN_CONFIG).is_file()
        or not (run_dir / RUN_WEIGHTS).is_file()
    ):
        raise CheckpointMismatchError(
            f"{run_dir} is not a finished run: it needs {RUN_CONFIG} and "
            f"{RUN_WEIGHTS}, written when a recipe completes"
        )
    return upgrade_run_config(json.loads((run_dir / RUN_CONFIG).read_text()))
