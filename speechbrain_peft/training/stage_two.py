"""Stage two of the acted-to-natural recipe: start from a finished
stage-one run.

The stage-two model must hold every stage-one adaptor with the same
settings on the same encoder geometry; it may add adaptors of other kinds.
Per adaptor it decides, and reports in the log and in ``results.json``:

* **loaded** from stage one, or **fresh** (an adaptor stage one did not
  have starts from its own identity initialisation);
* **trained** in stage two, or **frozen** (``freeze_stage1``: ``True``
  freezes every loaded adaptor, a list such as ``[lora]`` freezes those,
  ``False`` none). Fresh adaptors always train.

The head's hidden layer is loaded; for a categorical task the output row
of each class ``label_map`` reaches is the stage-one row of its source
class, the other rows stay fresh. The head always trains.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging

import torch

from speechbrain_peft.adapters import METHODS, owner_of
from speechbrain_peft.model.saved_tensors import CheckpointMismatchError
from speechbrain_peft.utils.errors import ConfigError

logger = logging.getLogger(__name__)

ENCODER_GEOMETRY = ("model_type", "hidden_size", "num_layers")
HEAD = "head"


def _stage_one_problems(parent, ours):
    """What keeps a stage-one lobe's tensors from fitting this lobe: the
    encoder geometry, the adapted layers, and each stage-one adaptor's
    settings that its method says a stage two must share."""
    problems = [
        f"{key}: {parent.get(key)} vs {ours.get(key)}"
        for key in ENCODER_GEOMETRY
        if parent.get(key) != ours.get(key)
    ]
    for name, settings in parent["adapters"].items():
        if name not in ours["adapters"]:
            problems.append(f"adaptor {name} missing in this model")
            continue
        fields = METHODS[name].stage_two_fields or settings
        problems += [
            f"{name}.{field}: {settings.get(field)} vs "
            f"{ours['adapters'][name].get(field)}"
            for field in fields
            if settings.get(field) != ours["adapters"][name].get(field)
        ]
    if parent.get("adapter_layers") != ours.get("adapter_layers"):
        problems.append("adapter_layers differ")
    return problems


def shared_label_map(source_labels, target_labels):
    """The label map of a stage two that declares none: every class the
    two label sets both hold (the same shared code) maps to itself; the
    others are not mapped (logged).

    Example
    -------
    >>> shared_label_map(["neu", "cal", "ang"], ["ang", "neu", "bor"])
    {'neu': 'neu', 'ang': 'ang'}
    """
    shared = {label: label for label in source_labels if label in target_labels}
    if not shared:
        raise ConfigError(
            f"The stage-one labels {list(source_labels)} and this run's "
            f"{list(target_labels)} share no class; give label_map "
            "(stage-one label -> this run's label)"
        )
    logger.info(
        "Stage two: label_map null maps the shared classes %s to "
        "themselves; not mapped: stage one's %s, this run's %s",
        list(shared),
        [label for label in source_labels if label not in shared],
        [label for label in target_labels if label not in shared],
    )
    return shared


def frozen_adaptors(freeze_stage1, loaded):
    """The loaded adaptors to keep fixed.

    Arguments
    ---------
    freeze_stage1 : bool or list of str
        True: all loaded adaptors; False: none; a list: those.
    loaded : list of str
        The adaptors loaded from stage one.

    Returns
    -------
    list of str

    Example
    -------
    >>> frozen_adaptors(True, ["lora", "gating"])
    ['lora', 'gating']
    >>> frozen_adaptors(["bottleneck"], ["lora"])
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: freeze_stage1 names [...
    """
    if isinstance(freeze_stage1, bool) or freeze_stage1 is None:
        return list(loaded) if freeze_stage1 else []
    wanted = (
        [freeze_stage1]
        if isinstance(freeze_stage1, str)
        else list(freeze_stage1)
    )
    unknown = [name for name in wanted if name not in loaded]
    if unknown:
        raise ConfigError(
            f"freeze_stage1 names {unknown}, which stage one did not train "
            f"(its adaptors: {list(loaded)}); list some of those, or use "
            "True (all) or False (none)"
        )
    return wanted


def adaptor_table(encoder, loaded, frozen):
    """One row per adaptor of ``encoder`` (and the head): loaded or fresh,
    trained or frozen, and its parameter count."""
    sizes = {}
    for name, param in encoder.named_parameters():
        if name in encoder.adaptor_names:
            owner = owner_of(name)
            sizes[owner] = sizes.get(owner, 0) + param.numel()
    return [
        {
            "adaptor": owner,
            "stage_one": "loaded" if owner in loaded else "fresh",
            "stage_two": "frozen" if owner in frozen else "trained",
            "parameters": count,
        }
        for owner, count in sorted(sizes.items())
    ]


def format_table(rows):
    """The per-adaptor table as aligned text lines for the log.

    Example
    -------
    >>> print(format_table([{"adaptor": "lora", "stage_one": "loaded",
    ...     "stage_two": "frozen", "parameters": 96}]))
    adaptor  stage one  stage two  parameters
    lora     loaded     frozen             96
    """
    header = ["adaptor", "stage one", "stage two", "parameters"]
    cells = [header] + [
        [r["adaptor"], r["stage_one"], r["stage_two"], str(r["parameters"])]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    return "\n".join(
        "  ".join(
            [
                *(c.ljust(w) for c, w in zip(row[:3], widths)),
                row[3].rjust(widths[3]),
            ]
        ).rstrip()
        for row in cells
    )


def _split_weights(tensors, prefix):
    return {
        name.removeprefix(prefix): tensor
        for name, tensor in tensors.items()
        if name.startswith(prefix)
    }


def init_from_run(
    parent,
    encoder,
    head,
    label_map=None,
    target_labels=None,
    freeze_stage1=False,
):
    """Start stage two from a stage-one run: load its adaptors and head.

    Arguments
    ---------
    parent : speechbrain_peft.runs.finished.FinishedRun
        The finished stage-one run.
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        Stage two's lobe: same encoder, every stage-one adaptor with the
        same settings, possibly more adaptors.
    head : speechbrain_peft.model.heads.EmotionHead
        Stage two's head (see :meth:`EmotionHead.load_stage_one`).
    label_map : dict, optional
        Stage-one label to stage-two label (categorical tasks); None maps
        the classes both label sets hold (see :func:`shared_label_map`).
    target_labels : list of str, optional
        Stage two's labels, in output order (categorical tasks).
    freeze_stage1 : bool or list of str
        Loaded adaptors to keep fixed (see :func:`frozen_adaptors`).

    Returns
    -------
    dict
        Lineage for ``results.json``: path, sha256 of the stage-one
        weights, its run description, the label map, the frozen adaptors
        and the per-adaptor table.
    """
    run_dir, config = parent.path, parent.config
    problems = _stage_one_problems(
        config["encoder_config"], encoder.config_summary
    )
    parent_hidden = config["head"]["hidden_size"]
    if parent_hidden != head.init_kwargs["hidden_size"]:
        problems.append(
            f"head hidden_size: {parent_hidden} vs "
            f"{head.init_kwargs['hidden_size']}"
        )
    if problems:
        raise CheckpointMismatchError(
            f"Stage-one run {run_dir} does not fit this model "
            f"({'; '.join(problems)}).\n  stage one: "
            f"{json.dumps(config['encoder_config'], sort_keys=True)}\n"
            f"  this run:  "
            f"{json.dumps(encoder.config_summary, sort_keys=True)}"
        )
    loaded = list(config["encoder_config"]["adapters"])
    frozen = frozen_adaptors(freeze_stage1, loaded)
    tensors = parent.tensors
    params = dict(encoder.named_parameters())
    with torch.no_grad():
        for name, tensor in _split_weights(tensors, "encoder.").items():
            params[name].copy_(tensor)
            if owner_of(name) in frozen:
                params[name].requires_grad_(False)
    if config["task"] == "categorical" and label_map is None:
        label_map = shared_label_map(config["label_set"], target_labels)
    head.load_stage_one(
        _split_weights(tensors, "head."),
        config.get("label_set") if config["task"] == "categorical" else None,
        target_labels,
        label_map,
    )
    table = adaptor_table(encoder, loaded, frozen)
    table.append(
        {
            "adaptor": HEAD,
            "stage_one": "loaded",
            "stage_two": "trained",
            "parameters": sum(p.numel() for p in head.parameters()),
        }
    )
    logger.info(
        "Stage two from %s, per adaptor:\n%s", run_dir, format_table(table)
    )
    return {
        "path": str(run_dir),
        "sha256": parent.weights_sha256,
        "run_info": config.get("run_info"),
        "label_map": label_map,
        "frozen": bool(frozen),
        "frozen_adaptors": frozen,
        "adaptors": table,
    }
