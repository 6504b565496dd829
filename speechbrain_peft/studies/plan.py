"""A study's runs, worked out before any of them starts: every recipe
configuration times its protocol's folds (EmoBox's, for a configuration
that takes them; its fixed splits once) times the seeds, then each stage
two asked for, once per run of its stage-one configuration (same seed,
and same fold when its corpus has folds).

Each run is planned as the command line a user would type, resolved and
checked up front (a misspelt setting fails here, not in run 40), and
placed under the study folder by the configuration's own
``output_folder`` pattern.

Authors
 * speechbrain-peft-ser developers 2026
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from speechbrain_peft.corpora import corpus_folds
from speechbrain_peft.data.emobox import emobox_output_folder, read_fold_files
from speechbrain_peft.training.hparams import (
    SKIP_FINISHED,
    parse_arguments,
    placeholders_named,
    resolve_config,
    run_name,
    settings_named,
)
from speechbrain_peft.utils.errors import ConfigError


@dataclass
class StudyRun:
    """One planned run of a study.

    Attributes
    ----------
    hparams_file : pathlib.Path
        Its configuration file (``recipes/<CORPUS>/hparams/<name>.yaml``).
    corpus, config : str
        The configuration's ``corpus`` and ``config_name``.
    fold : int or None
        Its fold (None for a corpus with fixed splits).
    seed : int
    output_folder : pathlib.Path
    arguments : list of str
        The recipe's command line after the configuration file.
    preparation : dict
        The data prep it needs (``data_folder``, ``save_folder`` and the
        ``prep_options``), run once per corpus before the runs start.
    parent : StudyRun or None
        The stage-one run a stage two starts from.
    """

    hparams_file: Path
    corpus: str
    config: str
    fold: object
    seed: int
    output_folder: Path
    arguments: list
    preparation: dict
    parent: "StudyRun" = None

    @property
    def name(self):
        """``<corpus>_<config>[_fold<k>]_seed<s>``, plus ``_from_<parent>``
        for a stage two."""
        own = run_name(self.corpus, self.config, self.fold, self.seed)
        return own if self.parent is None else f"{own}_from_{self.parent.name}"

    @property
    def results(self):
        """Its ``results.json`` (there once the run is whole)."""
        return self.output_folder / "results.json"

    def command(self):
        """``python recipes/<CORPUS>/train.py <config> ... --skip_finished``:
        a finished run of the same identity is left as it is."""
        recipe = self.hparams_file.parent.parent / "train.py"
        return [
            sys.executable,
            str(recipe),
            str(self.hparams_file),
            *self.arguments,
            SKIP_FINISHED,
        ]


def plan_study(
    hparams_files,
    data_folders,
    folds,
    seeds,
    arguments,
    study_folder,
    stage_two=(),
):
    """Every run of a study, stage ones first.

    Arguments
    ---------
    hparams_files : list of str
        The stage-one configuration files.
    data_folders : dict
        ``{corpus: folder}``; the key None serves every corpus.
    folds : "all" or list of int
        The folds of a fold protocol to run (a corpus with fixed splits
        runs once per seed).
    seeds : list of int
    arguments : list of str
        ``--key value`` settings for every run.
    study_folder : str or pathlib.Path
        Where the runs go (each at its configuration's ``output_folder``
        below it).
    stage_two : list of (str, str)
        ``(stage-one file, stage-two file)`` pairs: a stage two from each
        run of that stage-one configuration.

    Returns
    -------
    list of StudyRun

    Example
    -------
    >>> runs = plan_study(
    ...     ["recipes/IEMOCAP/hparams/lora.yaml"], {None: "/corpora/IEMOCAP"},
    ...     [1, 2], [7], ["--lr=0.01"], "/tmp/study",
    ...     [("recipes/IEMOCAP/hparams/lora.yaml",
    ...       "recipes/MSP-Podcast/hparams/stage2_from_iemocap.yaml")])
    >>> [run.name for run in runs]  # doctest: +NORMALIZE_WHITESPACE
    ['IEMOCAP_lora_fold1_seed7', 'IEMOCAP_lora_fold2_seed7',
     'MSP-Podcast_stage2_from_iemocap_seed7_from_IEMOCAP_lora_fold1_seed7',
     'MSP-Podcast_stage2_from_iemocap_seed7_from_IEMOCAP_lora_fold2_seed7']
    >>> str(runs[0].output_folder)
    '/tmp/study/results/IEMOCAP/lora/4class_merge_all/fold1/seed7'
    """
    study_folder = Path(study_folder).resolve()
    planner = _Planner(data_folders, arguments, study_folder)
    runs = [
        planner.run(Path(hparams_file).resolve(), fold, seed)
        for hparams_file in hparams_files
        for fold in planner.folds_of(Path(hparams_file).resolve(), folds)
        for seed in seeds
    ]
    for parent_file, child_file in stage_two:
        parents = [
            run
            for run in runs
            if run.parent is None
            and run.hparams_file == Path(parent_file).resolve()
        ]
        if not parents:
            raise ConfigError(
                f"--stage_two {parent_file} {child_file}: {parent_file} is "
                "not one of the study's configuration files; list it first"
            )
        runs += [
            planner.stage_two(Path(child_file).resolve(), parent)
            for parent in parents
        ]
    _check_folders_distinct(runs)
    return runs


def _chosen_folds(whose, protocol, chosen):
    """The folds of ``protocol`` (the folds of ``whose``: ``IEMOCAP``) to
    run: ``[None]`` for fixed splits (``protocol`` None)."""
    if protocol is None:
        return [None]
    if chosen == "all":
        return list(protocol)
    unknown = [fold for fold in chosen if fold not in protocol]
    if unknown:
        raise ConfigError(
            f"--folds {unknown}: the folds of {whose} are "
            f"{', '.join(map(str, protocol))}"
        )
    return list(chosen)


class _Planner:
    """Resolves runs' configurations with the study's settings."""

    def __init__(self, data_folders, arguments, study_folder):
        self.data_folders = data_folders
        self.arguments = list(arguments)
        self.study_folder = study_folder

    def corpus_of(self, hparams_file):
        """The ``corpus`` of a configuration file's runs: the study's
        ``--corpus`` (manifests of your own name theirs) or the file's."""
        _, _, overrides = parse_arguments(
            str(hparams_file), [str(hparams_file), *self.arguments]
        )
        return overrides.get("corpus", settings_named(hparams_file)["corpus"])

    def folds_of(self, hparams_file, chosen):
        """The folds to run ``hparams_file`` on: the EmoBox fold files'
        when it takes them (``emobox_folds``), else its corpus'."""
        corpus = self.corpus_of(hparams_file)
        config = self._resolve(hparams_file, self._data_folder(corpus))
        source = config.get("emobox_folds")
        if source:
            protocol = list(read_fold_files(source))
            return _chosen_folds(
                f"the EmoBox files in {source}", protocol, chosen
            )
        return _chosen_folds(corpus, corpus_folds(corpus), chosen)

    def run(self, hparams_file, fold, seed, parent=None, extra=()):
        """A planned run of ``hparams_file``."""
        protocol = [f"--seed={seed}"]
        protocol += [] if fold is None else [f"--fold={fold}"]
        corpus = self.corpus_of(hparams_file)
        arguments = [*self._data_folder(corpus), *protocol, *extra]
        config = self._resolve(hparams_file, arguments)
        config.update(emobox_output_folder(config, {}))
        folder = self._place(hparams_file, config["output_folder"])
        return StudyRun(
            hparams_file,
            corpus,
            config["config_name"],
            fold,
            seed,
            folder,
            [*arguments, *self.arguments, f"--output_folder={folder}"],
            {
                "data_folder": config["data_folder"],
                "save_folder": config["manifest_folder"],
                **(config.get("prep_options") or {}),
            },
            parent,
        )

    def stage_two(self, hparams_file, parent):
        """A stage two of ``hparams_file`` from the planned ``parent``."""
        corpus = self.corpus_of(hparams_file)
        fold = None
        if corpus_folds(corpus) is not None:
            if parent.fold is None:
                raise ConfigError(
                    f"{hparams_file}: a stage two on {corpus}'s folds needs a "
                    f"parent with folds; {parent.corpus} has fixed splits"
                )
            fold = parent.fold
        parent_name = run_name(
            parent.corpus, parent.config, parent.fold, parent.seed
        )
        return self.run(
            hparams_file,
            fold,
            parent.seed,
            parent,
            [
                f"--init_from={parent.output_folder}",
                f"--parent_name={parent_name}",
            ],
        )

    def _data_folder(self, corpus):
        folder = self.data_folders.get(corpus, self.data_folders.get(None))
        if folder is None:
            raise ConfigError(
                f"no --data_folder for {corpus}: pass --data_folder "
                f"{corpus}=DIR (or one DIR for every corpus)"
            )
        return [f"--data_folder={folder}"]

    def _resolve(self, hparams_file, arguments):
        """The configuration the run would resolve (nothing is built)."""
        path, _, overrides = parse_arguments(
            str(hparams_file), [str(hparams_file), *arguments, *self.arguments]
        )
        with placeholders_named(path):
            return resolve_config(path, overrides)

    def _place(self, hparams_file, output_folder):
        if Path(output_folder).is_absolute():
            raise ConfigError(
                f"{hparams_file}: output_folder is {output_folder}; a study "
                "places runs below its --output_folder, so the configuration's "
                "output_folder must be a relative pattern"
            )
        return self.study_folder / output_folder


def _check_folders_distinct(runs):
    """Two planned runs may not share an output folder."""
    seen = {}
    for run in runs:
        other = seen.setdefault(run.output_folder, run)
        if other is not run:
            raise ConfigError(
                f"{other.name} and {run.name} would share {run.output_folder}; "
                "list each configuration once"
            )
