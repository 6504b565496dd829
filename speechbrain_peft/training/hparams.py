"""A recipe's hparams: the command line, the configuration files and
their resolved configuration.

Each corpus keeps the settings its recipes share in
``recipes/<CORPUS>/hparams/train.yaml``. A configuration file
(``lora.yaml``, ``combo.yaml``, ``stage2_from_iemocap.yaml``...) starts
with ``extends: train.yaml`` and holds only what makes it: it is a
HyperPyYAML overrides document of the shared file (SpeechBrain's own
mechanism for ``--key value``), merged as HyperPyYAML merges overrides
(mappings key by key, anything else replaced), and the command line's
overrides go on top. A file without ``extends`` stands alone. The
resolved configuration (``hyperparams.yaml`` of a run) is always whole.

The method configurations are written once, in ``recipes/methods/``:
``recipes/<CORPUS>/hparams/lora.yaml``, when the recipe's folder holds
no such file, is ``recipes/methods/lora.yaml`` extending that recipe's
``train.yaml`` (see :func:`config_source`). A corpus adds its
``train.yaml``, and every method runs on it.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import dataclasses
import datetime
import difflib
import re
import sys
from pathlib import Path

import ruamel.yaml
import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml, resolve_references
from hyperpyyaml.core import recursive_update

from speechbrain_peft.adapters import nest_flat_overrides
from speechbrain_peft.runs.artifact import read_run_config
from speechbrain_peft.runs.experiment import (
    plain_config,
    plain_values,
    read_resolved_config,
)
from speechbrain_peft.utils.errors import ConfigError
from speechbrain_peft.utils.files import atomic_write_text

# The key of a configuration file that names the shared file it overrides.
EXTENDS = "extends"
# The folder of the method configurations, beside the recipes' folders.
METHODS = "methods"
# Ours, not SpeechBrain's run option: move a run of another identity aside.
START_OVER = "--start_over"
# Ours too: a run that already finished with this identity is not run
# again (its results stand); what a study passes to every run.
SKIP_FINISHED = "--skip_finished"


def hparams_layers(hparams_file):
    """The shared file a configuration file extends, and what it sets.

    Returns
    -------
    base : pathlib.Path
        The file HyperPyYAML loads (``hparams_file`` itself when it does
        not extend another).
    layer : dict
        The configuration file's overrides of ``base`` (``{}`` without
        ``extends``), tags such as ``!ref`` kept.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "train.yaml").write_text("lr: 0.1\\nadapters: {}\\n")
    >>> _ = (folder / "lora.yaml").write_text(
    ...     "extends: train.yaml\\nadapters: {lora: {rank: 4}}\\n")
    >>> base, layer = hparams_layers(folder / "lora.yaml")
    >>> base.name, dict(layer)
    ('train.yaml', {'adapters': {'lora': {'rank': 4}}})
    >>> resolve_config(folder / "lora.yaml", {"lr": 0.5})
    {'lr': 0.5, 'adapters': {'lora': {'rank': 4}}}
    """
    path = Path(hparams_file)
    source = config_source(path)
    layer = ruamel.yaml.YAML(typ="rt").load(source.read_text()) or {}
    base = layer.pop(EXTENDS, None) if isinstance(layer, dict) else None
    if base is None:
        return source, {}
    return path.parent / base, layer


def config_source(hparams_file):
    """The file that holds the configuration ``hparams_file`` names:
    itself when it exists, else, for ``recipes/<CORPUS>/hparams/<name>``,
    the method configuration ``recipes/methods/<name>`` (whose ``extends``
    then means the recipe's own file); else ``hparams_file`` (reading it
    fails naming it).

    Example
    -------
    >>> import tempfile
    >>> recipes = Path(tempfile.mkdtemp())
    >>> (recipes / "methods").mkdir()
    >>> (recipes / "Toy" / "hparams").mkdir(parents=True)
    >>> _ = (recipes / "methods" / "lora.yaml").write_text(
    ...     "extends: train.yaml\\nadapters: {lora: {}}\\n")
    >>> _ = (recipes / "Toy" / "hparams" / "train.yaml").write_text(
    ...     "adapters: {}\\n")
    >>> lora = recipes / "Toy" / "hparams" / "lora.yaml"
    >>> config_source(lora).relative_to(recipes).as_posix()
    'methods/lora.yaml'
    >>> base, layer = hparams_layers(lora)
    >>> base.relative_to(recipes).as_posix(), dict(layer)
    ('Toy/hparams/train.yaml', {'adapters': {'lora': {}}})
    """
    path = Path(hparams_file)
    if path.is_file() or path.parent.name != "hparams":
        return path
    method = path.resolve().parents[2] / METHODS / path.name
    return method if method.is_file() else path


def resolved_text(hparams_file, overrides=None):
    """The configuration of ``hparams_file`` (its shared file, its own
    overrides, then ``overrides``) with references resolved, as YAML text:
    what a run saves as ``hyperparams.yaml``."""
    base, layer = hparams_layers(hparams_file)
    recursive_update(layer, dict(overrides or {}), must_match=False)
    with open(base, encoding="utf-8") as handle:
        return resolve_references(handle, layer).getvalue()


def settings_named(hparams_file):
    """The settings a configuration file and its shared file name, as
    written (references unresolved): what an override may set.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "train.yaml").write_text("lr: 0.1\\nout: !ref r<lr>\\n")
    >>> _ = (folder / "a.yaml").write_text("extends: train.yaml\\nrank: 4\\n")
    >>> sorted(settings_named(folder / "a.yaml"))
    ['lr', 'out', 'rank']
    """
    base, layer = hparams_layers(hparams_file)
    return {**read_resolved_config(base), **plain_values(layer)}


def resolve_config(hparams_file, overrides=None):
    """:func:`resolved_text` as plain JSON types, without building any
    object (so it can be checked before anything runs)."""
    return plain_config(resolved_text(hparams_file, overrides))


def parse_arguments(recipe_file, argv=None):
    """SpeechBrain's command line, with the hparams path also looked up in
    the recipe's folder (so ``python recipes/IEMOCAP/train.py
    hparams/lora.yaml`` works from the repository root), and an adaptor's
    setting given the short way (``--lora_rank 16`` for
    ``adapters.lora.rank``; see
    :func:`~speechbrain_peft.adapters.nest_flat_overrides`).

    Arguments
    ---------
    recipe_file : str
        ``__file__`` of the calling ``train.py``.
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.

    Returns
    -------
    hparams_file : pathlib.Path
    run_opts : dict
    overrides : dict
    """
    argv = sys.argv[1:] if argv is None else argv
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    path = Path(hparams_file)
    if not config_source(path).is_file():
        beside_recipe = Path(recipe_file).resolve().parent / hparams_file
        if not config_source(beside_recipe).is_file():
            raise ConfigError(
                f"hparams file {hparams_file} not found in {Path.cwd()}, "
                f"in {beside_recipe.parent} nor, as a method, in "
                f"{beside_recipe.resolve().parents[2] / METHODS}"
            )
        path = beside_recipe
    try:
        overrides = ruamel.yaml.YAML(typ="safe").load(overrides or "") or {}
    except ruamel.yaml.constructor.DuplicateKeyError as error:
        raise ConfigError(
            f"A setting is given twice on the command line ({error.problem})"
        ) from error
    config = settings_named(path)
    overrides = nest_flat_overrides(
        overrides, list(config.get("adapters") or {})
    )
    check_override_names(overrides, config, path)
    if "parent_name" in config and "parent_name" not in overrides:
        init_from = overrides.get("init_from", config.get("init_from"))
        if isinstance(init_from, str):
            overrides["parent_name"] = parent_run_name(init_from)
    return path, run_opts, overrides


def parent_run_name(run_dir):
    """How a stage two's default output folder names its parent: the
    parent's corpus, configuration, fold and seed, so that stage twos from
    different stage-one runs never share a folder.

    Example
    -------
    >>> import json, tempfile
    >>> from speechbrain_peft.runs.artifact import RUN_CONFIG, RUN_WEIGHTS
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / RUN_WEIGHTS).write_bytes(b"")
    >>> _ = (run / RUN_CONFIG).write_text(json.dumps({"run_info": {
    ...     "corpus": "IEMOCAP", "config": "combo", "fold": 2, "seed": 7}}))
    >>> parent_run_name(run)
    'IEMOCAP_combo_fold2_seed7'
    """
    info = read_run_config(run_dir).get("run_info") or {}
    return run_name(
        info.get("corpus"),
        info.get("config"),
        info.get("fold"),
        info.get("seed"),
    )


def run_name(corpus, config, fold, seed):
    """``<corpus>_<config>[_fold<k>]_seed<s>``: a run's place in a study.

    Example
    -------
    >>> run_name("MSP-Podcast", "lora", None, 1)
    'MSP-Podcast_lora_seed1'
    """
    parts = [corpus, config] + ([] if fold is None else [f"fold{fold}"])
    return "_".join(str(part) for part in [*parts, f"seed{seed}"])


def check_override_names(overrides, config, hparams_file):
    """Refuse an override that names no setting of the hparams file (a typo
    hyperpyyaml would silently ignore), suggesting the closest names.

    Example
    -------
    >>> check_override_names({"lr_rate": 0.1}, {"lr": 0.0001}, "lora.yaml")
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: --lr_rate is not a setting of ...
    """
    for name in overrides:
        if name not in config:
            close = difflib.get_close_matches(name, list(config), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"--{name} is not a setting of {hparams_file} (nor a "
                f"SpeechBrain run option){hint}"
            )


@dataclasses.dataclass
class ResolvedConfig:
    """A run's configuration as resolved at its start (overrides applied,
    references resolved): the text saved as ``hyperparams.yaml`` and, in
    ``values``, the same as plain JSON types (see
    :func:`~speechbrain_peft.runs.experiment.plain_config`)."""

    source: Path
    text: str
    values: dict = dataclasses.field(init=False)

    def __post_init__(self):
        self.values = plain_config(self.text)

    def save(self, folder):
        """Write ``hyperparams.yaml`` into a run folder, as SpeechBrain
        does."""
        base, _ = hparams_layers(self.source)
        sources = dict.fromkeys([config_source(self.source), base])
        header = (
            f"# Generated {datetime.date.today()} from:\n"
            + "".join(f"# {path.resolve()}\n" for path in sources)
            + "# yamllint disable\n"
        )
        atomic_write_text(Path(folder) / "hyperparams.yaml", header + self.text)


def load_hparams(hparams_file, overrides):
    """Load a HyperPyYAML file, naming any ``!PLACEHOLDER`` left unset; the
    resolved configuration rides along under ``resolved_config`` (see
    :class:`ResolvedConfig`).

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "h.yaml"
    >>> _ = path.write_text("data_folder: !PLACEHOLDER\\nseed: 1\\n")
    >>> hparams = load_hparams(path, {"data_folder": "/corpora/x"})
    >>> hparams["data_folder"], hparams["resolved_config"].values["seed"]
    ('/corpora/x', 1)
    >>> load_hparams(path, {})
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: ...must be set...--data_folder...
    """
    with placeholders_named(hparams_file):
        text = resolved_text(hparams_file, overrides)
        hparams = load_hyperpyyaml(text)
    hparams["resolved_config"] = ResolvedConfig(Path(hparams_file), text)
    return hparams


@contextlib.contextmanager
def placeholders_named(hparams_file):
    """Turn hyperpyyaml's error for an unset ``!PLACEHOLDER`` into one that
    names every unset key and the command-line options that set them."""
    try:
        yield
    except ValueError as error:
        if "PLACEHOLDER" not in str(error):
            raise
        base, layer = hparams_layers(hparams_file)
        text = base.read_text()
        unset = [
            key
            for key in re.findall(r"^(\w+):\s*!PLACEHOLDER", text, re.MULTILINE)
            if key not in layer or _is_placeholder(layer[key])
        ]
        unset += [key for key, value in layer.items() if _is_placeholder(value)]
        unset = list(dict.fromkeys(unset))
        hint = " ".join(f"--{key} ..." for key in unset)
        raise ConfigError(
            f"{hparams_file}: {unset} must be set; pass them on the "
            f"command line ({hint}) or edit the YAML"
        ) from error


def _is_placeholder(value):
    tag = getattr(getattr(value, "tag", None), "value", None)
    return tag == "!PLACEHOLDER"
