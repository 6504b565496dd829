"""What makes two runs the same experiment.

A results table may only average runs that differ in fold and seed. So
every run records its *settings*: its whole resolved configuration (the
``hyperparams.yaml`` SpeechBrain writes into the output folder, overrides
applied, references resolved) without the fold, the seed and anything
that only says where files live, with the encoder named by its weights
(a hub id and commit, or the hash of a local folder's weight files) and a
stage two's parent named by the parent's experiment. The settings'
hash is the experiment id that :mod:`speechbrain_peft.results` groups by.

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import json
from pathlib import Path

import ruamel.yaml
from hyperpyyaml import resolve_references

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
TAG = "!"


def _plain(node):
    """ruamel's round-trip tree as JSON types; a tagged node keeps its tag
    under ``"!"`` (``!new:...EmotionHead`` -> ``{"!": "!new:...", ...}``)."""
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, dict):
        plain = {str(key): _plain(value) for key, value in node.items()}
    elif isinstance(node, list):
        plain = [_plain(value) for value in node]
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


def resolve_config(hparams_file, overrides=None):
    """A hparams file's configuration with ``overrides`` applied and its
    references resolved, as plain JSON types, without building any of its
    objects (so it can be checked before anything runs).

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "h.yaml"
    >>> _ = path.write_text("fold: 1\\nout: !ref results/fold<fold>\\n")
    >>> resolve_config(path, {"fold": 9})["out"]
    'results/fold9'
    """
    with open(hparams_file, encoding="utf-8") as handle:
        text = resolve_references(handle, overrides).getvalue()
    return _plain(ruamel.yaml.YAML(typ="rt").load(text) or {})


def read_resolved_config(path):
    """The resolved configuration a run saved as ``hyperparams.yaml``, as
    plain JSON types.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "hyperparams.yaml"
    >>> _ = path.write_text(
    ...     "lr: 0.01\\nhead: !name:speechbrain_peft.heads.EmotionHead\\n"
    ...     "    hidden_size: 256\\n")
    >>> read_resolved_config(path)["head"]
    {'!': '!name:speechbrain_peft.heads.EmotionHead', 'hidden_size': 256}
    """
    tree = ruamel.yaml.YAML(typ="rt").load(Path(path).read_text())
    return _plain(tree or {})


def plain_values(hparams):
    """The entries of loaded hparams that are plain values (no objects): a
    configuration for runs started without a saved ``hyperparams.yaml``.

    Example
    -------
    >>> plain_values({"lr": 0.1, "tags": ["a"], "model": object()})
    {'lr': 0.1, 'tags': ['a']}
    """

    def plain(value):
        if isinstance(value, dict):
            return all(plain(v) for v in value.values())
        if isinstance(value, list | tuple):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    return {key: value for key, value in hparams.items() if plain(value)}


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


def experiment_settings(config, encoder, parent=None, precision="fp32"):
    """The settings that identify a run's experiment.

    Arguments
    ---------
    config : dict
        The run's resolved configuration (see :func:`read_resolved_config`).
    encoder : dict
        The encoder's identity: ``{"id": ..., "revision": ...}`` (see
        :func:`speechbrain_peft.encoder_source.encoder_identity`).
    parent : str, optional
        The experiment id of a stage two's parent run.
    precision : str
        The training precision (a SpeechBrain run option).

    Returns
    -------
    dict

    Example
    -------
    >>> config = {"seed": 3, "fold": 2, "lr": 0.1, "data_folder": "/c",
    ...           "manifest_folder": "m/fold2", "encoder_source": "/enc",
    ...           "prep": {"root": "/c/x", "subset": "all"}}
    >>> encoder = {"id": "enc", "revision": {"sha256": {"m": "ab"}}}
    >>> settings = experiment_settings(config, encoder)
    >>> sorted(settings), settings["prep"]
    (['encoder', 'lr', 'precision', 'prep'], {'subset': 'all'})
    """
    paths = [
        config[key]
        for key in PATH_KEYS
        if isinstance(config.get(key), str) and config[key]
    ]
    if "sha256" in encoder.get("revision", {}):
        paths.append(str(config.get("encoder_source")))
    kept = {
        key: value
        for key, value in config.items()
        if key not in RUN_KEYS + OPERATIONAL_KEYS + ("encoder_source",)
        and not key.startswith("__")
    }
    settings = _drop_paths(kept, paths)
    settings["encoder"] = encoder
    settings["precision"] = precision
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
