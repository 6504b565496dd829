"""Prepare RAVDESS: actor-disjoint train/dev/test CSV manifests of its
audio-only speech (and, on request, song) recordings.

The Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone
& Russo, 2018; https://zenodo.org/records/1188976) has 24 actors (odd IDs
male, even female). Its audio-only archives ``Audio_Speech_Actors_01-24``
and ``Audio_Song_Actors_01-24`` each unpack to ``Actor_01/`` ...
``Actor_24/``; a file is named by seven two-digit fields,
``MM-VV-EE-II-SS-RR-AA.wav``: modality (03 audio-only), vocal channel
(01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad,
05 angry, 06 fearful, 07 disgust, 08 surprised), intensity (01 normal,
02 strong; neutral has normal only), statement (01 "Kids are talking by
the door", 02 "Dogs are sitting by the door"), repetition (01, 02) and
actor. The speech release has 60 files per actor (1,440); the song
release 44 per actor but none for actor 18 (1,012).

The corpus folder holds the ``Actor_XX`` folders, or the two archives
unpacked side by side, each in its own folder. Every ``.wav`` inside an
``Actor_XX`` folder anywhere under the corpus folder is read (macOS
``._*`` files ignored); a name that does not parse, is not audio-only, or
names another actor than its folder is an error naming every such file.
The widely shared copy holds the speech files twice (``Actor_XX/`` at the
top and again under ``audio_speech_actors_01-24/``): a file name found
more than once is one utterance, read from its shallowest folder, and
the count of such names is logged and stored in ``prep_info.json``
(``duplicate_names``); copies of one name that differ in size are an
error naming them.

Emotions map to the shared codes neu cal hap sad ang fea dis sur (calm is
its own class); class sets ``all`` (the eight, default) or ``4class``
(neu hap ang sad; the others are skipped and counted). ``vocal_channel``
chooses ``speech`` (default), ``song`` or ``both``; the others are
skipped and counted. ``vocal_channel``, ``intensity``, ``statement`` and
``repetition`` are extra columns; RAVDESS has no dimensional labels.

Split: within each gender, the actors are shuffled with ``seed``;
``test_fraction * n`` of them (rounded half up, at least one) go to test,
``dev_fraction * n`` to dev, the rest to train: 18 / 2 / 4 actors with
the defaults (70/10/20).

Usage::

    python data_prep/ravdess_prepare.py \\
        --data-folder /data/RAVDESS --save-folder manifests

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from speechbrain_peft.corpora.registry import Corpus, register
from speechbrain_peft.data.manifest import (
    DIMENSIONS,
    DataPrepError,
    Preparation,
    argument_parser,
    bullet_list,
    check_choice,
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

CORPUS = "RAVDESS"
N_ACTORS = 24
ACTOR_FOLDER = re.compile(r"^Actor_(\d{2})$")
FILE_NAME = re.compile(
    r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$"
)
AUDIO_ONLY = "03"
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
VOCAL_CHOICES = {
    "speech": ("speech",),
    "song": ("song",),
    "both": ("speech", "song"),
}
# Emotion code -> (name in the release's documentation, shared code).
EMOTIONS = {
    "01": ("neutral", "neu"),
    "02": ("calm", "cal"),
    "03": ("happy", "hap"),
    "04": ("sad", "sad"),
    "05": ("angry", "ang"),
    "06": ("fearful", "fea"),
    "07": ("disgust", "dis"),
    "08": ("surprised", "sur"),
}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = ("01", "02")
REPETITIONS = ("01", "02")
CLASS_SETS = {
    "all": ("neu", "cal", "hap", "sad", "ang", "fea", "dis", "sur"),
    "4class": ("neu", "hap", "ang", "sad"),
}
EXTRAS = ("emo_raw", "vocal_channel", "intensity", "statement", "repetition")
HEADLINE_TEST = "test"
EXPECTED = (
    "the RAVDESS folder holding Actor_01/ ... Actor_24/, or the archives "
    "unpacked side by side (Audio_Speech_Actors_01-24.zip from "
    "https://zenodo.org/records/1188976)"
)


def locate_ravdess(data_folder):
    """The corpus folder: one with ``Actor_XX`` folders in it or one level
    down (the two archives unpacked side by side); otherwise an error
    naming the folder to pass.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> (root / "Audio_Song_Actors_01-24" / "Actor_01").mkdir(parents=True)
    >>> locate_ravdess(root) == root
    True
    >>> locate_ravdess(root / "Audio_Song_Actors_01-24" / "Actor_01")
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: ...pass --data-folder ...
    """
    folder = Path(data_folder).expanduser().resolve()
    if not folder.is_dir():
        raise DataPrepError(
            f"{CORPUS} folder {folder} does not exist or is not a folder. "
            f"Pass --data-folder {EXPECTED}"
        )
    if ACTOR_FOLDER.match(folder.name):
        raise DataPrepError(
            f"{folder} is one actor's folder, not the corpus: pass "
            f"--data-folder {folder.parent}"
        )
    actors = [*folder.glob("Actor_??"), *folder.glob("*/Actor_??")]
    if not any(path.is_dir() for path in actors):
        raise DataPrepError(
            f"{folder} has no Actor_XX folder, in it or one level down. "
            f"Pass --data-folder {EXPECTED}"
        )
    return folder


def parse_file_name(name):
    """The fields of an audio file name, checked.

    Returns
    -------
    dict
        ``actor``, ``vocal_channel`` (speech or song), ``emotion`` (the
        release's name), ``intensity``, ``statement``, ``repetition``.

    Raises ``ValueError`` saying what is wrong with the name.

    Example
    -------
    >>> parse_file_name("03-01-02-02-01-02-12.wav")["emotion"]
    'calm'
    >>> parse_file_name("01-01-02-02-01-02-12.wav")
    Traceback (most recent call last):
    ...
    ValueError: modality 01 is not audio-only (03): a video file's name?
    """
    match = FILE_NAME.match(name)
    if not match:
        raise ValueError(
            "not MM-VV-EE-II-SS-RR-AA.wav (seven two-digit fields), e.g. "
            "03-01-05-02-01-01-12.wav"
        )
    modality, vocal, emotion, intensity, statement, repetition, actor = (
        match.groups()
    )
    if modality != AUDIO_ONLY:
        raise ValueError(
            f"modality {modality} is not audio-only ({AUDIO_ONLY}): a video "
            "file's name?"
        )
    known = {
        "vocal channel": (vocal, VOCAL_CHANNELS),
        "emotion": (emotion, EMOTIONS),
        "intensity": (intensity, INTENSITIES),
        "statement": (statement, STATEMENTS),
        "repetition": (repetition, REPETITIONS),
    }
    for field, (code, codes) in known.items():
        if code not in codes:
            raise ValueError(
                f"unknown {field} code {code} (known: {' '.join(codes)})"
            )
    if not 1 <= int(actor) <= N_ACTORS:
        raise ValueError(f"actor {actor} is not one of 01-{N_ACTORS}")
    return {
        "actor": actor,
        "vocal_channel": VOCAL_CHANNELS[vocal],
        "emotion": EMOTIONS[emotion][0],
        "intensity": INTENSITIES[intensity],
        "statement": statement,
        "repetition": repetition,
    }


def _audio_files(data_folder):
    """Every ``.wav`` in an ``Actor_XX`` folder under ``data_folder``,
    shallowest first."""
    files = [
        path
        for path in data_folder.rglob("*.wav")
        if ACTOR_FOLDER.match(path.parent.name)
        and not path.name.startswith("._")
    ]
    return sorted(
        files, key=lambda p: (len(p.relative_to(data_folder).parts), str(p))
    )


def _record(path, data_folder):
    """The manifest record of one file (raises ``ValueError``)."""
    fields = parse_file_name(path.name)
    folder_actor = ACTOR_FOLDER.match(path.parent.name).group(1)
    if folder_actor != fields["actor"]:
        raise ValueError(
            f"in {path.parent.name} but the name says actor {fields['actor']}"
        )
    return {
        "ID": path.stem,
        "path": path.relative_to(data_folder).as_posix(),
        "spk_id": fields["actor"],
        # The release's convention: odd actors are male, even female.
        "gender": "M" if int(fields["actor"]) % 2 else "F",
        "emo_raw": fields["emotion"],
        **{key: fields[key] for key in EXTRAS if key != "emo_raw"},
    }


def _check_duplicates(data_folder, copies):
    """Refuse copies of one file name that differ in size."""
    differing = [
        " vs ".join(
            f"{p.relative_to(data_folder)} ({p.stat().st_size} B)"
            for p in paths
        )
        for paths in copies.values()
        if len({p.stat().st_size for p in paths}) > 1
    ]
    if differing:
        raise DataPrepError(
            f"{len(differing)} RAVDESS file name(s) appear more than once "
            "with different contents, so which is the utterance is not "
            f"known:{bullet_list(differing)}\nKeep one copy of each (the "
            "release's Actor_XX folders) and rerun."
        )


def read_audio_names(data_folder):
    """One record per utterance (a file name found twice is one); all bad
    names in one error.

    Returns
    -------
    frame : pandas.DataFrame
        ID, path, spk_id, gender, emo_raw, vocal_channel, intensity,
        statement, repetition.
    n_duplicate_names : int
        File names found in more than one folder.
    """
    records, problems, copies = {}, [], {}
    for path in _audio_files(data_folder):
        copies.setdefault(path.name, []).append(path)
        if path.name in records:
            continue
        try:
            records[path.name] = _record(path, data_folder)
        except ValueError as error:
            problems.append(f"{path.relative_to(data_folder)}: {error}")
    if problems:
        raise DataPrepError(
            f"{len(problems)} file name(s) under {data_folder} do not parse:"
            f"{bullet_list(problems)}\nRename them as in the release, or "
            "move them out of the Actor_XX folders."
        )
    if not records:
        raise DataPrepError(
            f"{data_folder} holds no .wav in Actor_XX folders; pass "
            f"--data-folder {EXPECTED}"
        )
    copies = {name: paths for name, paths in copies.items() if len(paths) > 1}
    _check_duplicates(data_folder, copies)
    if copies:
        example = next(iter(copies.values()))
        logger.info(
            "%s: %d file name(s) appear in more than one folder (e.g. %s); "
            "each is one utterance, read from %s",
            CORPUS,
            len(copies),
            ", ".join(str(p.relative_to(data_folder)) for p in example),
            example[0].relative_to(data_folder),
        )
    return pd.DataFrame(records.values()), len(copies)


def prepare_ravdess(
    data_folder,
    save_folder,
    class_set="all",
    vocal_channel="speech",
    seed=1986,
    dev_fraction=0.1,
    test_fraction=0.2,
    skip_invalid_audio=False,
):
    """Write ``train.csv``, ``dev.csv``, ``test.csv`` and ``prep_info.json``.

    Skipped (nothing is read but ``prep_info.json``) when an earlier run
    used the same corpus folder and options and no actor folder changed.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The corpus folder, holding ``Actor_01`` ... ``Actor_24``.
    save_folder : str or pathlib.Path
        Output folder.
    class_set : str
        ``all`` (eight emotions) or ``4class``.
    vocal_channel : str
        ``speech``, ``song`` or ``both``.
    seed : int
        Seed of the actor shuffle.
    dev_fraction, test_fraction : float
        Shares of each gender's actors for dev and test.
    skip_invalid_audio : bool
        Leave out empty or unreadable wavs instead of failing.

    Returns
    -------
    dict
        The content of ``prep_info.json`` and ``reused`` (True when the
        earlier output was kept).
    """
    check_choice("class_set", class_set, CLASS_SETS)
    check_choice("vocal_channel", vocal_channel, VOCAL_CHOICES)
    check_fractions(dev_fraction, test_fraction)
    options = {
        "class_set": class_set,
        "vocal_channel": vocal_channel,
        "seed": int(seed),
        "dev_fraction": float(dev_fraction),
        "test_fraction": float(test_fraction),
        "skip_invalid_audio": bool(skip_invalid_audio),
    }
    data_folder = locate_ravdess(data_folder)
    actor_folders = sorted(
        path
        for path in data_folder.rglob("Actor_*")
        if path.is_dir() and ACTOR_FOLDER.match(path.name)
    )
    prep = Preparation(CORPUS, data_folder, save_folder, options, actor_folders)
    previous = prep.previous()
    if previous is not None:
        return previous

    frame, n_duplicate_names = read_audio_names(data_folder)
    n_listed = len(frame)
    frame["emo"] = frame["emo_raw"].map(dict(EMOTIONS.values()))
    for dimension in DIMENSIONS:
        frame[dimension] = np.nan
    frame = prep.skip(
        frame,
        ~frame["vocal_channel"].isin(VOCAL_CHOICES[vocal_channel]),
        f"not vocal channel {vocal_channel}",
    )
    frame = prep.skip(
        frame,
        ~frame["emo"].isin(CLASS_SETS[class_set]),
        f"not in class set {class_set}",
    )
    frame = prep.read_audio(frame)
    genders = dict(zip(frame["spk_id"], frame["gender"]))
    actors = gender_stratified_split(
        genders, seed, dev_fraction, test_fraction, CORPUS, N_ACTORS
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
        extra={"actors": actors, "duplicate_names": n_duplicate_names},
    )


# --- A synthetic copy in the release's layout, for the demo and the tests
# The song release records six of the eight emotions.
RAVDESS_SONG_EMOTIONS = ("01", "02", "03", "04", "05", "06")
RAVDESS_INTENSITIES = {"01": 0.8, "02": 1.2}
# The widely shared copy holds the speech release twice: at the top and
# again under this folder.
RAVDESS_DOUBLED = "audio_speech_actors_01-24"


def _ravdess_takes(emotions, statements, repetitions):
    """The (emotion, intensity, statement, repetition) codes one actor
    records: neutral at normal intensity only, as in the release."""
    return [
        (emotion, intensity, statement, repetition)
        for emotion in emotions
        for intensity in (("01",) if emotion == "01" else ("01", "02"))
        for statement in statements
        for repetition in repetitions
    ]


def make_synthetic(
    root,
    n_actors=8,
    seed=0,
    statements=("01", "02"),
    repetitions=("01", "02"),
    song=True,
    doubled=True,
    min_dur=1.0,
    max_dur=2.5,
):
    """Write a small RAVDESS in the layout of the real release.

    Written: ``Actor_XX/03-VV-EE-II-SS-RR-XX.wav`` for actors 01 ..
    ``n_actors`` (odd male, even female, as in the release), every
    emotion at both intensities (neutral at normal only), the chosen
    statements and repetitions: the speech release (60 files per actor
    with the defaults) and, with ``song``, the song release unpacked into
    the same actor folders (six emotions; none for actor 18, as released).
    With ``doubled``, the speech files again under
    ``audio_speech_actors_01-24/Actor_XX/``, as the widely shared copy
    holds them. The intensity scales how strongly the emotion is
    expressed.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder.
    n_actors : int
        Number of actors (at most 24).
    seed : int
        Seed: the same arguments write the same bytes.
    statements, repetitions : tuple of str
        Codes ``01`` and/or ``02`` of each.
    song : bool
        Also write the song release.
    doubled : bool
        Also write the speech files a second time, as the shared copy.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``utterances`` (DataFrame of the distinct utterances: id,
        path, speaker, gender, label (shared code), vocal_channel,
        duration), ``n_utterances``, ``total_seconds``, ``sample_rate``,
        and ``n_doubled`` (files written twice).

    Example
    -------
    >>> import tempfile
    >>> info = make_synthetic(tempfile.mkdtemp(), n_actors=2,
    ...     statements=("01",), repetitions=("01",), min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["n_doubled"], info["utterances"].id[0]
    (52, 30, '03-01-01-01-01-01-01')
    """
    if not 1 <= n_actors <= 24:
        raise ValueError(f"RAVDESS has 24 actors, not {n_actors}")
    root = Path(root).resolve()
    rng = corpus_rng(seed, 5)
    records = []
    n_doubled = 0
    for actor_index in range(1, n_actors + 1):
        actor = f"{actor_index:02d}"
        gender = "M" if actor_index % 2 else "F"
        voice = speaker_voice(rng, gender)
        channels = [("01", tuple(EMOTIONS))]
        if song and actor != "18":
            channels.append(("02", RAVDESS_SONG_EMOTIONS))
        for vocal, emotions in channels:
            for emotion, intensity, statement, repetition in _ravdess_takes(
                emotions, statements, repetitions
            ):
                name = (
                    f"03-{vocal}-{emotion}-{intensity}-{statement}-"
                    f"{repetition}-{actor}"
                )
                point, _ = latent_point(
                    rng,
                    EMOTIONS[emotion][1],
                    RAVDESS_INTENSITIES[intensity],
                )
                n_samples = draw_n_samples(rng, min_dur, max_dur)
                audio = synthesise(rng, n_samples, point, voice)
                path = root / f"Actor_{actor}" / f"{name}.wav"
                write_wav(path, audio)
                if doubled and vocal == "01":
                    write_wav(
                        root / RAVDESS_DOUBLED / path.relative_to(root), audio
                    )
                    n_doubled += 1
                records.append(
                    {
                        "id": name,
                        "path": str(path),
                        "speaker": actor,
                        "gender": gender,
                        "label": EMOTIONS[emotion][1],
                        "vocal_channel": "speech" if vocal == "01" else "song",
                        "duration": n_samples / SAMPLE_RATE,
                    }
                )
    frame = pd.DataFrame(records)
    return {
        "root": str(root),
        **utterance_summary(frame),
        "n_doubled": n_doubled,
    }


class RAVDESSCorpus(Corpus):
    """RAVDESS: one seeded actor-disjoint split, categorical only."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    prepare = staticmethod(prepare_ravdess)
    release_folder = "RAVDESS"
    make_synthetic = staticmethod(make_synthetic)


register(RAVDESSCorpus())


def main(argv=None):
    """Command line; see ``--help``."""
    parser = argument_parser(
        __doc__.split("\n")[0],
        "the RAVDESS folder (holding Actor_01/ ... Actor_24/)",
    )
    parser.add_argument(
        "--class-set",
        choices=tuple(CLASS_SETS),
        default="all",
        help="all: neu cal hap sad ang fea dis sur; 4class: neu hap ang sad",
    )
    parser.add_argument(
        "--vocal-channel",
        choices=tuple(VOCAL_CHOICES),
        default="speech",
        help="speech (default), song, or both",
    )
    add_split_options(parser)
    return run_cli(prepare_ravdess, parser, argv)
