"""What every recipe ``train.py`` shares: finding and loading the hparams
file, and training + evaluating on prepared manifests.

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging
import re
import sys
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_peft.brain import EmotionBrain
from speechbrain_peft.checkpoints import (
    init_from_run,
    read_run_config,
    save_run_artifact,
)
from speechbrain_peft.dataio import (
    DIMENSION_SCALES,
    DurationBucketSampler,
    create_datasets,
    durations_of,
    make_label_encoder,
)
from speechbrain_peft.feature_cache import FeatureCache

logger = logging.getLogger(__name__)


def parse_arguments(recipe_file, argv=None):
    """SpeechBrain's command line, with the hparams path also looked up in
    the recipe's folder (so ``python recipes/IEMOCAP/train.py
    hparams/lora.yaml`` works from the repository root).

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
    overrides : dict or str
    """
    argv = sys.argv[1:] if argv is None else argv
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    path = Path(hparams_file)
    if not path.is_file():
        beside_recipe = Path(recipe_file).resolve().parent / hparams_file
        if not beside_recipe.is_file():
            raise FileNotFoundError(
                f"hparams file {hparams_file} not found in {Path.cwd()} nor "
                f"in {beside_recipe.parent}"
            )
        path = beside_recipe
    return path, run_opts, overrides


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
    ValueError: ...['data_folder'] must be set...--data_folder ...
    """
    text = Path(hparams_file).read_text()
    try:
        return load_hyperpyyaml(text, overrides)
    except ValueError as error:
        if "PLACEHOLDER" not in str(error):
            raise
        unset = re.findall(r"^(\w+):\s*!PLACEHOLDER", text, re.MULTILINE)
        hint = " ".join(f"--{key} ..." for key in unset)
        raise ValueError(
            f"{hparams_file}: {unset} must be set; pass them on the "
            f"command line ({hint}) or edit the YAML"
        ) from error


def start_experiment(recipe_file, argv=None):
    """Parse the command line, load the hparams, create the output folder.

    Returns
    -------
    hparams : dict
    run_opts : dict
    """
    hparams_file, run_opts, overrides = parse_arguments(recipe_file, argv)
    # Under torchrun: join the process group (a no-op in a single process).
    sb.utils.distributed.ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=str(hparams_file),
        overrides=overrides,
    )
    return hparams, run_opts


def train_and_evaluate(hparams, run_opts, manifests, run_info):
    """Build the datasets, fit, evaluate the best checkpoint on every
    non-training split, and write the run's results and artifact.

    Arguments
    ---------
    hparams : dict
        Loaded recipe hparams.
    run_opts : dict
        SpeechBrain run options.
    manifests : dict
        ``{split: csv}`` with ``train`` and ``dev`` plus test splits.
    run_info : dict
        Description stored in ``results.json`` (config, corpus, fold...).

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    task = hparams["task"]
    run_info = {
        **run_info,
        "data_folder": str(Path(hparams["data_folder"]).resolve()),
        "manifests": {k: str(Path(v).resolve()) for k, v in manifests.items()},
    }
    label_encoder = None
    if task == "categorical":
        label_encoder = make_label_encoder(
            hparams["label_set"],
            Path(hparams["save_folder"]) / "label_encoder.txt",
        )
    scale = DIMENSION_SCALES.get(hparams["corpus"])
    if task == "dimensional" and scale is None:
        raise ValueError(
            f"{hparams['corpus']} has no dimensional labels; use "
            "task: categorical"
        )
    datasets = create_datasets(
        manifests,
        task,
        label_encoder=label_encoder,
        dimension_scale=scale,
        sample_rate=hparams["sample_rate"],
        max_duration=hparams.get("max_duration"),
        data_root=hparams["data_folder"],
    )
    encoder = hparams["encoder"]
    n_outputs = len(hparams["label_set"]) if label_encoder else 3
    head = hparams["head"](input_size=encoder.output_size, n_outputs=n_outputs)
    label_names = list(hparams["label_set"]) if label_encoder else None
    if hparams.get("init_from"):
        run_info["parent_run"] = init_from_run(
            hparams["init_from"],
            encoder,
            head,
            label_map=hparams.get("label_map"),
            target_labels=label_names,
            freeze_loaded=hparams.get("freeze_stage1", False),
        )
        datasets.update(
            source_datasets(run_info["parent_run"], hparams, label_encoder)
        )
    hparams["checkpointer"].add_recoverable("head", head)
    brain = EmotionBrain(
        modules={"encoder": encoder, "head": head},
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.label_names = label_names
    if hparams.get("cache_features"):
        if sb.utils.distributed.is_distributed_initialized():
            raise ValueError(
                "cache_features runs in a single process; drop it or run "
                "without torchrun"
            )
        brain.feature_cache = FeatureCache(
            hparams["feature_cache_folder"],
            encoder,
            hparams.get("cache_dtype", "float32"),
            sample_rate=hparams["sample_rate"],
            max_duration=hparams.get("max_duration"),
        )
    brain.sampler = DurationBucketSampler(
        durations_of(datasets["train"]),
        hparams["batch_size"],
        seed=hparams["seed"],
    )
    loader = {
        "num_workers": hparams.get("num_workers", 0),
        # Every loader iterator draws a worker base seed; drawn from its own
        # generator it leaves the global one (dropout, time masks) alone, so
        # a run resumed mid-epoch draws the masks of an uninterrupted one.
        "generator": torch.Generator().manual_seed(hparams["seed"]),
    }
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["dev"],
        train_loader_kwargs={"batch_sampler": brain.sampler, **loader},
        valid_loader_kwargs={"batch_size": hparams["batch_size"], **loader},
    )
    for split, dataset in datasets.items():
        if split != "train":
            brain.evaluate_split(
                split, dataset, batch_size=hparams["batch_size"], **loader
            )
    if not sb.utils.distributed.if_main_process():
        return None
    results = brain.write_results(run_info)
    save_run_artifact(
        hparams["output_folder"],
        encoder,
        head,
        task=task,
        label_set=brain.label_names,
        dimension_scale=scale,
        sample_rate=hparams["sample_rate"],
        max_duration=hparams.get("max_duration"),
        run_info=run_info,
    )
    return results


def source_datasets(parent_run, hparams, label_encoder):
    """The stage-one run's test sets, relabelled for this run, so that a
    stage-two run reports both domains (splits ``source_<name>``)."""
    parent = read_run_config(parent_run["path"])
    info = parent["run_info"]
    tests = {
        f"source_{split}": path
        for split, path in info["manifests"].items()
        if split.startswith("test")
    }
    return create_datasets(
        tests,
        hparams["task"],
        label_encoder=label_encoder,
        dimension_scale=parent.get("dimension_scale"),
        sample_rate=hparams["sample_rate"],
        max_duration=hparams.get("max_duration"),
        data_root=info["data_folder"],
        label_map=parent_run["label_map"],
    )
