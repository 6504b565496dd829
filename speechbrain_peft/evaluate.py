"""Cross-corpus evaluation: a trained run on another corpus' manifests.

::

    python -m speechbrain_peft.evaluate RUN_DIR \\
        --manifest test1=manifests/msp/test1.csv \\
        --data-root /corpora/MSP-Podcast --corpus MSP-Podcast \\
        --label-map neu=neu hap=hap ang=ang sad=sad --out eval/iemocap_on_msp

writes ``OUT/results.json`` in the format of a training run's (the run's
description, parameters, label set, and per split WA, UA, macro-F1 and
confusion matrix, or CCC per dimension; there is no loss), plus
``predictions_<split>.jsonl`` and confusion-matrix PNGs.

Labels: ``--label-map`` maps the manifest's labels to the run's
(``manifest_label=run_label``); without it, labels the run knows map to
themselves. Utterances whose label has no mapping are left out and their
count per label is logged (e.g. MSP-Podcast ``con`` for an IEMOCAP run).
Dimensional targets are put on the run's normalised ``[-1, 1]`` scale using
the target corpus' rating scale (``--corpus``), so an IEMOCAP (1-5) run is
scored on MSP-Podcast (1-7) ratings consistently.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import speechbrain as sb
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from speechbrain_peft.brain import save_split_outputs
from speechbrain_peft.dataio import DIMENSION_SCALES, create_datasets
from speechbrain_peft.inference import EmotionRecognizer
from speechbrain_peft.metrics import EmotionMetrics

logger = logging.getLogger(__name__)


def evaluate_run(
    run_dir,
    manifests,
    out_dir,
    data_root=None,
    corpus=None,
    label_map=None,
    batch_size=8,
    device="cpu",
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
        The manifests' corpus (needed for a dimensional run: its rating
        scale).
    label_map : dict, optional
        Manifest label -> run label; identity on the run's labels if None.
    batch_size : int
        Utterances per forward pass.
    device : str
        Where to run the model.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    recognizer = EmotionRecognizer.from_run(run_dir, device=device)
    config, task = recognizer.config, recognizer.task
    label_encoder, scale = None, None
    if task == "categorical":
        label_map = label_map or {k: k for k in recognizer.label_set}
        unknown = sorted(set(label_map.values()) - set(recognizer.label_set))
        if unknown:
            raise ValueError(
                f"--label-map targets {unknown} are not labels of the run "
                f"({recognizer.label_set})"
            )
        label_encoder = CategoricalEncoder()
        label_encoder.update_from_iterable(recognizer.label_set)
    else:
        if corpus not in DIMENSION_SCALES:
            raise ValueError(
                f"A dimensional run needs --corpus, one of "
                f"{sorted(DIMENSION_SCALES)} (its rating scale)"
            )
        scale = DIMENSION_SCALES[corpus]
        label_map = None
    datasets = create_datasets(
        manifests,
        task,
        label_encoder=label_encoder,
        dimension_scale=scale,
        sample_rate=config["sample_rate"],
        max_duration=config.get("max_duration"),
        data_root=data_root,
        label_map=label_map,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_info = config.get("run_info", {})
    results = {
        **run_info,
        "evaluated_run": str(Path(run_dir).resolve()),
        "corpus": corpus or run_info.get("corpus"),
        "trained_on": run_info.get("corpus"),
        "task": task,
        "encoder": config["encoder"]["source"],
        "adapters": config["encoder"].get("adapters"),
        "label_set": recognizer.label_set,
        "label_map": label_map,
        "manifests": {k: str(Path(v).resolve()) for k, v in manifests.items()},
        "splits": {},
    }
    for split, dataset in datasets.items():
        metrics = EmotionMetrics(task, recognizer.label_set)
        loader = sb.dataio.dataloader.make_dataloader(
            dataset, batch_size=batch_size
        )
        for batch in loader:
            wavs, lens = batch.sig
            outputs = recognizer(wavs, lens)
            metrics.append(batch.id, outputs, batch.target_tensor.data)
        evaluated = {
            "stats": metrics.summarize(),
            "predictions": metrics.per_utterance(),
        }
        results["splits"][split] = evaluated["stats"]
        save_split_outputs(
            out_dir,
            split,
            evaluated,
            recognizer.label_set if task == "categorical" else None,
            title=f"{run_info.get('config', '')} on {corpus or ''} {split}",
        )
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    logger.info("Results written to %s", out_dir / "results.json")
    return results


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
        help="SPLIT=CSV pairs, e.g. test1=manifests/msp/test1.csv",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--data-root", help="replaces $data_root in wav")
    parser.add_argument(
        "--corpus",
        help="the manifests' corpus (rating scale for dimensional runs)",
    )
    parser.add_argument(
        "--label-map",
        nargs="+",
        help="MANIFEST_LABEL=RUN_LABEL pairs (default: the run's labels)",
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
    )
    for split, stats in results["splits"].items():
        shown = {k: v for k, v in stats.items() if k != "confusion"}
        print(split, json.dumps(shown))
    return 0


if __name__ == "__main__":
    with torch.no_grad():
        sys.exit(main())
