"""Adaptor-only checkpoints: only the tensors that train are written, as
safetensors (no pickle), with the configuration that produced them, and
loading refuses a checkpoint of another configuration with a message that
names both.

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from speechbrain.utils.checkpoints import (
    METAFNAME,
    Checkpointer,
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


class CrashSafeCheckpointer(Checkpointer):
    """SpeechBrain's Checkpointer, but a checkpoint only counts once all its
    files are on disk.

    SpeechBrain writes ``CKPT.yaml`` (what marks a folder as a checkpoint)
    before the parameter files, so a run killed during a save leaves a
    checkpoint with a truncated file, and it is the newest one the next
    run tries to resume from. Here the meta file is written under another
    name, the other files are flushed to disk, and only then is it renamed
    into place; a folder left by an interrupted save is ignored.

    Example
    -------
    >>> import tempfile
    >>> layer = torch.nn.Linear(2, 2)
    >>> folder = Path(tempfile.mkdtemp())
    >>> checkpointer = CrashSafeCheckpointer(folder, {"layer": layer})
    >>> saved = checkpointer.save_checkpoint()
    >>> sorted(p.name for p in saved.path.iterdir())
    ['CKPT.yaml', 'layer.ckpt']
    >>> (folder / "CKPT+interrupted").mkdir()  # a save killed midway
    >>> [c.path for c in checkpointer.list_checkpoints()] == [saved.path]
    True
    """

    PENDING_META = METAFNAME + ".pending"

    def _save_checkpoint_metafile(
        self, fpath, meta_to_include=None, end_of_epoch=True
    ):
        pending = Path(fpath).with_name(self.PENDING_META)
        return super()._save_checkpoint_metafile(
            pending, meta_to_include or {}, end_of_epoch
        )

    def save_checkpoint(self, *args, **kwargs):
        """As ``Checkpointer.save_checkpoint``; the checkpoint becomes
        visible only after its last file is written."""
        checkpoint = super().save_checkpoint(*args, **kwargs)
        if checkpoint is not None:  # None on the other DDP processes
            for path in checkpoint.path.iterdir():
                with open(path, "rb") as written:
                    os.fsync(written.fileno())
            os.replace(
                checkpoint.path / self.PENDING_META,
                checkpoint.path / METAFNAME,
            )
        return checkpoint


@register_checkpoint_hooks
class RandomState:
    """Makes the global random state of torch, numpy and ``random`` part of
    a checkpoint, so that a resumed run draws the same dropout masks and
    the same time masks (transformers draws those with numpy) as an
    uninterrupted one.

    Example
    -------
    >>> import random, tempfile
    >>> state = RandomState()
    >>> path = Path(tempfile.mkdtemp()) / "rng.ckpt"
    >>> state.save(path)
    >>> first = torch.rand(1), np.random.rand(), random.random()
    >>> state.load(path)
    >>> second = torch.rand(1), np.random.rand(), random.random()
    >>> torch.equal(first[0], second[0]) and first[1:] == second[1:]
    True
    """

    @mark_as_saver
    def save(self, path):
        """Store the three generators' states (plain tensors and numbers,
        so that loading needs no unpickling)."""
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        version, internal, gauss_next = random.getstate()
        torch.save(
            {
                "torch": torch.get_rng_state(),
                "numpy": [kind, torch.from_numpy(keys.astype(np.int64))]
                + [pos, has_gauss, gauss],
                "random": [version, list(internal), gauss_next],
            },
            path,
        )

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Restore the three generators' states."""
        del end_of_epoch  # the state is restored as it was saved either way
        state = torch.load(path, weights_only=True)
        torch.set_rng_state(state["torch"])
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state(
            (kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss)
        )
        version, internal, gauss_next = state["random"]
        random.setstate((version, tuple(internal), gauss_next))


# Adaptor settings that must agree between a stage-one run and the stage-two
# model that loads it (a setting only matters when its adaptor is used).
STAGE_ONE_SETTINGS = {
    "lora": ("lora_rank", "lora_alpha", "lora_targets"),
    "bottleneck": ("bottleneck_size",),
    "gating": ("gating_init",),
}
ENCODER_GEOMETRY = ("model_type", "hidden_size", "num_layers")


def read_run_config(run_dir):
    """The ``run.json`` of a finished run, with a clear error otherwise."""
    run_dir = Path(run_dir)
    if (
        not (run_dir / RUN_CONFIG).is_file()
        or not (run_dir / RUN_WEIGHTS).is_file()
    ):
        raise CheckpointMismatchError(
            f"{run_dir} is not a finished run: it needs {RUN_CONFIG} and "
            f"{RUN_WEIGHTS}, written when a recipe completes"
        )
    return json.loads((run_dir / RUN_CONFIG).read_text())


def _stage_one_problems(parent, ours):
    problems = [
        f"{key}: {parent.get(key)} vs {ours.get(key)}"
        for key in ENCODER_GEOMETRY
        if parent.get(key) != ours.get(key)
    ]
    for adapter in parent["adapters"]:
        if adapter not in ours["adapters"]:
            problems.append(f"adaptor {adapter} missing in this model")
        for key in STAGE_ONE_SETTINGS.get(adapter, ()):
            if parent.get(key) != ours.get(key):
                problems.append(f"{key}: {parent.get(key)} vs {ours.get(key)}")
    if parent.get("adapter_layers") != ours.get("adapter_layers"):
        problems.append("adapter_layers differ")
    if parent.get("peft_config") != ours.get("peft_config"):
        problems.append("peft_config differs")
    return problems


def _map_output_rows(head, weights, source_labels, target_labels, label_map):
    """Copy the stage-one output rows of mapped classes; the others keep
    their fresh initialisation."""
    unknown = sorted(set(label_map) - set(source_labels))
    unknown += sorted(set(label_map.values()) - set(target_labels))
    if unknown:
        raise ValueError(
            f"label_map names {unknown}, which are not in the stage-one "
            f"labels {source_labels} or this run's labels {target_labels}"
        )
    layer = head.mlp[-1]
    with torch.no_grad():
        for source, target in label_map.items():
            row = source_labels.index(source)
            layer.weight[target_labels.index(target)] = weights["weight"][row]
            layer.bias[target_labels.index(target)] = weights["bias"][row]


def init_from_run(
    run_dir,
    encoder,
    head,
    label_map=None,
    target_labels=None,
    freeze_loaded=False,
):
    """Start stage two from a stage-one run: load its adaptors and head.

    Arguments
    ---------
    run_dir : str or pathlib.Path
        The finished stage-one run.
    encoder : speechbrain_peft.encoder.PEFTEncoder
        Stage two's lobe: same encoder, every stage-one adaptor with the
        same settings, possibly more adaptors.
    head : speechbrain_peft.heads.EmotionHead
        Stage two's head. Its hidden layer is loaded; for categorical tasks
        the output row of each stage-two class that ``label_map`` reaches is
        the stage-one row of its source class, the others stay fresh.
    label_map : dict, optional
        Stage-one label to stage-two label (categorical tasks).
    target_labels : list of str, optional
        Stage two's labels, in output order (categorical tasks).
    freeze_loaded : bool
        Keep the loaded encoder adaptors fixed during stage two.

    Returns
    -------
    dict
        Lineage for ``results.json``: path, sha256 of the stage-one
        weights, its run description, the label map and the freeze flag.
    """
    run_dir = Path(run_dir).resolve()
    config = read_run_config(run_dir)
    problems = _stage_one_problems(
        config["encoder_config"], encoder.config_summary
    )
    if problems:
        raise CheckpointMismatchError(
            f"Stage-one run {run_dir} does not fit this model "
            f"({'; '.join(problems)}).\n  stage one: "
            f"{json.dumps(config['encoder_config'], sort_keys=True)}\n"
            f"  this run:  "
            f"{json.dumps(encoder.config_summary, sort_keys=True)}"
        )
    weights_path = run_dir / RUN_WEIGHTS
    tensors = load_file(weights_path)
    loaded = {
        name.removeprefix("encoder."): tensor
        for name, tensor in tensors.items()
        if name.startswith("encoder.")
    }
    params = dict(encoder.named_parameters())
    with torch.no_grad():
        for name, tensor in loaded.items():
            params[name].copy_(tensor)
            if freeze_loaded:
                params[name].requires_grad_(False)

    head_weights = {
        name.removeprefix("head."): tensor
        for name, tensor in tensors.items()
        if name.startswith("head.")
    }
    output = str(len(head.mlp) - 1)
    hidden = {
        k: v
        for k, v in head_weights.items()
        if not k.startswith(f"mlp.{output}")
    }
    head.load_state_dict(hidden, strict=False)
    final = {
        k.rsplit(".", 1)[1]: v
        for k, v in head_weights.items()
        if k.startswith(f"mlp.{output}")
    }
    if config["task"] == "categorical":
        if label_map is None or target_labels is None:
            raise ValueError(
                "A categorical stage two needs `label_map` (stage-one label "
                f"-> this run's label); stage one has {config['label_set']}"
            )
        _map_output_rows(
            head, final, config["label_set"], target_labels, label_map
        )
    else:
        head.mlp[-1].load_state_dict(final)
    return {
        "path": str(run_dir),
        "sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
        "run_info": config.get("run_info"),
        "label_map": label_map,
        "frozen": bool(freeze_loaded),
    }
