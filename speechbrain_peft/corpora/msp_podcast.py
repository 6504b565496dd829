"""Prepare MSP-Podcast: CSV manifests of the official partition.

Reads ``Labels/labels_consensus.csv`` (columns ``FileName, EmoClass,
EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set``) and the headers of
``Audios/<FileName>``. ``Split_Set`` gives the manifests: ``train.csv``
(Train), ``dev.csv`` (Development) and ``test1.csv``, ``test2.csv``,
``test3.csv`` for the test sets present in the label file. Dimensions
(EmoAct -> ``arousal``, EmoVal -> ``valence``, EmoDom -> ``dominance``)
stay on their 1-7 scale; an empty value stays empty.

``EmoClass`` codes A S H U F D C N O X map to ang sad hap sur fea dis con
neu oth and X (no agreed label). Class sets: ``8class`` (default: the
eight primary emotions) or ``4class`` (neu hap ang sad). X is always
skipped; O is skipped by default or kept as ``oth`` (``--other keep``).
Skipped utterances are counted per reason and raw code in the log and in
``prep_info.json``. The dimensional manifests (``dimensional/<split>.csv``)
hold every rated utterance of each split, X and O included.

Audio files without a row in the label file (the release withholds the
labels of Test3) get no manifest; their number is logged and stored as
``unlabelled_audio``.

Speakers: many utterances have ``SpkrID`` (and ``Gender``) ``Unknown``.
Each such utterance gets a speaker of its own, ``unknown_<ID>``, so that
they do not count as one speaker found in every split (their number is
logged and stored as ``unknown_speakers``). Known speakers must not cross
splits, except between test sets: the corpus documents that its test sets
share some speakers.

Usage::

    python data_prep/msp_podcast_prepare.py \\
        --data-folder /data/MSP-Podcast --save-folder manifests

Authors
 * speechbrain-peft-ser developers 2026
"""

import csv
import logging
import os
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from speechbrain_peft.corpora.registry import Corpus, register
from speechbrain_peft.data.manifest import (
    DIMENSIONAL,
    DataPrepError,
    Preparation,
    argument_parser,
    bullet_list,
    check_choice,
    count_out_of_scale,
    locate_corpus,
    run_cli,
    to_manifest,
)
from speechbrain_peft.synthetic.speech import (
    SAMPLE_RATE,
    corpus_rng,
    draw_n_samples,
    labels_for_speaker,
    latent_point,
    rater_scores,
    speaker_voice,
    synthesise,
    utterance_summary,
    write_wav,
)

logger = logging.getLogger(__name__)

CORPUS = "MSP-Podcast"
LABEL_FILE = "Labels/labels_consensus.csv"
AUDIO_FOLDER = "Audios"
COLUMNS = (
    "FileName",
    "EmoClass",
    "EmoAct",
    "EmoVal",
    "EmoDom",
    "SpkrID",
    "Gender",
    "Split_Set",
)
# EmoClass -> shared code; X (no agreed label) has none.
EMO_CLASSES = {
    "A": "ang",
    "S": "sad",
    "H": "hap",
    "U": "sur",
    "F": "fea",
    "D": "dis",
    "C": "con",
    "N": "neu",
    "O": "oth",
    "X": None,
}
CLASS_SETS = {
    "8class": ("neu", "hap", "ang", "sad", "sur", "fea", "dis", "con"),
    "4class": ("neu", "hap", "ang", "sad"),
}
OTHER = ("drop", "keep")
SPLITS = {
    "Train": "train",
    "Development": "dev",
    "Test1": "test1",
    "Test2": "test2",
    "Test3": "test3",
}
TEST_SPLITS = ("test1", "test2", "test3")
# The test set papers report (Test2 and Test3 came with later releases).
HEADLINE_TEST = "test1"
GENDERS = {"female": "F", "male": "M", "unknown": None, "": None}
DIMENSIONS = {"EmoAct": "arousal", "EmoVal": "valence", "EmoDom": "dominance"}
SCALE = (1.0, 7.0)
EXTRAS = ("emo_raw",)
EXPECTED = (
    "the MSP-Podcast folder holding Audios/ and Labels/ (the corpus is "
    "licensed by UT Dallas: https://ecs.utdallas.edu/research/researchlabs/"
    "msp-lab/MSP-Podcast.html)"
)


def read_labels(path):
    """Parse the consensus label file into one record per utterance.

    Every problem (unknown EmoClass, Split_Set or Gender, non-numeric
    dimension) is collected and raised as one error naming the lines.

    Returns
    -------
    pandas.DataFrame
        ID, path, spk_id, gender, emo_raw, arousal, valence, dominance,
        split.
    """
    table = pd.read_csv(
        path, dtype=str, keep_default_na=False, skipinitialspace=True
    )
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise DataPrepError(
            f"{path} lacks column(s) {missing} (it has {list(table.columns)}); "
            f"expected the release's header {','.join(COLUMNS)}"
        )
    table = table.apply(lambda column: column.str.strip())
    problems = []
    # Line numbers as an editor shows them: the header is line 1.
    lines = table.index + 2
    checks = {
        "EmoClass": (table["EmoClass"], EMO_CLASSES),
        "Split_Set": (table["Split_Set"], SPLITS),
        "Gender": (table["Gender"].str.lower(), GENDERS),
    }
    for column, (values, known) in checks.items():
        bad = ~values.isin(list(known))
        for line, value in zip(lines[bad], table.loc[bad, column]):
            problems.append(f"line {line}: unknown {column} {value!r}")
    frame = pd.DataFrame(
        {
            "ID": table["FileName"].str.removesuffix(".wav"),
            "path": AUDIO_FOLDER + "/" + table["FileName"],
            "spk_id": table["SpkrID"],
            "gender": table["Gender"].str.lower().map(GENDERS),
            "emo_raw": table["EmoClass"],
            "split": table["Split_Set"].map(SPLITS),
        }
    )
    for column, name in DIMENSIONS.items():
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & (table[column] != "")
        for line, value in zip(lines[bad], table.loc[bad, column]):
            problems.append(f"line {line}: {column} {value!r} is not a number")
        frame[name] = values
    if problems:
        raise DataPrepError(
            f"{path} has {len(problems)} problem(s):{bullet_list(problems)}"
            f"\nKnown EmoClass codes: {' '.join(EMO_CLASSES)}; Split_Set: "
            f"{', '.join(SPLITS)}. Restore the file from the corpus release."
        )
    return frame


def name_unknown_speakers(frame):
    """Give each utterance of an unknown speaker its own ``unknown_<ID>``.

    Example
    -------
    >>> frame = pd.DataFrame({"ID": ["a", "b"], "spk_id": ["7", "Unknown"]})
    >>> list(name_unknown_speakers(frame)["spk_id"])
    ['7', 'unknown_b']
    """
    unknown = frame["spk_id"].str.lower().isin(["unknown", ""])
    return frame.assign(
        spk_id=frame["spk_id"].where(~unknown, "unknown_" + frame["ID"])
    )


def prepare_msp_podcast(
    data_folder,
    save_folder,
    class_set="8class",
    other="drop",
    skip_invalid_audio=False,
):
    """Write the partition's manifests and ``prep_info.json``.

    Skipped (nothing is read but ``prep_info.json``) when an earlier run
    used the same corpus folder, options and unchanged label file.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The corpus folder, holding ``Audios`` and ``Labels``.
    save_folder : str or pathlib.Path
        Output folder: ``train.csv``, ``dev.csv``, ``test{1,2,3}.csv`` (the
        test sets in the label file), ``prep_info.json``.
    class_set : str
        ``8class`` or ``4class``.
    other : str
        ``drop`` or ``keep`` the O (other) utterances (kept as ``oth``).
    skip_invalid_audio : bool
        Leave out missing or unreadable wavs instead of failing.

    Returns
    -------
    dict
        The content of ``prep_info.json`` and ``reused`` (True when the
        earlier output was kept).
    """
    check_choice("class_set", class_set, CLASS_SETS)
    check_choice("other", other, OTHER)
    options = {
        "class_set": class_set,
        "other": other,
        "skip_invalid_audio": bool(skip_invalid_audio),
    }
    data_folder = locate_corpus(data_folder, LABEL_FILE, CORPUS, EXPECTED)
    audio_folder = data_folder / AUDIO_FOLDER
    if not audio_folder.is_dir():
        raise DataPrepError(
            f"{audio_folder} does not exist: the MSP-Podcast audio is missing "
            f"from {data_folder}; extract Audios.tar there"
        )
    label_file = data_folder / LABEL_FILE
    prep = Preparation(
        CORPUS, data_folder, save_folder, options, [label_file, audio_folder]
    )
    previous = prep.previous()
    if previous is not None:
        return previous

    frame = read_labels(label_file)
    n_listed = len(frame)
    for needed in ("train", "dev"):
        if not (frame["split"] == needed).any():
            raise DataPrepError(
                f"{label_file} has no {needed} utterances (Split_Set values: "
                f"{sorted(frame['split'].unique())}); restore the release's "
                "label file"
            )
    present = [
        split for split in SPLITS.values() if split in set(frame["split"])
    ]
    frame = name_unknown_speakers(frame)
    n_unknown = int(frame["spk_id"].str.startswith("unknown_").sum())
    logger.info(
        "%s: %d utterance(s) of unknown speakers, each given a speaker of "
        "its own",
        CORPUS,
        n_unknown,
    )
    unlabelled = count_unlabelled_audio(audio_folder, frame)
    frame = prep.read_audio(frame)
    label_set = CLASS_SETS[class_set] + (("oth",) if other == "keep" else ())
    frame["emo"] = frame["emo_raw"].map(EMO_CLASSES)
    categorical = prep.skip(frame, frame["emo"].isna(), "no agreed label (X)")
    categorical = prep.skip(
        categorical,
        ~categorical["emo"].isin(label_set),
        f"not in class set {class_set} with other={other}",
    )
    # Every rated utterance, X (no agreed category) and O included.
    dimensional = prep.skip(
        frame,
        frame[list(DIMENSIONS.values())].isna().any(axis=1),
        "dimensional manifests: no attribute ratings",
    )
    return prep.write(
        split_manifests(categorical, present),
        label_set,
        n_listed=n_listed,
        may_share=combinations(TEST_SPLITS, 2),
        extra={
            "unknown_speakers": n_unknown,
            "unlabelled_audio": unlabelled,
            "out_of_scale_dimensions": count_out_of_scale(frame, SCALE, CORPUS),
        },
        dimensional=split_manifests(dimensional, present),
        dimension_scale=SCALE,
    )


def split_manifests(frame, splits):
    """``{"<split>.csv": manifest}`` for the given official splits."""
    return {
        f"{split}.csv": to_manifest(
            frame[frame["split"] == split], split, EXTRAS
        )
        for split in splits
    }


def count_unlabelled_audio(audio_folder, frame):
    """How many audio files the label file does not list (the release
    withholds the labels of Test3); logged, as they get no manifest."""
    listed = set(frame["path"].str.removeprefix(AUDIO_FOLDER + "/"))
    unlabelled = sum(
        1
        for entry in os.scandir(audio_folder)
        if entry.name.endswith(".wav") and entry.name not in listed
    )
    if unlabelled:
        logger.info(
            "%s: %d audio file(s) in %s have no row in the label file (the "
            "release withholds Test3's labels): no manifest lists them",
            CORPUS,
            unlabelled,
            audio_folder,
        )
    return unlabelled


def manifest_paths(save_folder, task="categorical"):
    """``{split: manifest}`` of the prepared splits of one task: train,
    dev and every test set the label file has.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("train", "dev", "test2", "test1"):
    ...     _ = (folder / f"{name}.csv").write_text("")
    >>> list(manifest_paths(folder))
    ['train', 'dev', 'test1', 'test2']
    """
    folder = Path(save_folder)
    if task == "dimensional":
        folder = folder / DIMENSIONAL
    manifests = {"train": folder / "train.csv", "dev": folder / "dev.csv"}
    for test in sorted(folder.glob("test*.csv")):
        manifests[test.stem] = test
    return manifests


# --- A synthetic copy in the release's layout, for the demo and the tests
# Mostly N, H, A and S, as in the real corpus, with every class present.
MSP_CYCLE = "N H A S N H A S N U C X N H A S F D O X N H A S".split()


def _rating_text(value):
    """A consensus rating as the real CSV prints it: ``4.0``, ``3.777778``."""
    return repr(round(float(value), 6))


def _split_sizes(n_speakers, test_sets):
    """Speakers per split: ~10% dev, ~8% per test set, the rest train."""
    dev = max(1, round(0.1 * n_speakers))
    test = max(1, round(0.08 * n_speakers))
    train = n_speakers - dev - test * len(test_sets)
    if train < 1:
        raise ValueError(
            f"{n_speakers} speakers are too few for Train, Development and "
            f"{len(test_sets)} test sets"
        )
    return [("Train", train), ("Development", dev)] + [
        (name, test) for name in test_sets
    ]


def make_synthetic(
    root,
    utts_per_speaker=8,
    n_speakers=16,
    seed=0,
    n_unknown=12,
    test_sets=("Test1", "Test2", "Test3"),
    min_dur=1.0,
    max_dur=4.0,
    labelled_test3=False,
):
    """Write a small MSP-Podcast in the layout of the real release.

    Written: ``Audios/MSP-PODCAST_<podcast>_<segment>.wav`` and
    ``Labels/labels_consensus.csv`` with the real header
    (``FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set``),
    sorted by file name. EmoClass is one of A S H U F D C N O X (mostly N,
    H, A, S); the dimensions are means of five to seven 1-7 ratings. Known
    speakers (integer IDs, one podcast each) belong to exactly one split;
    ``n_unknown`` further utterances in the test sets have SpkrID and
    Gender ``Unknown``. Emotions are expressed less strongly and recorded
    noisier than in the acted corpora. As in the release, Test3's audio is
    in ``Audios`` but its labels are withheld: it has no row in the label
    file (``labelled_test3`` writes them, for tests of a labelled Test3).

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder (holding ``Audios`` and ``Labels``).
    utts_per_speaker : int
        Utterances per known speaker.
    n_speakers : int
        Known speakers, split into Train, Development and the test sets.
    seed : int
        Seed: the same arguments write the same bytes.
    n_unknown : int
        Utterances of unknown speakers, spread over the test sets.
    test_sets : tuple of str
        Test split names to use, from ``Test1``, ``Test2``, ``Test3``.
    min_dur, max_dur : float
        Range of utterance durations in seconds.
    labelled_test3 : bool
        List Test3 in the label file (the release does not).

    Returns
    -------
    dict
        ``root``, ``labels`` (path of the CSV), ``utterances`` (DataFrame
        of the labelled utterances: id without ``.wav``, path, speaker
        (int or ``Unknown``), gender, label, arousal, valence, dominance,
        split, duration), ``unlabelled`` (the same for the utterances the
        label file withholds), ``n_utterances``, ``total_seconds``,
        ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_synthetic(tempfile.mkdtemp(), utts_per_speaker=1,
    ...                         n_speakers=5, n_unknown=2,
    ...                         test_sets=("Test1",), min_dur=0.4,
    ...                         max_dur=0.5)
    >>> info["utterances"].groupby("split").size().to_dict()
    {'Development': 1, 'Test1': 3, 'Train': 3}
    """
    unknown_tests = [
        name for name in test_sets if name not in {"Test1", "Test2", "Test3"}
    ]
    if unknown_tests or not test_sets:
        raise ValueError(
            f"test_sets must come from Test1..Test3, got {test_sets}"
        )
    root = Path(root).resolve()
    rng = corpus_rng(seed, 2)
    splits = _split_sizes(n_speakers, test_sets)
    speaker_ids = np.sort(
        rng.choice(np.arange(1, 2000), n_speakers, replace=False)
    )
    podcasts = rng.choice(
        np.arange(1, 3000), n_speakers + n_unknown, replace=False
    )
    # (speaker, gender, split, podcast, n_utts) for every recording source.
    sources = []
    position = 0
    for split, count in splits:
        for i in range(count):
            # Alternating genders keep every split balanced.
            gender = "Female" if i % 2 == 0 else "Male"
            sources.append(
                (
                    int(speaker_ids[position]),
                    gender,
                    split,
                    podcasts[position],
                    utts_per_speaker,
                )
            )
            position += 1
    for i in range(n_unknown):
        split = test_sets[i % len(test_sets)]
        sources.append(("Unknown", "Unknown", split, podcasts[position + i], 1))
    records = []
    for index, (speaker, gender, split, podcast, count) in enumerate(sources):
        voice = speaker_voice(rng, gender[0])
        labels = labels_for_speaker(MSP_CYCLE, index, count, rng)
        segment = int(rng.integers(1, 50))
        for label in labels:
            utt_id = f"MSP-PODCAST_{podcast:04d}_{segment:04d}"
            segment += int(rng.integers(1, 6))
            n_samples = draw_n_samples(rng, min_dur, max_dur)
            # X (no agreed label) is voiced as a blend of two classes.
            point, _ = latent_point(rng, EMO_CLASSES[label] or "xxx", 0.6)
            noise_db = rng.uniform(-50.0, -38.0)
            path = root / "Audios" / f"{utt_id}.wav"
            write_wav(path, synthesise(rng, n_samples, point, voice, noise_db))
            ratings = rater_scores(rng, point, int(rng.integers(5, 8)), 7)
            arousal, valence, dominance = ratings.mean(axis=0)
            records.append(
                {
                    "id": utt_id,
                    "path": str(path),
                    "speaker": speaker,
                    "gender": gender,
                    "label": label,
                    "arousal": round(float(arousal), 6),
                    "valence": round(float(valence), 6),
                    "dominance": round(float(dominance), 6),
                    "split": split,
                    "duration": n_samples / SAMPLE_RATE,
                }
            )
    frame = pd.DataFrame(records).sort_values("id", ignore_index=True)
    withheld = (frame["split"] == "Test3") & (not labelled_test3)
    unlabelled = frame[withheld].reset_index(drop=True)
    frame = frame[~withheld].reset_index(drop=True)
    labels_path = root / "Labels" / "labels_consensus.csv"
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    with open(labels_path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in frame.itertuples():
            writer.writerow(
                [
                    f"{row.id}.wav",
                    row.label,
                    _rating_text(row.arousal),
                    _rating_text(row.valence),
                    _rating_text(row.dominance),
                    row.speaker,
                    row.gender,
                    row.split,
                ]
            )
    return {
        "root": str(root),
        "labels": str(labels_path),
        "unlabelled": unlabelled,
        **utterance_summary(frame),
    }


class MSPPodcastCorpus(Corpus):
    """MSP-Podcast: the official splits, every labelled test set scored."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    prepare = staticmethod(prepare_msp_podcast)
    release_folder = "MSP-Podcast"
    make_synthetic = staticmethod(make_synthetic)

    def manifest_paths(self, hparams):
        """The run's task's splits."""
        return manifest_paths(hparams["manifest_folder"], hparams["task"])


register(MSPPodcastCorpus())


def main(argv=None):
    """Command line; see ``--help``."""
    parser = argument_parser(
        __doc__.split("\n")[0],
        "the MSP-Podcast folder (holding Audios/ and Labels/)",
    )
    parser.add_argument(
        "--class-set",
        choices=tuple(CLASS_SETS),
        default="8class",
        help="8class: the eight primary emotions; 4class: neu, hap, ang, sad",
    )
    parser.add_argument(
        "--other",
        choices=OTHER,
        default="drop",
        help="drop the O (other) utterances, or keep them as class oth; X "
        "(no agreed label) is always dropped",
    )
    return run_cli(prepare_msp_podcast, parser, argv)
