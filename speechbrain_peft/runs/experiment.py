"""What makes two runs the same experiment.

A results table may only average runs that differ in fold and seed. So
every run records its *settings*: its whole resolved configuration (the
``hyperparams.yaml`` SpeechBrain writes into the output folder, overrides
applied, references resolved) without the fold, the seed and anything
that only says where files live, with the encoder named by its weights
(a hub id and commit, or the hash of a local folder's weight files), the
SpeechBrain run options that change numbers (precision, evaluation
precision, ``--debug``, a ``--grad_accumulation_factor`` given on the
command line...) at the values the run used, and a stage two's parent
named by the parent's experiment. The settings' hash is the experiment
id that :mod:`speechbrain_peft.results` groups by.

The id depends on what changes numbers, not on where code lives: the
bookkeeping objects (checkpointer, train logger, epoch counter, whose
limit is ``number_of_epochs``) are left out, and a class of this package
is named by its class name alone, so moving or renaming a module keeps
the id. Another optimizer or scheduler class (named with its full path)
changes it.

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import json
from pathlib import Path

import ruamel.yaml

# What varies inside one experiment.
RUN_KEYS = ("fold", "seed")
# Where things live: their values (and anything below them) are not
# settings. The encoder source is one too, when it is a local folder: its
# weights name it instead.
PATH_KEYS = (
    "data_folder",
    "output_folder",
    "save_folder",
    "train_log",
    "manifest_folder",
    "encoder_cache",
    "feature_cache_folder",
    "init_from",
)
# Settings that change how a run is carried out, not its numbers.
OPERATIONAL_KEYS = (
    "num_workers",
    "ckpt_interval_minutes",
    "ckpt_interval_steps",
)
# Objects that keep the books of a run: how they are built (and from which
# import path) changes no number.
BOOKKEEPING_KEYS = ("checkpointer", "train_logger", "epoch_counter")
# SpeechBrain run options (command line or YAML) that change numbers, with
# SpeechBrain's defaults; the ``debug_*`` ones count only under ``debug``.
NUMERIC_RUN_OPTIONS = {
    "precision": "fp32",
    "eval_precision": "fp32",
    "auto_mix_prec": False,
    "grad_accumulation_factor": 1,
    "max_grad_norm": 5.0,
    "skip_nonfinite_grads": False,
    "optimizer_step_limit": None,
    "remove_vector_weight_decay": False,
    "debug": False,
    "debug_batches": 2,
    "debug_epochs": 2,
}
DEBUG_OPTIONS = ("debug_batches", "debug_epochs")
TAG = "!"
OWN_PACKAGE = "speechbrain_peft."


def plain_values(node):
    """ruamel's round-trip tree as JSON types; a tagged node keeps its tag
    under ``"!"`` (``!new:...EmotionHead`` -> ``{"!": "!new:...", ...}``)."""
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, dict):
        plain = {str(key): plain_values(value) for key, value in node.items()}
    elif isinstance(node, list):
        plain = [plain_values(value) for value in node]
    elif isinstance(node, bool) or node is None:
        return node
    elif isinstance(node, int | float):
        return int(node) if isinstance(node, int) else float(node)
    else:
        plain = str(node)
    if tag and not tag.startswith("tag:yaml.org"):
        return (
            {TAG: tag, "value": plain}
            if not isinstance(plain, dict)
            else {TAG: tag, **plain}
        )
    return plain


def plain_config(text):
    """A resolved YAML text as plain JSON types, object tags kept under
    ``"!"``.

    Example
    -------
    >>> plain_config("lr: 0.1\\nopt: !name:torch.optim.AdamW\\n  lr: 0.1\\n")
    {'lr': 0.1, 'opt': {'!': '!name:torch.optim.AdamW', 'lr': 0.1}}
    """
    return plain_values(ruamel.yaml.YAML(typ="rt").load(text) or {})


def read_resolved_config(path):
    """The resolved configuration a run saved as ``hyperparams.yaml``, as
    plain JSON types.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "hyperparams.yaml"
    >>> _ = path.write_text(
    ...     "lr: 0.01\\nhead: !name:speechbrain_peft.model.heads.EmotionHead\\n"
    ...     "    hidden_size: 256\\n")
    >>> read_resolved_config(path)["head"]
    {'!': '!name:speechbrain_peft.model.heads.EmotionHead', 'hidden_size': 256}
    """
    return plain_config(Path(path).read_text())


def _drop_paths(node, paths):
    """``node`` without the strings that are (or lie below) one of
    ``paths``."""
    if isinstance(node, dict):
        return {
            key: _drop_paths(value, paths)
            for key, value in node.items()
            if not _is_path(value, paths)
        }
    if isinstance(node, list):
        return [_drop_paths(value, paths) for value in node]
    return node


def _is_path(value, paths):
    return isinstance(value, str) and any(
        value == path or value.startswith(path.rstrip("/") + "/")
        for path in paths
    )


def numeric_run_options(run_opts, hparams):
    """The values a run used for the SpeechBrain run options that change
    numbers: the command line's, else the YAML's, else SpeechBrain's
    default (the order ``Brain`` reads them in).

    Example
    -------
    >>> options = numeric_run_options({"precision": "bf16"},
    ...                               {"grad_accumulation_factor": 4})
    >>> options["precision"], options["grad_accumulation_factor"]
    ('bf16', 4)
    >>> "debug_batches" in options, "debug_batches" in numeric_run_options(
    ...     {"debug": True}, {})
    (False, True)
    """
    options = {
        key: run_opts.get(key, hparams.get(key, default))
        for key, default in NUMERIC_RUN_OPTIONS.items()
    }
    if not options["debug"]:
        for key in DEBUG_OPTIONS:
            del options[key]
    return options


def _location_free(node):
    """``node`` with this package's class tags reduced to the class name
    (``!new:speechbrain_peft.model.heads.EmotionHead`` ->
    ``!new:EmotionHead``)."""
    if isinstance(node, list):
        return [_location_free(value) for value in node]
    if not isinstance(node, dict):
        return node
    plain = {key: _location_free(value) for key, value in node.items()}
    tag = plain.get(TAG)
    if isinstance(tag, str) and ":" in tag:
        kind, path = tag.split(":", 1)
        if path.startswith(OWN_PACKAGE):
            plain[TAG] = f"{kind}:{path.rsplit('.', 1)[-1]}"
    return plain


def experiment_settings(config, encoder, run_options=None, parent=None):
    """The settings that identify a run's experiment.

    Arguments
    ---------
    config : dict
        The run's resolved configuration (see :func:`plain_config`).
    encoder : dict
        The encoder's identity: ``{"id": ..., "revision": ...}`` (see
        :func:`speechbrain_peft.model.pretrained.encoder_identity`).
    run_options : dict, optional
        The run options that change numbers, as the run used them (see
        :func:`numeric_run_options`); they replace the YAML's values.
    parent : str, optional
        The experiment id of a stage two's parent run.

    Returns
    -------
    dict

    Example
    -------
    >>> config = {"seed": 3, "fold": 2, "lr": 0.1, "data_folder": "/c",
    ...           "manifest_folder": "m/fold2", "encoder_source": "/enc",
    ...           "prep": {"root": "/c/x", "subset": "all"},
    ...           "checkpointer": {"!": "!new:x.Checkpointer"},
    ...           "head": {"!": "!name:speechbrain_peft.heads.EmotionHead"}}
    >>> encoder = {"id": "enc", "revision": {"sha256": {"m": "ab"}}}
    >>> settings = experiment_settings(config, encoder, {"precision": "fp32"})
    >>> sorted(settings), settings["prep"], settings["head"]
    (['encoder', 'head', 'lr', 'precision', 'prep'], {'subset': 'all'}, \
{'!': '!name:EmotionHead'})
    """
    paths = [
        config[key]
        for key in PATH_KEYS
        if isinstance(config.get(key), str) and config[key]
    ]
    if "sha256" in encoder.get("revision", {}):
        paths.append(str(config.get("encoder_source")))
    left_out = RUN_KEYS + OPERATIONAL_KEYS + BOOKKEEPING_KEYS
    kept = {
        key: value
        for key, value in config.items()
        if key not in left_out + ("encoder_source",)
        and not key.startswith("__")
    }
    settings = _location_free(_drop_paths(kept, paths))
    settings.update(run_options or {})
    settings["encoder"] = encoder
    if parent is not None:
        settings["parent_experiment"] = parent
    return settings


def experiment_id(settings):
    """A short hash of ``settings`` (key order does not matter).

    Example
    -------
    >>> experiment_id({"a": 1, "b": [2]}) == experiment_id({"b": [2], "a": 1})
    True
    >>> len(experiment_id({}))
    12
    """
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def flatten(settings, prefix=""):
    """Nested settings as ``{"dotted.key": value}``; lists stay values.

    Example
    -------
    >>> flatten({"lr": 0.1, "encoder": {"id": "x", "rev": {"c": 1}}})
    {'lr': 0.1, 'encoder.id': 'x', 'encoder.rev.c': 1}
    """
    flat = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


# What names an experiment recorded before experiment ids existed.
LEGACY_KEYS = ("corpus", "config", "task")


def experiment_of(record):
    """``(id, settings)`` of the experiment a ``results.json`` or a run's
    ``run_info`` records; records written before ids existed get a
    ``legacy:`` id from ``(corpus, config, task)``.

    Example
    -------
    >>> experiment_of({"corpus": "C", "config": "lora", "task": "t"})
    ('legacy:C/lora/t', {})
    >>> experiment_of({"experiment": {"id": "ab12", "settings": {"lr": 1}}})
    ('ab12', {'lr': 1})
    """
    experiment = record.get("experiment")
    if isinstance(experiment, dict) and "id" in experiment:
        return str(experiment["id"]), experiment.get("settings") or {}
    named = (
        "" if record.get(k) is None else str(record[k]) for k in LEGACY_KEYS
    )
    return "legacy:" + "/".join(named), {}
