"""What every recipe ``train.py`` shares: finding and loading the hparams
file, and training + evaluating on prepared manifests.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import difflib
import json
import logging
import re
import sys
from pathlib import Path

import ruamel.yaml
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from data_prep.manifest import read_prep_info
from speechbrain_peft.adapters import nest_flat_overrides
from speechbrain_peft.brain import EmotionBrain
from speechbrain_peft.dataio import (
    DurationBucketSampler,
    create_datasets,
    durations_of,
    make_label_encoder,
)
from speechbrain_peft.encoder_source import encoder_identity
from speechbrain_peft.errors import ConfigError
from speechbrain_peft.experiment import (
    experiment_id,
    experiment_settings,
    plain_values,
    read_resolved_config,
    resolve_config,
)
from speechbrain_peft.feature_cache import make_feature_cache
from speechbrain_peft.lineage import (
    check_no_leak,
    read_trained_on,
    split_speakers,
    write_speakers,
)
from speechbrain_peft.outputs import parameter_summary, write_results
from speechbrain_peft.plots import plot_training_curves
from speechbrain_peft.run_artifact import read_run_config, save_run_artifact
from speechbrain_peft.stage_two import init_from_run

logger = logging.getLogger(__name__)


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
    if not path.is_file():
        beside_recipe = Path(recipe_file).resolve().parent / hparams_file
        if not beside_recipe.is_file():
            raise ConfigError(
                f"hparams file {hparams_file} not found in {Path.cwd()} nor "
                f"in {beside_recipe.parent}"
            )
        path = beside_recipe
    try:
        overrides = ruamel.yaml.YAML(typ="safe").load(overrides or "") or {}
    except ruamel.yaml.constructor.DuplicateKeyError as error:
        raise ConfigError(
            f"A setting is given twice on the command line ({error.problem})"
        ) from error
    config = read_resolved_config(path)
    overrides = nest_flat_overrides(
        overrides, list(config.get("adapters") or {})
    )
    check_override_names(overrides, config, path)
    return path, run_opts, overrides


def check_override_names(overrides, config, hparams_file):
    """Refuse an override that names no setting of the hparams file (a typo
    hyperpyyaml would silently ignore), suggesting the closest names.

    Example
    -------
    >>> check_override_names({"lr_rate": 0.1}, {"lr": 0.0001}, "lora.yaml")
    Traceback (most recent call last):
    ...
    speechbrain_peft.errors.ConfigError: --lr_rate is not a setting of ...
    """
    for name in overrides:
        if name not in config:
            close = difflib.get_close_matches(name, list(config), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"--{name} is not a setting of {hparams_file} (nor a "
                f"SpeechBrain run option){hint}"
            )


def load_hparams(hparams_file, overrides):
    """Load a HyperPyYAML file, naming any ``!PLACEHOLDER`` left unset.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "h.yaml"
    >>> _ = path.write_text("data_folder: !PLACEHOLDER\\nseed: 1\\n")
    >>> load_hparams(path, {"data_folder": "/corpora/x"})["data_folder"]
    '/corpora/x'
    >>> load_hparams(path, {})
    Traceback (most recent call last):
    ...
    speechbrain_peft.errors.ConfigError: ...must be set...--data_folder ...
    """
    with _placeholders_named(hparams_file):
        return load_hyperpyyaml(Path(hparams_file).read_text(), overrides)


@contextlib.contextmanager
def _placeholders_named(hparams_file):
    """Turn hyperpyyaml's error for an unset ``!PLACEHOLDER`` into one that
    names every unset key and the command-line options that set them."""
    try:
        yield
    except ValueError as error:
        if "PLACEHOLDER" not in str(error):
            raise
        text = Path(hparams_file).read_text()
        unset = re.findall(r"^(\w+):\s*!PLACEHOLDER", text, re.MULTILINE)
        hint = " ".join(f"--{key} ..." for key in unset)
        raise ConfigError(
            f"{hparams_file}: {unset} must be set; pass them on the "
            f"command line ({hint}) or edit the YAML"
        ) from error


def start_experiment(recipe_file, argv=None, check=None):
    """Parse the command line, load the hparams, check them, create the
    output folder.

    Arguments
    ---------
    recipe_file : str
        ``__file__`` of the calling ``train.py``.
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.
    check : callable, optional
        Called with the resolved configuration (plain values, see
        :func:`~speechbrain_peft.experiment.resolve_config`) before any
        object of the hparams is built or anything is written (e.g. a fold
        number check); raises to refuse it.

    Returns
    -------
    hparams : dict
    run_opts : dict
    """
    hparams_file, run_opts, overrides = parse_arguments(recipe_file, argv)
    if check is not None:
        with _placeholders_named(hparams_file):
            check(resolve_config(hparams_file, overrides))
    # Under torchrun: join the process group (a no-op in a single process).
    sb.utils.distributed.ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=str(hparams_file),
        overrides=overrides,
    )
    return hparams, run_opts


def prepare_data(prepare, hparams):
    """Run a corpus' data prep (on the main process only) with the recipe's
    corpus folder, manifest folder and ``prep_options``."""
    sb.utils.distributed.run_on_main(
        prepare,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            **hparams.get("prep_options", {}),
        },
    )


def train_and_evaluate(hparams, run_opts, manifests, protocol=None):
    """Build the datasets and the model (from a stage-one run for a stage
    two), fit, evaluate the best checkpoint on every non-training split,
    and write the run's results and artifact.

    Arguments
    ---------
    hparams : dict
        Loaded recipe hparams.
    run_opts : dict
        SpeechBrain run options.
    manifests : dict
        ``{split: csv}`` with ``train`` and ``dev`` plus test splits.
    protocol : dict, optional
        The run's place in a fold protocol: ``fold`` and ``folds`` (all the
        protocol's folds), stored in ``results.json``.

    Returns
    -------
    dict
        The content of ``results.json`` (None on the other DDP processes).
    """
    run = Run(hparams, manifests, protocol or {})
    if hparams.get("init_from"):
        run.start_from_parent(hparams["init_from"])
    brain = run.make_brain(run_opts)
    run.fit(brain)
    for split, dataset in run.datasets.items():
        if split != "train":
            brain.evaluate_split(split, dataset, **run.eval_loader_kwargs)
    if not sb.utils.distributed.if_main_process():
        return None
    return run.write(brain)


class Run:
    """One recipe run's data, model and records, built in named steps by
    :func:`train_and_evaluate`.

    Arguments
    ---------
    hparams : dict
        Loaded recipe hparams.
    manifests : dict
        ``{split: csv}``.
    protocol : dict
        ``fold`` and ``folds`` for a fold protocol, else empty.
    """

    def __init__(self, hparams, manifests, protocol):
        self.hparams = hparams
        self.task = hparams["task"]
        self.corpus = hparams["corpus"]
        self.run_info = {
            "config": hparams["config_name"],
            "corpus": self.corpus,
            **protocol,
            "seed": hparams["seed"],
            "data_folder": str(Path(hparams["data_folder"]).resolve()),
            "manifests": {
                split: str(Path(path).resolve())
                for split, path in manifests.items()
            },
        }
        self.label_encoder = self._label_encoder()
        self.label_names = (
            list(hparams["label_set"]) if self.label_encoder else None
        )
        self.scale = self._dimension_scale()
        self.datasets = self._create(manifests)
        self.scales = {split: self.scale for split in self.datasets}
        self.speakers = split_speakers(manifests)
        self.parent_trained_on = []
        self.encoder = hparams["encoder"]
        n_outputs = len(self.label_names) if self.label_names else 3
        self.head = hparams["head"](
            input_size=self.encoder.output_size, n_outputs=n_outputs
        )
        self.eval_loader_kwargs = {
            "batch_size": hparams["batch_size"],
            **self._loader_kwargs(),
        }

    def _label_encoder(self):
        if self.task != "categorical":
            return None
        return make_label_encoder(
            self.hparams["label_set"],
            Path(self.hparams["save_folder"]) / "label_encoder.txt",
        )

    def _dimension_scale(self):
        info = read_prep_info(self.hparams["manifest_folder"]) or {}
        scale = info.get("dimension_scale")
        if self.task == "dimensional" and scale is None:
            raise ConfigError(
                f"{self.corpus} has no dimensional labels; use "
                "task: categorical"
            )
        return scale

    def _create(self, manifests, **kwargs):
        options = {
            "label_encoder": self.label_encoder,
            "dimension_scale": self.scale,
            "sample_rate": self.hparams["sample_rate"],
            "max_duration": self.hparams.get("max_duration"),
            "data_root": self.hparams["data_folder"],
            **kwargs,
        }
        return create_datasets(manifests, self.task, **options)

    def _loader_kwargs(self):
        return {
            "num_workers": self.hparams.get("num_workers", 0),
            # Every loader iterator draws a worker base seed; drawn from its
            # own generator it leaves the global one (dropout, time masks)
            # alone, so a run resumed mid-epoch draws the masks of an
            # uninterrupted one.
            "generator": torch.Generator().manual_seed(self.hparams["seed"]),
        }

    def start_from_parent(self, parent_dir):
        """Stage two: refuse a parent that trained on this run's dev or
        test speakers, load its adaptors and head, and add its test sets
        (relabelled) as ``source_<split>``."""
        self.parent_trained_on = read_trained_on(parent_dir)
        check_no_leak(
            self.parent_trained_on,
            self.corpus,
            self.speakers,
            fold=self.run_info.get("fold"),
        )
        self.run_info["parent_run"] = init_from_run(
            parent_dir,
            self.encoder,
            self.head,
            label_map=self.hparams.get("label_map"),
            target_labels=self.label_names,
            freeze_stage1=self.hparams.get("freeze_stage1", False),
        )
        parent = read_run_config(parent_dir)
        info = parent["run_info"]
        tests = {
            f"source_{split}": path
            for split, path in info["manifests"].items()
            if split.startswith("test")
        }
        source = self._create(
            tests,
            dimension_scale=parent.get("dimension_scale"),
            data_root=info["data_folder"],
            label_map=self.run_info["parent_run"]["label_map"],
        )
        self.datasets.update(source)
        self.datasets.left_out.update(source.left_out)
        self.datasets.ids_sha256.update(source.ids_sha256)
        self.scales.update(
            {split: parent.get("dimension_scale") for split in source}
        )

    def make_brain(self, run_opts):
        """The :class:`EmotionBrain` of this run, with its sampler and, when
        asked for, its feature cache."""
        hparams = self.hparams
        hparams["checkpointer"].add_recoverable("head", self.head)
        brain = EmotionBrain(
            modules={"encoder": self.encoder, "head": self.head},
            opt_class=hparams["opt_class"],
            hparams=hparams,
            run_opts=run_opts,
            checkpointer=hparams["checkpointer"],
        )
        brain.label_names = self.label_names
        if hparams.get("cache_features"):
            brain.feature_cache = make_feature_cache(
                hparams["feature_cache_folder"],
                self.encoder,
                self.head,
                hparams.get("cache_dtype", "float32"),
                sample_rate=hparams["sample_rate"],
                max_duration=hparams.get("max_duration"),
            )
            if sb.utils.distributed.is_distributed_initialized() and (
                brain.feature_cache.kind != "pooled"
            ):
                raise ConfigError(
                    f"The {brain.feature_cache.kind} feature cache runs in a "
                    "single process (the pooled one, for frozen encoders "
                    "and heads that pool first, runs under DDP); drop "
                    "cache_features or run without torchrun"
                )
        brain.sampler = DurationBucketSampler(
            durations_of(self.datasets["train"]),
            hparams["batch_size"],
            seed=hparams["seed"],
        )
        return brain

    def fit(self, brain):
        """SpeechBrain's ``fit`` on the train and dev sets."""
        brain.fit(
            brain.hparams.epoch_counter,
            self.datasets["train"],
            self.datasets["dev"],
            train_loader_kwargs={
                "batch_sampler": brain.sampler,
                **self._loader_kwargs(),
            },
            valid_loader_kwargs=self.eval_loader_kwargs,
        )

    def experiment(self, brain):
        """This run's experiment: settings and id (see
        :mod:`speechbrain_peft.experiment`)."""
        saved = Path(self.hparams["output_folder"]) / "hyperparams.yaml"
        config = (
            read_resolved_config(saved)
            if saved.is_file()
            else plain_values(self.hparams)
        )
        parent = (self.run_info.get("parent_run") or {}).get("run_info")
        parent_id = None
        if parent is not None:
            parent_id = (parent.get("experiment") or {}).get("id") or (
                "legacy:"
                + "/".join(
                    str(parent.get(k)) for k in ("corpus", "config", "task")
                )
            )
        settings = experiment_settings(
            config,
            encoder_identity(
                self.encoder.source, self.encoder.ssl.model.config
            ),
            parent=parent_id,
            precision=getattr(brain, "precision", "fp32"),
        )
        return {"id": experiment_id(settings), "settings": settings}

    def write(self, brain):
        """Write ``results.json`` with the predictions and plots, the
        training curves, ``speakers.json`` and the run artifact."""
        out = Path(self.hparams["output_folder"])
        self.run_info["experiment"] = self.experiment(brain)
        encoder = getattr(brain.modules.encoder, "module", self.encoder)
        head = getattr(brain.modules.head, "module", self.head)
        record = {
            "kind": "training",
            **self.run_info,
            "manifest_ids_sha256": self.datasets.ids_sha256,
            "task": self.task,
            "encoder": encoder.source,
            "adapters": encoder.adapters,
            "params": parameter_summary(encoder, head),
            "label_set": self.label_names,
            "left_out": self.datasets.left_out,
        }
        results = write_results(
            out,
            record,
            brain.evaluated,
            self.label_names,
            scales=self.scales if self.task == "dimensional" else None,
        )
        history = out / "history.json"
        if history.exists():
            epochs = json.loads(history.read_text())
            plot_training_curves(
                [epochs[k] for k in sorted(epochs, key=int)],
                out / "training_curves.png",
            )
        write_speakers(out, self.corpus, self.speakers, self.parent_trained_on)
        save_run_artifact(
            out,
            encoder,
            head,
            task=self.task,
            label_set=self.label_names,
            dimension_scale=self.scale,
            sample_rate=self.hparams["sample_rate"],
            max_duration=self.hparams.get("max_duration"),
            run_info=self.run_info,
        )
        return results
