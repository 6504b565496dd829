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

from speechbrain_peft.utils.errors import UserError
from speechbrain_peft.utils.files import honour_umask

METADATA_KEY = "speechbrain_peft"
# Fields that may differ between the saving and the loading machine.
PORTABLE_FIELDS = ("source",)


class CheckpointMismatchError(UserError, ValueError):
    """A checkpoint does not fit the model it is loaded into."""


def trainable_state_dict(module):
    """The tensors a run trained, by parameter name: the parameters that
    require gradients, plus those a submodule lists in ``adaptor_names``
    (adaptors frozen in stage two are still part of the run).

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> _ = net[0].requires_grad_(False)
    >>> sorted(trainable_state_dict(net))
    ['1.bias', '1.weight']
    """
    owned = {n for n, p in module.named_parameters() if p.requires_grad}
    for prefix, submodule in module.named_modules():
        for name in getattr(submodule, "adaptor_names", ()):
            owned.add(f"{prefix}.{name}" if prefix else name)
    params = dict(module.named_parameters())
    return {name: params[name].detach() for name in sorted(owned)}


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
    honour_umask(tmp)
    os.replace(tmp, path)


# How a torch.save file starts: a zip archive, or a bare pickle.
PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")


def unreadable_because(path, error):
    """Why a checkpoint file could not be read, in words: a pickle (which
    is refused: loading one runs code), or a damaged or truncated file."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    if start.startswith(PICKLE_MAGIC):
        return (
            "it is a pickled (torch.save) file, and pickled checkpoints are "
            "refused (loading one can run code); only safetensors files "
            "written by speechbrain_peft are accepted"
        )
    return (
        f"it is not a complete safetensors file ({error}): truncated (a "
        "run killed while writing, a full disk) or damaged"
    )


def read_metadata(path):
    """The configuration stored with a checkpoint written by
    :func:`save_trainable` (None when it has none)."""
    with safe_open(str(path), framework="pt") as handle:
        stored = (handle.metadata() or {}).get(METADATA_KEY)
    return None if stored is None else json.loads(stored)


def config_differences(saved, expected, prefix=""):
    """The dotted names of the settings that differ between two nested
    configurations (portable fields such as the encoder's local path
    excepted).

    Example
    -------
    >>> config_differences({"adapters": {"lora": {"rank": 8}}, "source": "a"},
    ...                    {"adapters": {"lora": {"rank": 4}}, "source": "b"})
    ['adapters.lora.rank']
    """
    differences = []
    for key in sorted((set(saved) | set(expected)) - set(PORTABLE_FIELDS)):
        old, new = saved.get(key), expected.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            differences += config_differences(old, new, f"{prefix}{key}.")
        elif old != new:
            differences.append(f"{prefix}{key}")
    return differences


def load_trainable(module, path, expected_metadata=None, upgrade=None):
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
    upgrade : callable, optional
        Brings the stored configuration of a file written by an older
        version into today's form before the comparison.

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
            f"{path} cannot be read: {unreadable_because(path, error)}"
        ) from error
    return apply_trainable(
        module, tensors, saved_metadata, path, expected_metadata, upgrade
    )


def apply_trainable(
    module, tensors, saved_metadata, path, expected_metadata=None, upgrade=None
):
    """Load tensors already read from ``path`` (see :func:`load_trainable`,
    whose checks it makes) into ``module``; returns the stored
    configuration."""
    if upgrade is not None and saved_metadata is not None:
        saved_metadata = upgrade(saved_metadata)
    if expected_metadata is not None and saved_metadata is not None:
        differences = config_differences(saved_metadata, expected_metadata)
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
