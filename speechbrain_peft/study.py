"""A whole study in one command: several configurations over their
protocol's folds (or fixed splits) and seeds, the stage-two chains from
their runs, then the results table and the paper's figures.

Example (IEMOCAP's five folds, three seeds, five methods, then a stage two
to MSP-Podcast from each combo run)::

    python -m speechbrain_peft.study \\
        recipes/IEMOCAP/hparams/{frozen,weighted_sum,lora,combo,full_ft}.yaml \\
        --data_folder IEMOCAP=/corpora/IEMOCAP_full_release \\
            MSP-Podcast=/corpora/MSP-Podcast \\
        --folds all --seeds 1986 1 2 --output_folder studies/iemocap \\
        --stage_two recipes/IEMOCAP/hparams/combo.yaml \\
            recipes/MSP-Podcast/hparams/stage2_from_iemocap.yaml

Any other ``--key value`` goes to every run, as on a recipe's command line.
Run it again after an interruption: finished runs (same identity) are
left as they are, interrupted ones resume, the rest run. ``--executor
slurm`` submits the runs as a SLURM job array through submitit
(``--executor_options slurm_partition=gpu gpus_per_node=1
timeout_min=720``); ``local`` starts them all at once on this machine.
The study folder ends up holding ``results/`` (the runs), ``logs/``,
``study.json`` (every run's status), ``table.md`` and ``figures/``.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import sys
from pathlib import Path

import ruamel.yaml

from speechbrain_peft import results as results_command
from speechbrain_peft.corpora import corpus_named, is_registered
from speechbrain_peft.studies.launch import EXECUTORS, FAILED, run_study
from speechbrain_peft.studies.plan import plan_study
from speechbrain_peft.training.recipe import recipe_spelling
from speechbrain_peft.utils.errors import ConfigError, run_command
from speechbrain_peft.utils.files import atomic_write_text


def parser():
    """The study's own options (the rest goes to every run)."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_peft.study",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "hparams_files",
        nargs="+",
        metavar="RECIPE_YAML",
        help="stage-one configuration files, e.g. "
        "recipes/IEMOCAP/hparams/lora.yaml",
    )
    parser.add_argument(
        "--data_folder",
        nargs="+",
        required=True,
        metavar="[CORPUS=]DIR",
        help="the corpus folder, or one CORPUS=DIR per corpus of the study",
    )
    parser.add_argument(
        "--folds",
        nargs="+",
        default=["all"],
        help="folds of a fold protocol: all (default) or numbers; a corpus "
        "with fixed splits runs once per seed",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1986])
    parser.add_argument("--output_folder", type=Path, default=Path("study"))
    parser.add_argument(
        "--stage_two",
        nargs=2,
        action="append",
        default=[],
        metavar=("STAGE_ONE_YAML", "STAGE_TWO_YAML"),
        help="a stage two from each run of that stage-one configuration "
        "(same seed and fold); repeatable",
    )
    parser.add_argument("--executor", choices=EXECUTORS, default="here")
    parser.add_argument(
        "--executor_options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="submitit parameters, e.g. slurm_partition=gpu timeout_min=720",
    )
    return parser


def data_folders(entries):
    """``{corpus or None: folder}`` from ``[CORPUS=]DIR`` entries.

    Example
    -------
    >>> data_folders(["IEMOCAP=/c/IEMOCAP", "MSP-Podcast=/c/MSP"])
    {'IEMOCAP': '/c/IEMOCAP', 'MSP-Podcast': '/c/MSP'}
    >>> data_folders(["/c/IEMOCAP"])
    {None: '/c/IEMOCAP'}
    """
    if len(entries) == 1 and "=" not in entries[0]:
        return {None: entries[0]}
    named = dict(entry.split("=", 1) for entry in entries if "=" in entry)
    if len(named) != len(entries):
        raise ConfigError(
            f"--data_folder {' '.join(entries)}: give one DIR, or CORPUS=DIR "
            "for every corpus"
        )
    return named


def executor_options(entries):
    """``KEY=VALUE`` entries as submitit parameters (values read as YAML).

    Example
    -------
    >>> executor_options(["timeout_min=720", "slurm_partition=gpu"])
    {'timeout_min': 720, 'slurm_partition': 'gpu'}
    """
    options = {}
    for entry in entries:
        if "=" not in entry:
            raise ConfigError(f"--executor_options {entry}: write KEY=VALUE")
        key, value = entry.split("=", 1)
        options[key] = ruamel.yaml.YAML(typ="safe").load(value)
    return options


def chosen_folds(entries):
    """``"all"`` or the fold numbers."""
    if entries == ["all"]:
        return "all"
    try:
        return [int(entry) for entry in entries]
    except ValueError:
        raise ConfigError(
            f"--folds {' '.join(entries)}: write all, or fold numbers"
        ) from None


def prepare_corpora(runs):
    """Each corpus' data prep, once, before any run starts (runs started
    at once would otherwise all write the same manifests)."""
    done = []
    for run in runs:
        # Manifests of your own have no data prep (the recipe checks them).
        if not is_registered(run.corpus):
            continue
        if (run.corpus, run.preparation) not in done:
            print(
                f"[study] data prep: {run.corpus} -> "
                f"{run.preparation['save_folder']}",
                flush=True,
            )
            with recipe_spelling():
                corpus_named(run.corpus).prepare(**run.preparation)
            done.append((run.corpus, run.preparation))


def summarize(outcomes, study_folder):
    """Write ``study.json``, print the counts, and the table and figures
    of the finished runs; return the exit status."""
    counts = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    record = {
        "counts": counts,
        "runs": [outcome.to_dict() for outcome in outcomes],
    }
    atomic_write_text(study_folder / "study.json", json.dumps(record, indent=2))
    print(
        f"[study] {len(outcomes)} runs: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
    )
    whole = [
        str(o.run.output_folder) for o in outcomes if o.run.results.is_file()
    ]
    if whole:
        results_command.main(
            [
                *whole,
                "--markdown",
                str(study_folder / "table.md"),
                "--figures",
                str(study_folder / "figures"),
            ]
        )
    print(f"[study] runs' status: {study_folder / 'study.json'}")
    return 1 if counts.get(FAILED) else 0


def main(argv=None):
    """Plan the study, prepare the corpora, run what is missing, sum up."""
    args, arguments = parser().parse_known_args(argv)
    runs = plan_study(
        args.hparams_files,
        data_folders(args.data_folder),
        chosen_folds(args.folds),
        args.seeds,
        arguments,
        args.output_folder,
        args.stage_two,
    )
    study_folder = args.output_folder.resolve()
    n_two = sum(run.parent is not None for run in runs)
    print(
        f"[study] {len(runs)} runs ({len(runs) - n_two} stage one, {n_two} "
        f"stage two) under {study_folder}, executor: {args.executor}",
        flush=True,
    )
    prepare_corpora(runs)
    outcomes = run_study(
        runs,
        study_folder,
        args.executor,
        executor_options(args.executor_options),
    )
    return summarize(outcomes, study_folder)


if __name__ == "__main__":
    run_command(main, sys.argv[1:])
