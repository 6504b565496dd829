"""Prepare EmoDB: five speaker-independent folds of CSV manifests.

The Berlin Database of Emotional Speech (Burkhardt et al., Interspeech
2005; http://emodb.bilderbar.info/) holds 535 German utterances of 10
actors (5 female, 5 male), each one of ten sentences in one of seven
emotions, in ``wav/``. A file is named ``SSTTTEV.wav``, e.g.
``03a01Fa.wav``: speaker (03 08 09 10 11 12 13 14 15 16), text (a01 a02
a04 a05 a07 b01 b02 b03 b09 b10), emotion letter of the German name (W
Ärger/Wut anger, L Langeweile boredom, E Ekel disgust, A Angst fear,
F Freude happiness, T Trauer sadness, N neutral) and version (a, b, ...:
takes of the same sentence). The actors' genders are those of the
release's documentation (male 03 10 11 12 15, female 08 09 13 14 16).

Every ``.wav`` in ``wav/`` is read (macOS ``._*`` files ignored); any
name that does not parse, or names an unknown speaker, text or emotion,
is an error naming every such file. Emotions map to the shared codes ang
bor dis fea hap sad neu (boredom its own class); class sets ``all`` (the
seven, default) or ``4class`` (neu hap ang sad; the others are skipped
and counted). ``text`` and ``version`` are extra columns; EmoDB has no
dimensional labels.

Folds: the actors form five pairs of one male and one female actor, in
the order of their IDs: (03, 08), (10, 09), (11, 13), (12, 14),
(15, 16). In fold k, pair k is the test set; the dev set is one actor of
the next pair (pair 1 after pair 5), the female one in odd folds and the
male one in even folds; train is the other seven actors. Output:
``fold{1..5}/{train,dev,test}.csv`` and ``prep_info.json``.

EmoBox's published EmoDB folds are not speaker-independent (its fold 1
test set holds utterances of all ten actors), so they are not offered:
no split here may hold a speaker its model trained on.

Usage::

    python data_prep/emodb_prepare.py \\
        --data-folder /data/EmoDB --save-folder manifests

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from speechbrain_peft.corpora.registry import FoldCorpus, register
from speechbrain_peft.data.manifest import (
    DIMENSIONS,
    Preparation,
    argument_parser,
    check_choice,
    locate_corpus,
    records_from_names,
    run_cli,
    to_manifest,
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

CORPUS = "EmoDB"
AUDIO_FOLDER = "wav"
FILE_NAME = re.compile(r"^(\d{2})([a-z]\d{2})([A-Z])([a-z])\.wav$")
GENDERS = {
    "03": "M",
    "08": "F",
    "09": "F",
    "10": "M",
    "11": "M",
    "12": "M",
    "13": "F",
    "14": "F",
    "15": "M",
    "16": "F",
}
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
# Emotion letter (of the German name) -> (English name, shared code).
EMOTIONS = {
    "W": ("anger", "ang"),
    "L": ("boredom", "bor"),
    "E": ("disgust", "dis"),
    "A": ("fear", "fea"),
    "F": ("happiness", "hap"),
    "T": ("sadness", "sad"),
    "N": ("neutral", "neu"),
}
CLASS_SETS = {
    "all": ("neu", "hap", "ang", "sad", "bor", "dis", "fea"),
    "4class": ("neu", "hap", "ang", "sad"),
}
FOLDS = (1, 2, 3, 4, 5)
HEADLINE_TEST = "test"
EXTRAS = ("emo_raw", "text", "version")
EXPECTED = (
    "the EmoDB folder holding wav/ (download.zip from "
    "http://emodb.bilderbar.info/)"
)


def speaker_pairs():
    """The five (male, female) pairs of the folds, in order of the IDs.

    Example
    -------
    >>> speaker_pairs()[1]
    ('10', '09')
    """
    males = sorted(s for s, g in GENDERS.items() if g == "M")
    females = sorted(s for s, g in GENDERS.items() if g == "F")
    return list(zip(males, females))


def fold_speakers(fold):
    """``{split: [speaker, ...]}`` of one fold.

    Example
    -------
    >>> fold_speakers(1)["test"], fold_speakers(1)["dev"]
    (['03', '08'], ['09'])
    >>> fold_speakers(2)["dev"]
    ['11']
    """
    pairs = speaker_pairs()
    test = sorted(pairs[fold - 1])
    male, female = pairs[fold % len(pairs)]
    dev = [female if fold % 2 else male]
    train = sorted(set(GENDERS) - set(test) - set(dev))
    return {"train": train, "dev": dev, "test": test}


def parse_file_name(name):
    """Speaker, text, emotion letter and version of an audio file name.

    Raises ``ValueError`` saying what is wrong with the name.

    Example
    -------
    >>> parse_file_name("03a01Fa.wav")
    ('03', 'a01', 'F', 'a')
    >>> parse_file_name("04a01Fa.wav")
    Traceback (most recent call last):
    ...
    ValueError: unknown speaker 04 (known: 03 08 09 10 11 12 13 14 15 16)
    """
    match = FILE_NAME.match(name)
    if not match:
        raise ValueError(
            "not <speaker><text><emotion><version>.wav, e.g. 03a01Fa.wav"
        )
    speaker, text, emotion, version = match.groups()
    known = {
        "speaker": (speaker, GENDERS),
        "text": (text, TEXTS),
        "emotion letter": (emotion, EMOTIONS),
    }
    for field, (code, codes) in known.items():
        if code not in codes:
            raise ValueError(
                f"unknown {field} {code} (known: {' '.join(codes)})"
            )
    return speaker, text, emotion, version


def _record(path):
    """The manifest record of one file (raises ``ValueError``)."""
    speaker, text, emotion, version = parse_file_name(path.name)
    return {
        "ID": path.stem,
        "path": f"{AUDIO_FOLDER}/{path.name}",
        "spk_id": speaker,
        "gender": GENDERS[speaker],
        "emo_raw": EMOTIONS[emotion][0],
        "text": text,
        "version": version,
    }


def read_audio_names(audio_folder):
    """One record per wav in ``audio_folder``; all bad names in one error.

    Returns
    -------
    pandas.DataFrame
        ID, path, spk_id, gender, emo_raw, text, version.
    """
    return pd.DataFrame(records_from_names(audio_folder, _record, EXPECTED))


def prepare_emodb(
    data_folder, save_folder, class_set="all", skip_invalid_audio=False
):
    """Write ``fold{1..5}/{train,dev,test}.csv`` and ``prep_info.json``.

    Skipped (nothing is read but ``prep_info.json``) when an earlier run
    used the same corpus folder and options and the ``wav`` listing did
    not change.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The corpus folder, holding ``wav``.
    save_folder : str or pathlib.Path
        Output folder.
    class_set : str
        ``all`` (seven emotions) or ``4class``.
    skip_invalid_audio : bool
        Leave out empty or unreadable wavs instead of failing.

    Returns
    -------
    dict
        The content of ``prep_info.json`` and ``reused`` (True when the
        earlier output was kept).
    """
    check_choice("class_set", class_set, CLASS_SETS)
    options = {
        "class_set": class_set,
        "skip_invalid_audio": bool(skip_invalid_audio),
    }
    data_folder = locate_corpus(data_folder, AUDIO_FOLDER, CORPUS, EXPECTED)
    audio_folder = data_folder / AUDIO_FOLDER
    prep = Preparation(
        CORPUS, data_folder, save_folder, options, [audio_folder]
    )
    previous = prep.previous()
    if previous is not None:
        return previous

    frame = read_audio_names(audio_folder)
    n_listed = len(frame)
    frame["emo"] = frame["emo_raw"].map(dict(EMOTIONS.values()))
    for dimension in DIMENSIONS:
        frame[dimension] = np.nan
    frame = prep.skip(
        frame,
        ~frame["emo"].isin(CLASS_SETS[class_set]),
        f"not in class set {class_set}",
    )
    frame = prep.read_audio(frame)
    manifests = {}
    for fold in FOLDS:
        for split, speakers in fold_speakers(fold).items():
            manifests[f"fold{fold}/{split}.csv"] = to_manifest(
                frame[frame["spk_id"].isin(speakers)], split, EXTRAS
            )
    return prep.write(
        manifests,
        CLASS_SETS[class_set],
        n_listed=n_listed,
        extra={"folds": {fold: fold_speakers(fold) for fold in FOLDS}},
    )


# --- A synthetic copy in the release's layout, for the demo and the tests


def make_synthetic(
    root,
    texts=("a01", "a05", "b09"),
    second_take=0.3,
    seed=0,
    min_dur=1.0,
    max_dur=3.0,
):
    """Write a small EmoDB in the layout of the real release.

    Written: ``wav/<speaker><text><emotion><version>.wav`` for the ten
    speakers of the release (their genders as documented), the chosen
    texts and the seven emotions (letters W L E A F T N), each take
    ``a`` and, with probability ``second_take``, a take ``b``, as the
    release holds several takes of some sentences. ``lablaut/`` (label
    files the real release also has) is written empty beside it.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder.
    texts : tuple of str
        Text codes, from a01 a02 a04 a05 a07 b01 b02 b03 b09 b10.
    second_take : float
        Probability of a second take of each sentence and emotion.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``utterances`` (DataFrame: id, path, speaker, gender,
        label (shared code), duration), ``n_utterances``,
        ``total_seconds``, ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_synthetic(tempfile.mkdtemp(), texts=("a01",),
    ...                   second_take=0.0, min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["utterances"].id[0]
    (70, '03a01Wa')
    """
    root = Path(root).resolve()
    rng = corpus_rng(seed, 6)
    (root / "lablaut").mkdir(parents=True, exist_ok=True)
    records = []
    for speaker, gender in GENDERS.items():
        voice = speaker_voice(rng, gender)
        for text in texts:
            for letter, (_, label) in EMOTIONS.items():
                takes = ["a"] + (["b"] if rng.random() < second_take else [])
                for take in takes:
                    name = f"{speaker}{text}{letter}{take}"
                    point, _ = latent_point(rng, label, 1.0)
                    n_samples = draw_n_samples(rng, min_dur, max_dur)
                    path = root / "wav" / f"{name}.wav"
                    write_wav(path, synthesise(rng, n_samples, point, voice))
                    records.append(
                        {
                            "id": name,
                            "path": str(path),
                            "speaker": speaker,
                            "gender": gender,
                            "label": label,
                            "duration": n_samples / SAMPLE_RATE,
                        }
                    )
    return {"root": str(root), **utterance_summary(pd.DataFrame(records))}


class EmoDBCorpus(FoldCorpus):
    """EmoDB: five folds of speaker pairs, categorical only."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    folds = FOLDS
    fold_tests_on = "speaker pair"
    prepare = staticmethod(prepare_emodb)
    release_folder = "EmoDB"
    make_synthetic = staticmethod(make_synthetic)


register(EmoDBCorpus())


def main(argv=None):
    """Command line; see ``--help``."""
    parser = argument_parser(
        __doc__.split("\n")[0], "the EmoDB folder (holding wav/)"
    )
    parser.add_argument(
        "--class-set",
        choices=tuple(CLASS_SETS),
        default="all",
        help="all: neu hap ang sad bor dis fea; 4class: neu hap ang sad",
    )
    return run_cli(prepare_emodb, parser, argv)
