"""What every recipe ``train.py`` shares: finding and loading the hparams
file, and training + evaluating on prepared manifests.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import dataclasses
import datetime
import difflib
import json
import logging
import re
import sys
from pathlib import Path

import ruamel.yaml
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references

from speechbrain_peft.adapters import nest_flat_overrides
from speechbrain_peft.data.datasets import (
    DurationBucketSampler,
    LengthBatchSampler,
    create_datasets,
    durations_of,
    make_label_encoder,
)
from speechbrain_peft.data.manifest import read_prep_info
from speechbrain_peft.runs.artifact import read_run_config, save_run_artifact
from speechbrain_peft.runs.experiment import (
    numeric_run_options,
    plain_config,
    read_resolved_config,
    resolve_config,
)
from speechbrain_peft.runs.identity import (
    claim_output_folder,
    data_identity,
    move_aside,
    parent_identity,
    run_identity,
)
from speechbrain_peft.runs.plots import plot_training_curves
from speechbrain_peft.runs.result_files import parameter_summary, write_results
from speechbrain_peft.runs.speakers import (
    check_no_leak,
    read_trained_on,
    split_speakers,
    write_speakers,
)
from speechbrain_peft.training.brain import EmotionBrain
from speechbrain_peft.training.feature_cache import make_feature_cache
from speechbrain_peft.training.stage_two import init_from_run
from speechbrain_peft.utils.errors import ConfigError
from speechbrain_peft.utils.files import atomic_write_text

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
    if "parent_name" in config and "parent_name" not in overrides:
        init_from = overrides.get("init_from", config.get("init_from"))
        if isinstance(init_from, str):
            overrides["parent_name"] = parent_run_name(init_from)
    return path, run_opts, overrides


START_OVER = "--start_over"


def parent_run_name(run_dir):
    """How a stage two's default output folder names its parent: the
    parent's corpus, configuration, fold and seed, so that stage twos from
    different stage-one runs never share a folder.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.runs.artifact import RUN_CONFIG, RUN_WEIGHTS
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / RUN_WEIGHTS).write_bytes(b"")
    >>> _ = (run / RUN_CONFIG).write_text(json.dumps({"run_info": {
    ...     "corpus": "IEMOCAP", "config": "combo", "fold": 2, "seed": 7}}))
    >>> parent_run_name(run)
    'IEMOCAP_combo_fold2_seed7'
    """
    info = read_run_config(run_dir).get("run_info") or {}
    parts = [info.get("corpus"), info.get("config")]
    if info.get("fold") is not None:
        parts.append(f"fold{info['fold']}")
    parts.append(f"seed{info.get('seed')}")
    return "_".join(str(part) for part in parts)


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
        header = (
            f"# Generated {datetime.date.today()} from:\n"
            f"# {self.source.resolve()}\n# yamllint disable\n"
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
    with _placeholders_named(hparams_file):
        hparams = load_hyperpyyaml(Path(hparams_file).read_text(), overrides)
        with open(hparams_file, encoding="utf-8") as handle:
            text = resolve_references(handle, overrides).getvalue()
    hparams["resolved_config"] = ResolvedConfig(Path(hparams_file), text)
    return hparams


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
        Defaults to ``sys.argv[1:]``. ``--start_over`` moves a run of
        another identity in the output folder aside (see
        :func:`~speechbrain_peft.runs.identity.move_aside`).
    check : callable, optional
        Called with the resolved configuration (plain values, see
        :func:`~speechbrain_peft.runs.experiment.resolve_config`) before any
        object of the hparams is built or anything is written (e.g. a fold
        number check); raises to refuse it.

    Returns
    -------
    hparams : dict
    run_opts : dict
    """
    argv = sys.argv[1:] if argv is None else argv
    # Ours, not SpeechBrain's: move a run of another identity aside.
    start_over = START_OVER in argv
    argv = [arg for arg in argv if arg != START_OVER]
    hparams_file, run_opts, overrides = parse_arguments(recipe_file, argv)
    if check is not None:
        with _placeholders_named(hparams_file):
            check(resolve_config(hparams_file, overrides))
    # Under torchrun: join the process group (a no-op in a single process).
    sb.utils.distributed.ddp_init_group(run_opts)
    if start_over:
        # Before the hparams build their objects: the checkpointer creates
        # its folder inside the output folder.
        with _placeholders_named(hparams_file):
            output_folder = resolve_config(hparams_file, overrides)[
                "output_folder"
            ]
        sb.utils.distributed.run_on_main(move_aside, args=[output_folder])
    hparams = load_hparams(hparams_file, overrides)
    # hyperparams.yaml is written once the run has claimed the folder (see
    # Run.claim_output_folder): a folder holding another run keeps its own.
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"]
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
    """Build the datasets and the model, claim the output folder with the
    run's identity (see :mod:`speechbrain_peft.runs.identity`), start from
    the stage-one run for a stage two, fit, evaluate the best checkpoint
    on every non-training split (whole utterances), and write the run's
    results and artifact.

    Arguments
    ---------
    hparams : dict
        Hparams loaded by :func:`load_hparams`.
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
        run.check_parent(hparams["init_from"])
    run.claim_output_folder(run_opts)
    if run.parent is not None:
        run.start_from_parent()
    brain = run.make_brain(run_opts)
    run.fit(brain)
    for split, dataset in run.datasets.items():
        if split != "train":
            brain.evaluate_split(
                split, dataset, **run.eval_loader_kwargs(dataset)
            )
    if not sb.utils.distributed.if_main_process():
        return None
    return run.write(brain)


class Run:
    """One recipe run's data, model and records, built in named steps by
    :func:`train_and_evaluate`.

    Arguments
    ---------
    hparams : dict
        Hparams loaded by :func:`load_hparams`.
    manifests : dict
        ``{split: csv}``.
    protocol : dict
        ``fold`` and ``folds`` for a fold protocol, else empty.
    """

    def __init__(self, hparams, manifests, protocol):
        self.hparams = hparams
        self.config = hparams["resolved_config"]
        self.task = hparams["task"]
        self.corpus = hparams["corpus"]
        self.protocol = protocol
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
        self.parent = None
        self.encoder = hparams["encoder"]
        n_outputs = len(self.label_names) if self.label_names else 3
        self.head = hparams["head"](
            input_size=self.encoder.output_size, n_outputs=n_outputs
        )

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
            "eval_max_duration": self.hparams.get("eval_max_duration"),
            "data_root": self.hparams["data_folder"],
            **kwargs,
        }
        return create_datasets(manifests, self.task, **options)

    def eval_loader_kwargs(self, dataset):
        """Loader options for scoring ``dataset``: batches by length, at
        most the padded seconds of a training batch of ``max_duration``
        utterances (so a long utterance runs alone)."""
        batch_size = self.hparams["batch_size"]
        longest = self.hparams.get("max_duration")
        return {
            "batch_sampler": LengthBatchSampler(
                durations_of(dataset),
                batch_size,
                max_seconds=None if longest is None else batch_size * longest,
            ),
            **self._loader_kwargs(),
        }

    def _loader_kwargs(self):
        return {
            "num_workers": self.hparams.get("num_workers", 0),
            # Every loader iterator draws a worker base seed; drawn from its
            # own generator it leaves the global one (dropout, time masks)
            # alone, so a run resumed mid-epoch draws the masks of an
            # uninterrupted one.
            "generator": torch.Generator().manual_seed(self.hparams["seed"]),
        }

    def check_parent(self, parent_dir):
        """Stage two: read the finished stage-one run, and refuse it when
        it (or an ancestor) trained on this run's dev or test speakers."""
        parent_dir = Path(parent_dir).resolve()
        trained_on = read_trained_on(parent_dir)
        check_no_leak(
            trained_on,
            self.corpus,
            self.speakers,
            fold=self.run_info.get("fold"),
        )
        self.parent = {
            "dir": parent_dir,
            "config": read_run_config(parent_dir),
            "trained_on": trained_on,
        }

    def claim_output_folder(self, run_opts):
        """Compute the run's identity and claim the output folder with it
        (refusing a folder that holds another run), then save the resolved
        ``hyperparams.yaml``."""
        parent = None
        if self.parent is not None:
            parent = parent_identity(
                self.parent["config"].get("run_info") or {}, self.parent["dir"]
            )
        identity = run_identity(
            self.config.values,
            self.encoder.weights_identity,
            numeric_run_options(run_opts, self.hparams),
            self.protocol,
            self.hparams["seed"],
            data_identity(self.datasets),
            parent,
        )
        out = Path(self.hparams["output_folder"])
        main = sb.utils.distributed.if_main_process()
        identity = claim_output_folder(
            out,
            identity,
            self.config.values,
            self.hparams["save_folder"],
            write=main,
        )
        if main:
            self.config.save(out)
        sb.utils.distributed.ddp_barrier()
        self.run_info["experiment"] = {
            "id": identity.experiment_id,
            "settings": identity.settings,
        }
        self.run_info["identity"] = identity.to_dict()

    def start_from_parent(self):
        """Stage two: load the parent's adaptors and head, and add its test
        sets (relabelled) as ``source_<split>``."""
        parent_dir = self.parent["dir"]
        self.run_info["parent_run"] = init_from_run(
            parent_dir,
            self.encoder,
            self.head,
            label_map=self.hparams.get("label_map"),
            target_labels=self.label_names,
            freeze_stage1=self.hparams.get("freeze_stage1", False),
        )
        parent = self.parent["config"]
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
        self.datasets.update_from(source)
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
            valid_loader_kwargs=self.eval_loader_kwargs(self.datasets["dev"]),
        )

    def write(self, brain):
        """Write ``results.json`` with the predictions and plots, the
        training curves, ``speakers.json`` and the run artifact."""
        out = Path(self.hparams["output_folder"])
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
            "cropped": self.datasets.cropped,
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
        write_speakers(
            out,
            self.corpus,
            self.speakers,
            self.parent["trained_on"] if self.parent else [],
        )
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
