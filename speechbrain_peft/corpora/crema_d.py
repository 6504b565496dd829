"""Prepare CREMA-D: actor-disjoint train/dev/test CSV manifests.

Reads the file names of ``AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>
.wav`` (e.g. ``1001_DFA_ANG_XX.wav``; macOS ``._*`` files are ignored, any
other ``.wav`` whose name does not parse is an error naming it) and the
actors' sex from ``VideoDemographics.csv``. Emotions ANG DIS FEA HAP NEU
SAD map to ang dis fea hap neu sad; class sets ``all`` (the six, default)
or ``4class`` (neu hap ang sad; DIS and FEA are skipped and counted).
``sentence`` and ``level`` (LO MD HI XX) are extra columns; the corpus has
no dimensional labels, so those columns are empty.

Split: within each sex separately, the actors are shuffled with ``seed``;
``test_fraction * n`` of them (rounded half up, at least one) go to test,
``dev_fraction * n`` to dev (likewise), the rest to train. With the
defaults (70/10/20), the release's 43 female and 48 male actors give
63 / 9 / 19 actors.

Older copies (and mirrors of them) name one file ``1040_ITH_SAD_X.wav``;
its level ``X`` is read as ``XX`` (unspecified), as the release later
renamed it, and the count of such names is logged.

The release as distributed ships ``AudioWAV/1076_MTI_SAD_XX.wav`` empty
(:data:`BROKEN_IN_RELEASE`): it is left out, logged and listed in
``prep_info.json`` (``invalid_audio``), and kept where a copy has it
whole. Other broken files (reported: header-only or silent ``1076_MTI_*``
wavs; a clone without git-lfs has only pointer files) fail the
preparation, listing every bad file; ``--skip-invalid-audio`` (the
recipe's ``--skip_invalid_audio=True``) leaves them out the same way.

Usage::

    python data_prep/crema_d_prepare.py \\
        --data-folder /data/CREMA-D --save-folder manifests

Authors
 * speechbrain-peft-ser developers 2026
"""

import csv
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from speechbrain_peft.corpora.registry import Corpus, register
from speechbrain_peft.data.manifest import (
    DIMENSIONS,
    MAX_LISTED,
    DataPrepError,
    Preparation,
    argument_parser,
    check_choice,
    locate_corpus,
    records_from_names,
    run_cli,
    to_manifest,
)
from speechbrain_peft.data.schema import SPLITS
from speechbrain_peft.data.splits import (
    add_split_options,
    check_fractions,
    gender_stratified_split,
)
from speechbrain_peft.synthetic.speech import (
    SAMPLE_RATE,
    corpus_rng,
    draw_n_samples,
    latent_point,
    speaker_voice,
    synthesise,
    utterance_summary,
    write_wav,
)

logger = logging.getLogger(__name__)

CORPUS = "CREMA-D"
AUDIO_FOLDER = "AudioWAV"
DEMOGRAPHICS = "VideoDemographics.csv"
EMOTIONS = {
    "ANG": "ang",
    "DIS": "dis",
    "FEA": "fea",
    "HAP": "hap",
    "NEU": "neu",
    "SAD": "sad",
}
LEVELS = ("LO", "MD", "HI", "XX")
# Misnamed levels of released copies -> the level the release meant.
LEVEL_ALIASES = {"X": "XX"}
CLASS_SETS = {
    "all": ("neu", "hap", "ang", "sad", "fea", "dis"),
    "4class": ("neu", "hap", "ang", "sad"),
}
SEXES = {"Female": "F", "Male": "M"}
# The release: 43 female and 48 male actors.
N_ACTORS = 91
HEADLINE_TEST = "test"
EXTRAS = ("sentence", "level", "emo_raw")
FILE_NAME = re.compile(r"^(\d+)_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})\.wav$")
# Files the release as distributed ships broken (empty): left out by rule.
BROKEN_IN_RELEASE = (f"{AUDIO_FOLDER}/1076_MTI_SAD_XX.wav",)
EXPECTED = (
    "the CREMA-D folder holding AudioWAV/ and VideoDemographics.csv (clone "
    "https://github.com/CheyneyComputerScience/CREMA-D with git-lfs)"
)


def parse_file_name(name):
    """Actor, sentence, emotion and level of an audio file name.

    Raises ``ValueError`` saying what is wrong with the name.

    Example
    -------
    >>> parse_file_name("1001_DFA_ANG_XX.wav")
    ('1001', 'DFA', 'ANG', 'XX')
    >>> parse_file_name("1040_ITH_SAD_X.wav")  # misnamed in older copies
    ('1040', 'ITH', 'SAD', 'XX')
    >>> parse_file_name("1001_DFA_BOR_XX.wav")
    Traceback (most recent call last):
    ...
    ValueError: unknown emotion code 'BOR' (known: ANG DIS FEA HAP NEU SAD)
    """
    match = FILE_NAME.match(name)
    if not match:
        raise ValueError(
            "not <ActorID>_<Sentence>_<Emotion>_<Level>.wav, e.g. "
            "1001_DFA_ANG_XX.wav"
        )
    actor, sentence, emotion, level = match.groups()
    if emotion not in EMOTIONS:
        raise ValueError(
            f"unknown emotion code {emotion!r} (known: {' '.join(EMOTIONS)})"
        )
    level = LEVEL_ALIASES.get(level, level)
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r} (known: {' '.join(LEVELS)})")
    return actor, sentence, emotion, level


def _record(path):
    """The manifest record of one file (raises ``ValueError``)."""
    actor, sentence, emotion, level = parse_file_name(path.name)
    return {
        "ID": path.stem,
        "path": f"{AUDIO_FOLDER}/{path.name}",
        "spk_id": actor,
        "emo_raw": emotion,
        "sentence": sentence,
        "level": level,
    }


def read_audio_names(audio_folder):
    """One record per wav in ``audio_folder``; all bad names in one error.

    Returns
    -------
    pandas.DataFrame
        ID, path, spk_id, emo_raw, sentence, level.
    """
    records = records_from_names(audio_folder, _record, EXPECTED)
    misnamed = [r["path"] for r in records if r["ID"][-2:] != r["level"]]
    if misnamed:
        logger.info(
            "%s: level read from %d misnamed file(s) (%s): %s",
            CORPUS,
            len(misnamed),
            ", ".join(f"{a} as {b}" for a, b in LEVEL_ALIASES.items()),
            ", ".join(misnamed[:MAX_LISTED]),
        )
    return pd.DataFrame(records)


def read_sexes(path):
    """``{ActorID: "F" or "M"}`` from the demographics file."""
    if not path.is_file():
        raise DataPrepError(
            f"{path} does not exist: CREMA-D's actor demographics are needed "
            "for the gender-stratified split; restore it from the release"
        )
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    if not {"ActorID", "Sex"} <= set(table.columns):
        raise DataPrepError(
            f"{path} lacks the ActorID and Sex columns (has "
            f"{list(table.columns)}); restore it from the release"
        )
    table["Sex"] = table["Sex"].str.strip()
    bad = ~table["Sex"].isin(list(SEXES))
    if bad.any():
        lines = list(table.index[bad] + 2)
        raise DataPrepError(
            f"{path}, line(s) {lines[:MAX_LISTED]}: Sex is not Female or Male"
        )
    return dict(zip(table["ActorID"].str.strip(), table["Sex"].map(SEXES)))


def prepare_crema_d(
    data_folder,
    save_folder,
    class_set="all",
    seed=1986,
    dev_fraction=0.1,
    test_fraction=0.2,
    skip_invalid_audio=False,
):
    """Write ``train.csv``, ``dev.csv``, ``test.csv`` and ``prep_info.json``.

    Skipped (nothing is read but ``prep_info.json``) when an earlier run
    used the same corpus folder and options, and neither the demographics
    file nor the AudioWAV listing changed.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The corpus folder, holding ``AudioWAV`` and the demographics.
    save_folder : str or pathlib.Path
        Output folder.
    class_set : str
        ``all`` (six emotions) or ``4class``.
    seed : int
        Seed of the actor shuffle.
    dev_fraction, test_fraction : float
        Shares of each sex's actors for dev and test.
    skip_invalid_audio : bool
        Leave out empty or unreadable wavs instead of failing.

    Returns
    -------
    dict
        The content of ``prep_info.json`` and ``reused`` (True when the
        earlier output was kept).
    """
    check_choice("class_set", class_set, CLASS_SETS)
    check_fractions(dev_fraction, test_fraction)
    options = {
        "class_set": class_set,
        "seed": int(seed),
        "dev_fraction": float(dev_fraction),
        "test_fraction": float(test_fraction),
        "skip_invalid_audio": bool(skip_invalid_audio),
    }
    data_folder = locate_corpus(data_folder, AUDIO_FOLDER, CORPUS, EXPECTED)
    audio_folder = data_folder / AUDIO_FOLDER
    demographics = data_folder / DEMOGRAPHICS
    sexes = read_sexes(demographics)
    prep = Preparation(
        CORPUS, data_folder, save_folder, options, [demographics, audio_folder]
    )
    previous = prep.previous()
    if previous is not None:
        return previous

    frame = read_audio_names(audio_folder)
    n_listed = len(frame)
    unknown = sorted(set(frame["spk_id"]) - set(sexes))
    if unknown:
        raise DataPrepError(
            f"Actor(s) {unknown[:MAX_LISTED]} have audio in {audio_folder} "
            f"but no row in {demographics}; restore the release's file"
        )
    frame["gender"] = frame["spk_id"].map(sexes)
    frame["emo"] = frame["emo_raw"].map(EMOTIONS)
    for dimension in DIMENSIONS:
        frame[dimension] = np.nan
    frame = prep.skip(
        frame,
        ~frame["emo"].isin(CLASS_SETS[class_set]),
        f"not in class set {class_set}",
    )
    frame = prep.read_audio(frame, broken_in_release=BROKEN_IN_RELEASE)
    actors = gender_stratified_split(
        {actor: sexes[actor] for actor in set(frame["spk_id"])},
        seed,
        dev_fraction,
        test_fraction,
        CORPUS,
        N_ACTORS,
    )
    manifests = {
        f"{split}.csv": to_manifest(
            frame[frame["spk_id"].isin(actors[split])], split, EXTRAS
        )
        for split in SPLITS
    }
    return prep.write(
        manifests,
        CLASS_SETS[class_set],
        n_listed=n_listed,
        extra={"actors": actors},
    )


# --- A synthetic copy in the release's layout, for the demo and the tests
CREMA_SENTENCES = ("IEO TIE IOM IWW TAI MTI IWL ITH DFA ITS TSI WSI").split()
# How strongly each level expresses the emotion (XX = unspecified).
CREMA_LEVELS = {"LO": 0.6, "MD": 0.9, "HI": 1.2, "XX": 1.0}
CREMA_RACES = ("Caucasian", "African American", "Asian", "Unknown")


def make_synthetic(
    root,
    n_actors=12,
    seed=0,
    sentences=("IEO", "DFA"),
    min_dur=1.0,
    max_dur=2.5,
):
    """Write a small CREMA-D in the layout of the real release.

    Written: ``AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav`` for
    actors 1001..1000+n_actors, every chosen sentence and the six emotions
    (as in the real corpus, sentence ``IEO`` comes at levels LO, MD and HI,
    its NEU and every other sentence at XX), and ``VideoDemographics.csv``
    with the real header ``ActorID,Age,Sex,Race,Ethnicity``. The level
    scales how strongly the emotion is expressed.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder (holding ``AudioWAV``).
    n_actors : int
        Number of actors, half female (the odd one out is male).
    seed : int
        Seed: the same arguments write the same bytes.
    sentences : tuple of str
        Sentence codes, from IEO TIE IOM IWW TAI MTI IWL ITH DFA ITS TSI WSI.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``demographics`` (path of the CSV), ``utterances``
        (DataFrame: id (file stem), path, speaker (int actor ID), gender
        ``Female``/``Male``, label, sentence, level, duration),
        ``n_utterances``, ``total_seconds``, ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_synthetic(tempfile.mkdtemp(), n_actors=2,
    ...                     sentences=("IEO",), min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["utterances"].id[0]
    (32, '1001_IEO_ANG_HI')
    """
    unknown = sorted(set(sentences) - set(CREMA_SENTENCES))
    if unknown or not sentences:
        raise ValueError(f"Unknown CREMA-D sentence codes: {unknown}")
    root = Path(root).resolve()
    rng = corpus_rng(seed, 3)
    genders = rng.permutation(
        ["Female"] * (n_actors // 2) + ["Male"] * (n_actors - n_actors // 2)
    )
    demographics = []
    records = []
    for index, sex in enumerate(genders):
        actor = 1001 + index
        voice = speaker_voice(rng, sex[0])
        demographics.append(
            [
                actor,
                int(rng.integers(20, 75)),
                sex,
                rng.choice(CREMA_RACES, p=[0.6, 0.2, 0.12, 0.08]),
                "Hispanic" if rng.random() < 0.1 else "Not Hispanic",
            ]
        )
        for sentence in sorted(sentences):
            for emotion in EMOTIONS:
                levels = ["XX"]
                if sentence == "IEO" and emotion != "NEU":
                    levels = ["HI", "LO", "MD"]
                for level in levels:
                    utt_id = f"{actor}_{sentence}_{emotion}_{level}"
                    n_samples = draw_n_samples(rng, min_dur, max_dur)
                    point, _ = latent_point(
                        rng, EMOTIONS[emotion], CREMA_LEVELS[level]
                    )
                    path = root / "AudioWAV" / f"{utt_id}.wav"
                    write_wav(path, synthesise(rng, n_samples, point, voice))
                    records.append(
                        {
                            "id": utt_id,
                            "path": str(path),
                            "speaker": actor,
                            "gender": str(sex),
                            "label": emotion,
                            "sentence": sentence,
                            "level": level,
                            "duration": n_samples / SAMPLE_RATE,
                        }
                    )
    demographics_path = root / "VideoDemographics.csv"
    with open(demographics_path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
        writer.writerows(demographics)
    frame = pd.DataFrame(records)
    return {
        "root": str(root),
        "demographics": str(demographics_path),
        **utterance_summary(frame),
    }


class CREMADCorpus(Corpus):
    """CREMA-D: one seeded actor-disjoint split, categorical only."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    prepare = staticmethod(prepare_crema_d)
    release_folder = "CREMA-D"
    make_synthetic = staticmethod(make_synthetic)


register(CREMADCorpus())


def main(argv=None):
    """Command line; see ``--help``."""
    parser = argument_parser(
        __doc__.split("\n")[0],
        "the CREMA-D folder (holding AudioWAV/ and VideoDemographics.csv)",
    )
    parser.add_argument(
        "--class-set",
        choices=tuple(CLASS_SETS),
        default="all",
        help="all: ang dis fea hap neu sad; 4class: neu hap ang sad",
    )
    add_split_options(parser)
    return run_cli(prepare_crema_d, parser, argv)
