"""Cross-corpus evaluation: a trained run on another corpus' manifests.

::

    python -m speechbrain_peft.evaluate RUN_DIR \\
        --manifest test1=manifests/msp_podcast/8class/test1.csv \\
        --data-root /corpora/MSP-Podcast --corpus MSP-Podcast \\
        --label-map neu=neu hap=hap ang=ang sad=sad --out eval/iemocap_on_msp

writes ``OUT/results.json`` in the format of a training run's (see
:mod:`speechbrain_peft.runs.result_files`; per split WA, UA, macro-F1 and
confusion
matrix, or CCC per dimension; there is no loss), plus
``predictions_<split>.jsonl`` and confusion-matrix PNGs. It keeps apart
what was evaluated (``evaluated_on``: the corpus, each manifest's path
and the hash of its IDs, the data root, the label map) and the run that
was evaluated (``evaluated_run``); ``corpus`` is the evaluated corpus
(``unknown`` without ``--corpus``) and ``trained_on`` the run's. Its
experiment is its own (the run's plus what it was evaluated on), so the
results table never averages it into the training row.

Utterances are scored whole (``--max-duration`` crops them, counted per
split under ``cropped``), in batches by length. A run is never scored on
speakers it or an ancestor trained on (its ``speakers.json``): such
manifests are refused, naming the speakers, unless
``--allow-trained-speakers`` is given; the result then records the
overlap under ``speaker_check`` and is an experiment of its own. A run
artifact that recorded no training speakers (an export) is evaluated with
``speaker_check`` saying so.

Labels: ``--label-map`` maps the manifest's labels to the run's
(``manifest_label=run_label``); without it, labels the run knows map to
themselves. Utterances whose label has no mapping are left out; their
count per label is logged and stored under ``left_out`` (e.g.
MSP-Podcast ``con`` for an IEMOCAP run). Dimensional targets are put on
the run's normalised ``[-1, 1]`` scale using the target corpus' rating
scale (from the manifests' ``prep_info.json``, or ``--scale``), so an
IEMOCAP (1-5) run is scored on MSP-Podcast (1-7) ratings consistently; the
predictions files are on the target corpus' scale. The corpus is the one
``prep_info.json`` names unless ``--corpus`` says otherwise.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import logging
from pathlib import Path

import speechbrain as sb
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from speechbrain_peft.data.datasets import create_datasets, evaluation_batches
from speechbrain_peft.data.manifest import prep_info_of
from speechbrain_peft.inference.recognizer import EmotionRecognizer
from speechbrain_peft.runs.experiment import experiment_id, experiment_of
from speechbrain_peft.runs.finished import FinishedRun
from speechbrain_peft.runs.result_files import parameter_summary, write_results
from speechbrain_peft.runs.speakers import (
    SpeakerLeakError,
    named_overlap,
    speaker_overlap,
    split_speakers,
)
from speechbrain_peft.training.metrics import EmotionMetrics, add_group_scores
from speechbrain_peft.utils.errors import ConfigError, run_command

logger = logging.getLogger(__name__)
# What an evaluation copies from the evaluated run, so the results table can
# tell its folds and seeds apart.
RUN_FIELDS = ("config", "fold", "folds", "seed")
# What an evaluation was run on that changes its numbers.
EXPERIMENT_FIELDS = (
    "corpus",
    "manifest_ids_sha256",
    "label_map",
    "max_duration",
    "trained_speakers",
)


def evaluation_experiment(run_info, evaluated_on):
    """The experiment of an evaluation: the evaluated run's experiment and
    what it was evaluated on (corpus, manifests by their IDs, label map,
    evaluation crop, trained speakers allowed), never the evaluated run's
    own experiment.

    Example
    -------
    >>> run = {"experiment": {"id": "ab", "settings": {"lr": 0.1}}}
    >>> on = {"corpus": "MSP-Podcast", "manifest_ids_sha256": {"t": "9f"},
    ...       "label_map": None, "data_root": "/c", "manifests": {},
    ...       "max_duration": None, "trained_speakers": {}}
    >>> experiment = evaluation_experiment(run, on)
    >>> experiment["settings"]["evaluated_on"]["corpus"]
    'MSP-Podcast'
    >>> experiment["id"] != "ab"
    True
    """
    trained_id, trained_settings = experiment_of(run_info)
    settings = {
        "evaluated_experiment": trained_id,
        "evaluated_settings": trained_settings,
        "evaluated_on": {
            key: evaluated_on[key]
            for key in EXPERIMENT_FIELDS
            if key in evaluated_on
        },
    }
    return {"id": experiment_id(settings), "settings": settings}


def evaluate_run(
    run_dir,
    manifests,
    out_dir,
    data_root=None,
    corpus=None,
    label_map=None,
    batch_size=8,
    device="cpu",
    scale=None,
    max_duration=None,
    allow_trained_speakers=False,
    source=None,
):
    """Evaluate the run in ``run_dir`` on ``manifests`` and write
    ``out_dir/results.json``.

    Arguments
    ---------
    run_dir : str or pathlib.Path
        A finished run (or an export of one).
    manifests : dict
        ``{split name: manifest CSV}``.
    out_dir : str or pathlib.Path
        Where the results go.
    data_root : str, optional
        Replaces ``$data_root`` in the manifests' ``wav`` column.
    corpus : str, optional
        The manifests' corpus; by default the one their data prep's
        ``prep_info.json`` names. Without either it is recorded as unknown,
        never as the training corpus.
    label_map : dict, optional
        Manifest label -> run label; identity on the run's labels if None.
    batch_size : int
        Utterances per forward pass.
    device : str
        Where to run the model.
    scale : tuple, optional
        ``(low, high)`` rating scale of the manifests' dimensions (a
        dimensional run); by default the one their ``prep_info.json``
        records.
    max_duration : float, optional
        Crop utterances to this many seconds (None: whole utterances).
    allow_trained_speakers : bool
        Score manifests holding speakers the run (or an ancestor) trained
        on, recording the overlap, instead of refusing them.
    source : str, optional
        Load the base encoder from here (see
        :meth:`EmotionRecognizer.from_run`).

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    run = FinishedRun.read(run_dir)
    recognizer = EmotionRecognizer.from_run(run, device=device, source=source)
    config, task = recognizer.config, recognizer.task
    prepared = _prep_info(manifests)
    corpus = corpus or prepared.get("corpus")
    speaker_check = _check_speakers(
        run, corpus, manifests, allow_trained_speakers
    )
    label_encoder = None
    if task == "categorical":
        label_map = label_map or {k: k for k in recognizer.label_set}
        unknown = sorted(set(label_map.values()) - set(recognizer.label_set))
        if unknown:
            raise ConfigError(
                f"--label-map targets {unknown} are not labels of the run "
                f"({recognizer.label_set})"
            )
        label_encoder = CategoricalEncoder()
        label_encoder.update_from_iterable(recognizer.label_set)
        label_encoder.expect_len(len(recognizer.label_set))
    else:
        scale = scale or prepared.get("dimension_scale")
        if scale is None:
            raise ConfigError(
                "A dimensional run is scored on the manifests' rating scale: "
                "pass manifests written by the data prep (their "
                "prep_info.json records it) or --scale LOW HIGH"
            )
        label_map = None
    datasets = create_datasets(
        manifests,
        task,
        label_encoder=label_encoder,
        dimension_scale=scale,
        sample_rate=config["sample_rate"],
        eval_max_duration=max_duration,
        data_root=data_root,
        label_map=label_map,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_info = config.get("run_info") or {}
    evaluated_on = {
        "corpus": corpus,
        "data_root": None if data_root is None else str(data_root),
        "manifests": {k: str(Path(v).resolve()) for k, v in manifests.items()},
        "manifest_ids_sha256": datasets.ids_sha256,
        "label_map": label_map,
        "max_duration": max_duration,
        "trained_speakers": speaker_check["overlap"],
    }
    record = {
        "kind": "evaluation",
        **{key: run_info[key] for key in RUN_FIELDS if key in run_info},
        "corpus": corpus or "unknown",
        "trained_on": run_info.get("corpus"),
        "task": task,
        "evaluated_run": {
            "path": str(run.path),
            "run_info": run_info,
        },
        "evaluated_on": evaluated_on,
        "experiment": evaluation_experiment(run_info, evaluated_on),
        "encoder": config["encoder"]["source"],
        "adapters": config["encoder"].get("adapters"),
        "params": parameter_summary(recognizer.encoder, recognizer.head),
        "label_set": recognizer.label_set,
        "left_out": datasets.left_out,
        "cropped": datasets.cropped,
        "speaker_check": speaker_check,
    }
    evaluated = {
        split: _evaluate(recognizer, dataset, task, batch_size)
        for split, dataset in datasets.items()
    }
    add_group_scores(
        evaluated,
        datasets.groups,
        recognizer.label_set if task == "categorical" else None,
    )
    return write_results(
        out_dir,
        record,
        evaluated,
        recognizer.label_set if task == "categorical" else None,
        scales={split: scale for split in datasets} if scale else None,
    )


def _prep_info(manifests):
    """What the data prep of ``manifests`` recorded (corpus, rating scale),
    or ``{}`` for hand-written ones; manifests of different preps are
    refused."""
    infos = [prep_info_of(path) for path in manifests.values()]
    found = {
        json.dumps([i["corpus"], i.get("dimension_scale")]) for i in infos if i
    }
    if len(found) > 1:
        raise ConfigError(
            f"The manifests {list(manifests.values())} come from different "
            "corpora or scales; evaluate them separately"
        )
    return next((i for i in infos if i), {})


def _check_speakers(run, corpus, manifests, allowed):
    """Refuse (or, when ``allowed``, record) manifest speakers the run or
    an ancestor trained on; ``{"status", "overlap"}``."""
    run_dir, trained_on = run.path, run.trained_on
    if trained_on is None:
        logger.warning(
            "%s records no training speakers (an export or a hand-made "
            "artifact): the evaluated speakers cannot be checked",
            run_dir,
        )
        return {
            "status": "unknown: no training speakers recorded",
            "overlap": {},
        }
    overlap = speaker_overlap(trained_on, corpus, split_speakers(manifests))
    if overlap and not allowed:
        raise SpeakerLeakError(
            f"{run_dir} (or a run it descends from) trained on speakers of "
            f"these manifests ({named_overlap(overlap)}), so its scores on "
            "them would be optimistic. Evaluate it on speakers it never "
            "trained on, or pass --allow-trained-speakers to score them "
            "anyway (the result records the overlap and the results table "
            "keeps it apart)."
        )
    if overlap:
        logger.warning(
            "Scoring speakers the run trained on, as allowed: %s",
            named_overlap(overlap),
        )
        return {"status": "trained speakers allowed", "overlap": overlap}
    return {"status": "disjoint", "overlap": {}}


def _evaluate(recognizer, dataset, task, batch_size):
    """Metrics and per-utterance predictions of one dataset, batched by
    length."""
    metrics = EmotionMetrics(task, recognizer.label_set)
    loader = sb.dataio.dataloader.make_dataloader(
        dataset,
        batch_sampler=evaluation_batches(
            dataset, batch_size, recognizer.config.get("max_duration")
        ),
    )
    for batch in loader:
        wavs, lens = batch.sig
        outputs = recognizer(wavs, lens)
        metrics.append(batch.id, outputs, batch.target_tensor.data)
    return {
        "stats": metrics.summarize(),
        "predictions": metrics.per_utterance(),
    }


def _pairs(items, what):
    pairs = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"{what} expects NAME=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_peft.evaluate",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("run_dir", help="a finished run or an export")
    parser.add_argument(
        "--manifest",
        nargs="+",
        required=True,
        help="SPLIT=CSV pairs, e.g. "
        "test1=manifests/msp_podcast/8class/test1.csv",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--data-root", help="replaces $data_root in wav")
    parser.add_argument(
        "--corpus",
        help="the manifests' corpus (default: their prep_info.json's)",
    )
    parser.add_argument(
        "--scale",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="rating scale of the manifests' dimensions (default: their "
        "prep_info.json's)",
    )
    parser.add_argument(
        "--label-map",
        nargs="+",
        help="MANIFEST_LABEL=RUN_LABEL pairs (default: the run's labels)",
    )
    parser.add_argument(
        "--max-duration",
        type=float,
        help="crop utterances to this many seconds (default: whole)",
    )
    parser.add_argument(
        "--allow-trained-speakers",
        action="store_true",
        help="score speakers the run trained on (recorded, kept apart)",
    )
    parser.add_argument(
        "--encoder-source",
        help="load the base encoder from here (it must hold the run's weights)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s - %(message)s")
    results = evaluate_run(
        args.run_dir,
        _pairs(args.manifest, "--manifest"),
        args.out,
        data_root=args.data_root,
        corpus=args.corpus,
        label_map=_pairs(args.label_map, "--label-map") or None,
        batch_size=args.batch_size,
        device=args.device,
        scale=args.scale,
        max_duration=args.max_duration,
        allow_trained_speakers=args.allow_trained_speakers,
        source=args.encoder_source,
    )
    for split, stats in results["splits"].items():
        shown = {k: v for k, v in stats.items() if isinstance(v, int | float)}
        print(split, json.dumps(shown))
    return 0


if __name__ == "__main__":
    with torch.no_grad():
        run_command(main)
