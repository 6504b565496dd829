"""What every recipe ``train.py`` shares: starting the experiment (see
:mod:`speechbrain_peft.training.hparams`), the corpus' data prep and
manifests, and training + evaluating on them.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import json
import logging
import sys
from pathlib import Path

import pandas as pd
import speechbrain as sb
import torch

from speechbrain_peft.corpora import corpus_named, is_registered
from speechbrain_peft.data.datasets import (
    DurationBucketSampler,
    create_datasets,
    durations_of,
    evaluation_batches,
    make_label_encoder,
)
from speechbrain_peft.data.emobox import (
    emobox_manifest_paths,
    emobox_output_folder,
)
from speechbrain_peft.data.manifest import DataPrepError, read_prep_info
from speechbrain_peft.data.own_manifests import own_manifests
from speechbrain_peft.runs.artifact import save_run_artifact
from speechbrain_peft.runs.experiment import numeric_run_options
from speechbrain_peft.runs.finished import FinishedRun
from speechbrain_peft.runs.identity import (
    claim_output_folder,
    data_identity,
    move_aside,
    run_identity,
)
from speechbrain_peft.runs.plots import plot_training_curves
from speechbrain_peft.runs.result_files import parameter_summary, write_results
from speechbrain_peft.runs.speakers import (
    SpeakerLeakError,
    check_no_leak,
    split_speakers,
    write_speakers,
)
from speechbrain_peft.training.brain import (
    CLASS_WEIGHTS,
    EmotionBrain,
    balanced_class_weights,
)
from speechbrain_peft.training.feature_cache import make_feature_cache
from speechbrain_peft.training.hparams import (
    SKIP_FINISHED,
    START_OVER,
    load_hparams,
    parse_arguments,
    placeholders_named,
    resolve_config,
)
from speechbrain_peft.training.metrics import add_group_scores
from speechbrain_peft.training.stage_two import init_from_run
from speechbrain_peft.utils.errors import ConfigError

logger = logging.getLogger(__name__)

# Data prep's command-line options as the recipes spell them.
RECIPE_SPELLING = {"--data-folder ": "--data_folder "}


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
        :func:`~speechbrain_peft.runs.identity.move_aside`);
        ``--skip_finished`` (kept as ``hparams["skip_finished"]``) leaves a
        run that finished with this identity as it is.
    check : callable, optional
        Called with the resolved configuration (plain values, see
        :func:`~speechbrain_peft.training.hparams.resolve_config`) before any
        object of the hparams is built or anything is written (e.g. a fold
        number check); raises to refuse it.

    Returns
    -------
    hparams : dict
    run_opts : dict
    """
    argv = sys.argv[1:] if argv is None else argv
    start_over = START_OVER in argv
    skip_finished = SKIP_FINISHED in argv
    argv = [arg for arg in argv if arg not in (START_OVER, SKIP_FINISHED)]
    hparams_file, run_opts, overrides = parse_arguments(recipe_file, argv)
    with placeholders_named(hparams_file):
        overrides = emobox_output_folder(
            resolve_config(hparams_file, overrides), overrides
        )
    if check is not None:
        with placeholders_named(hparams_file):
            check(resolve_config(hparams_file, overrides))
    # Under torchrun: join the process group (a no-op in a single process).
    sb.utils.distributed.ddp_init_group(run_opts)
    if start_over:
        # Before the hparams build their objects: the checkpointer creates
        # its folder inside the output folder.
        with placeholders_named(hparams_file):
            output_folder = resolve_config(hparams_file, overrides)[
                "output_folder"
            ]
        sb.utils.distributed.run_on_main(move_aside, args=[output_folder])
    hparams = load_hparams(hparams_file, overrides)
    hparams["skip_finished"] = skip_finished
    # hyperparams.yaml is written once the run has claimed the folder (see
    # Run.claim_output_folder): a folder holding another run keeps its own.
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"]
    )
    return hparams, run_opts


def run_corpus_recipe(recipe_file, argv=None):
    """A recipe ``train.py``'s whole run: start the experiment, get the
    manifests, then train and evaluate (see :func:`train_and_evaluate`).

    The configuration's ``corpus`` names a registered corpus (see
    :mod:`speechbrain_peft.corpora.registry`), whose data prep writes the
    manifests (skipped when done) and whose protocol says which of them
    the run takes; or it names a corpus of your own, whose manifests in
    ``manifest_folder`` are checked instead (see
    :func:`~speechbrain_peft.data.own_manifests.own_manifests`).

    Arguments
    ---------
    recipe_file : str
        ``__file__`` of the calling ``train.py``.
    argv : list of str, optional
        As for :func:`start_experiment`.

    Returns
    -------
    dict
        The content of ``results.json`` (None on the other DDP processes).
    """
    hparams, run_opts = start_experiment(recipe_file, argv, _check_corpus)
    if not is_registered(hparams["corpus"]):
        manifests = own_manifests(
            hparams["manifest_folder"], hparams["task"], hparams["label_set"]
        )
        return train_and_evaluate(hparams, run_opts, manifests)
    corpus = corpus_named(hparams["corpus"])
    prepare_data(corpus.prepare, hparams)
    if hparams.get("emobox_folds"):
        with recipe_spelling():
            manifests, protocol = emobox_manifest_paths(
                hparams["manifest_folder"],
                hparams["emobox_folds"],
                hparams["fold"],
            )
        return train_and_evaluate(hparams, run_opts, manifests, protocol)
    return train_and_evaluate(
        hparams,
        run_opts,
        corpus.manifest_paths(hparams),
        corpus.protocol(hparams),
    )


def _check_corpus(config):
    """The registered corpus' own check of a configuration; with
    ``emobox_folds``, the EmoBox folds replace the corpus' own."""
    if not is_registered(config["corpus"]):
        return
    if not config.get("emobox_folds"):
        corpus_named(config["corpus"]).check(config)
    elif config["task"] != "categorical":
        raise ConfigError(
            "emobox_folds: EmoBox's folds are categorical; run --task "
            "dimensional on the corpus' own folds (emobox_folds: null)"
        )


@contextlib.contextmanager
def recipe_spelling():
    """Data prep's errors with their advice in the option spelling of the
    recipes and studies (``--data_folder``), which run data prep for you:
    the advice must run as printed in the command that printed it."""
    try:
        yield
    except DataPrepError as error:
        message = str(error)
        for prep, recipe in RECIPE_SPELLING.items():
            message = message.replace(prep, recipe)
        raise type(error)(message) from None


def prepare_data(prepare, hparams):
    """Run a corpus' data prep (on the main process only) with the recipe's
    corpus folder, manifest folder and ``prep_options``."""
    with recipe_spelling():
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
    if hparams.get("skip_finished"):
        finished = run.finished_results()
        if finished is not None:
            return finished
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
        self.class_weights = self._class_weights(manifests["train"])
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

    def _class_weights(self, train_manifest):
        """The cross-entropy's class weights ``class_weights`` asks for
        (None: every class weighs 1), logged and recorded."""
        rule = self.hparams.get("class_weights")
        if rule not in CLASS_WEIGHTS:
            raise ConfigError(
                f"class_weights: {rule!r} is not one of {list(CLASS_WEIGHTS)}"
            )
        if rule is None or self.task != "categorical":
            return None
        labels = pd.read_csv(train_manifest, dtype={"emo": str})["emo"]
        weights = balanced_class_weights(labels, self.label_names)
        self.run_info["class_weights"] = dict(zip(self.label_names, weights))
        logger.info("Class weights: %s", self.run_info["class_weights"])
        return weights

    def _dimension_scale(self):
        """The corpus' rating scale, as its data prep recorded it, or as
        the YAML gives it for manifests of your own."""
        info = read_prep_info(self.hparams["manifest_folder"]) or {}
        scale = info.get("dimension_scale") or self.hparams.get(
            "dimension_scale"
        )
        if self.task == "dimensional" and scale is None:
            raise ConfigError(
                f"{self.corpus} has no dimensional labels; use task: "
                "categorical (or, for manifests of your own, give their "
                "scale as dimension_scale: [low, high])"
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
        return {
            "batch_sampler": evaluation_batches(
                dataset,
                self.hparams["batch_size"],
                self.hparams.get("max_duration"),
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
        parent = FinishedRun.read(parent_dir)
        if parent.trained_on is None:
            raise SpeakerLeakError(
                f"{parent.path} records no training speakers (an export?), "
                "so a stage two cannot be checked against them; start from "
                "the run folder itself"
            )
        check_no_leak(
            parent.trained_on,
            self.corpus,
            self.speakers,
            fold=self.run_info.get("fold"),
        )
        self.parent = parent

    def claim_output_folder(self, run_opts):
        """Compute the run's identity and claim the output folder with it
        (refusing a folder that holds another run), then save the resolved
        ``hyperparams.yaml``."""
        parent = None if self.parent is None else self.parent.identity
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

    def finished_results(self):
        """The ``results.json`` content of this very run (same identity)
        when it already finished in the output folder, else None."""
        path = Path(self.hparams["output_folder"]) / "results.json"
        if not path.is_file():
            return None
        results = json.loads(path.read_text())
        run_id = self.run_info["identity"]["id"]
        if (results.get("identity") or {}).get("id") != run_id:
            return None
        logger.info(
            "%s: run %s finished before; --skip_finished leaves it as it is",
            path.parent,
            run_id,
        )
        return results

    def start_from_parent(self):
        """Stage two: load the parent's adaptors and head, and add its test
        sets (relabelled) as ``source_<split>``."""
        self.run_info["parent_run"] = init_from_run(
            self.parent,
            self.encoder,
            self.head,
            label_map=self.hparams.get("label_map"),
            target_labels=self.label_names,
            freeze_stage1=self.hparams.get("freeze_stage1", False),
        )
        parent = self.parent.config
        info = self.parent.run_info
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
        """The :class:`EmotionBrain` of this run, with its labels, sampler
        and, when asked for, its feature cache."""
        hparams = self.hparams
        hparams["checkpointer"].add_recoverable("head", self.head)
        return EmotionBrain(
            modules={"encoder": self.encoder, "head": self.head},
            opt_class=hparams["opt_class"],
            hparams=hparams,
            run_opts=run_opts,
            checkpointer=hparams["checkpointer"],
            label_names=self.label_names,
            sampler=DurationBucketSampler(
                durations_of(self.datasets["train"]),
                hparams["batch_size"],
                seed=hparams["seed"],
            ),
            feature_cache=self._feature_cache(),
            class_weights=self.class_weights,
        )

    def _feature_cache(self):
        """The feature cache the hparams ask for, or None."""
        hparams = self.hparams
        if not hparams.get("cache_features"):
            return None
        cache = make_feature_cache(
            hparams["feature_cache_folder"],
            self.encoder,
            self.head,
            hparams.get("cache_dtype", "float32"),
            sample_rate=hparams["sample_rate"],
            max_duration=hparams.get("max_duration"),
        )
        if sb.utils.distributed.is_distributed_initialized() and (
            cache.kind != "pooled"
        ):
            raise ConfigError(
                f"The {cache.kind} feature cache runs in a single process "
                "(the pooled one, for frozen encoders and heads that pool "
                "first, runs under DDP); drop cache_features or run without "
                "torchrun"
            )
        return cache

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
        """Write the training curves, ``speakers.json``, the run artifact
        and, last (a results.json means a whole run), ``results.json`` with
        the predictions and plots."""
        out = Path(self.hparams["output_folder"])
        encoder = getattr(brain.modules.encoder, "module", self.encoder)
        head = getattr(brain.modules.head, "module", self.head)
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
            self.parent.trained_on if self.parent else [],
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
        add_group_scores(
            brain.evaluated, self.datasets.groups, self.label_names
        )
        return write_results(
            out,
            record,
            brain.evaluated,
            self.label_names,
            scales=self.scales if self.task == "dimensional" else None,
        )
