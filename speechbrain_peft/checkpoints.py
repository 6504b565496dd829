"""Adaptor-only checkpoints: only the tensors that train are written, as
safetensors (no pickle), with the configuration that produced them, and
loading refuses a checkpoint of another configuration with a message that
names both.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

METADATA_KEY = "speechbrain_peft"
# Fields that may differ between the saving and the loading machine.
PORTABLE_FIELDS = ("source",)


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


def trainable_state_dict(module):
    """The trainable tensors of ``module`` by parameter name.

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> _ = net[0].requires_grad_(False)
    >>> sorted(trainable_state_dict(net))
    ['1.bias', '1.weight']
    """
    return {
        name: param.detach()
        for name, param in module.named_parameters()
        if param.requires_grad
    }


def save_trainable(module, path, metadata=None):
    """Write the trainable tensors of ``module`` to a safetensors file.

    The file is written next to ``path`` and renamed into place, so an
    interrupted save never leaves a half-written checkpoint.

    Arguments
    ---------
    module : torch.nn.Module
        The model.
    path : str or pathlib.Path
        Destination file.
    metadata : dict, optional
        JSON-serialisable description of the configuration, checked on load.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "adapters.safetensors"
    >>> save_trainable(torch.nn.Linear(2, 1), path, {"adapters": []})
    >>> sorted(load_file(path))
    ['bias', 'weight']
    """
    path = Path(path)
    tensors = {
        name: tensor.contiguous().cpu()
        for name, tensor in trainable_state_dict(module).items()
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, tmp, metadata={METADATA_KEY: json.dumps(metadata)})
    os.replace(tmp, path)


def read_metadata(path):
    """The configuration stored with a checkpoint written by
    :func:`save_trainable` (None when it has none)."""
    with safe_open(str(path), framework="pt") as handle:
        stored = (handle.metadata() or {}).get(METADATA_KEY)
    return None if stored is None else json.loads(stored)


def _config_differences(saved, expected):
    keys = sorted((set(saved) | set(expected)) - set(PORTABLE_FIELDS))
    return [k for k in keys if saved.get(k) != expected.get(k)]


def load_trainable(module, path, expected_metadata=None):
    """Load tensors written by :func:`save_trainable` into ``module``.

    Arguments
    ---------
    module : torch.nn.Module
        The model, built with the configuration of the checkpoint.
    path : str or pathlib.Path
        A safetensors checkpoint.
    expected_metadata : dict, optional
        The configuration of ``module``; when given, the checkpoint's stored
        configuration must match it (except portable fields such as the
        encoder's local path).

    Raises
    ------
    CheckpointMismatchError
        When configurations, names or shapes differ.
    """
    path = Path(path)
    try:
        saved_metadata = read_metadata(path)
        tensors = load_file(path)
    except Exception as error:
        raise CheckpointMismatchError(
            f"{path} is not a readable safetensors adaptor checkpoint "
            f"({error}). Only files written by speechbrain_peft are accepted; "
            "pickled checkpoints are refused."
        ) from error
    if expected_metadata is not None and saved_metadata is not None:
        differences = _config_differences(saved_metadata, expected_metadata)
        if differences:
            raise CheckpointMismatchError(
                f"{path} was saved with another configuration (differs in "
                f"{differences}).\n  checkpoint: "
                f"{json.dumps(saved_metadata, sort_keys=True)}\n  this model: "
                f"{json.dumps(expected_metadata, sort_keys=True)}"
            )
    params = dict(module.named_parameters())
    wanted = trainable_state_dict(module)
    missing = sorted(set(wanted) - set(tensors))
    unexpected = sorted(set(tensors) - set(params))
    bad_shapes = [
        f"{name}: checkpoint {tuple(t.shape)} vs model "
        f"{tuple(params[name].shape)}"
        for name, t in tensors.items()
        if name in params and t.shape != params[name].shape
    ]
    if missing or unexpected or bad_shapes:
        raise CheckpointMismatchError(
            f"{path} does not fit this model: missing {missing[:5]} "
            f"({len(missing)}), unexpected {unexpected[:5]} "
            f"({len(unexpected)}), shape mismatches {bad_shapes[:5]}"
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            params[name].copy_(tensor)
    return saved_metadata


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
    encoder : speechbrain_peft.encoder.PEFTEncoder
        The trained lobe.
    head : speechbrain_peft.heads.EmotionHead
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


@register_checkpoint_hooks
class RandomState:
    """Makes torch's global random state part of a checkpoint, so that a
    resumed run draws the same dropout masks as an uninterrupted one.

    Example
    -------
    >>> import tempfile
    >>> state = RandomState()
    >>> path = Path(tempfile.mkdtemp()) / "rng.ckpt"
    >>> state.save(path)
    >>> first = torch.rand(1)
    >>> state.load(path)
    >>> torch.equal(torch.rand(1), first)
    True
    """

    @mark_as_saver
    def save(self, path):
        """Store the CPU random generator state."""
        torch.save(torch.get_rng_state(), path)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Restore the CPU random generator state."""
        del end_of_epoch  # the state is restored as it was saved either way
        torch.set_rng_state(torch.load(path, weights_only=True))
