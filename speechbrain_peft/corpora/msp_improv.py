"""Prepare MSP-IMPROV: six leave-one-session-out folds of CSV manifests.

MSP-IMPROV (Busso et al., IEEE Trans. Affective Computing 2017; licensed
by UT Dallas: https://ecs.utdallas.edu/research/researchlabs/msp-lab/
MSP-Improv.html) holds the audio-visual recordings of 12 actors in six
sessions of one female and one male actor. Its layout, as the corpus
documentation describes it and usc-sail/peft-ser's
``train_split_gen/msp-improv.py`` reads it:

* ``Evalution.txt`` (so spelled in the release; ``Evaluation.txt`` is
  read too) at the top of the corpus folder: for each clip, a summary
  line, then the evaluators' own lines, then a blank line. A summary line
  names the video clip, the consensus category and the mean ratings::

      UTD-IMPROV-S01A-F01-S-FM01.avi; N; A:3.00; V:3.50; D:3.00; N:3.17

* the audio of that clip, under ``Audio``::

      Audio/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.wav

The clip name's fields are the sentence and its target emotion
(``S01A``), the speaker (``F01``: gender letter and session number), the
recording type (R read, S improvisation, T the target sentence in the
improvisation, P natural interaction between improvisations) and the
turn. Only summary lines are read: the first line of each block of
lines (blocks are separated by blank lines, as the release's readers
rely on); the evaluators' lines under it are not parsed.

Categories: A H S N map to ang hap sad neu; X (no agreed label) is
skipped and counted; any other code is an error naming its line.
Ratings are tagged by their letter (A arousal, V valence, D dominance,
N naturalness), on a 1-5 scale; a missing one stays empty (the clip is
then left out of the dimensional manifests, and counted). Naturalness is
kept as the extra column ``naturalness``.

``--recording-types`` keeps a subset of R S T P (default: all, as
peft-ser). Audio files the label file does not list get no manifest;
their number is logged and stored as ``unlabelled_audio``.

Folds, as peft-ser's: in fold k, session k is the test set, the dev set
is session 6 (session 5 in fold 6) and train the other four sessions.
Output: ``fold{1..6}/{train,dev,test}.csv`` (categorical),
``dimensional/fold{1..6}/...`` (every rated clip, X included) and
``prep_info.json``.

Usage::

    python data_prep/msp_improv_prepare.py \\
        --data-folder /data/MSP-IMPROV --save-folder manifests

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging
import re
from pathlib import Path

import pandas as pd

from speechbrain_peft.corpora.registry import Corpus, register
from speechbrain_peft.data.manifest import (
    DIMENSIONAL,
    DIMENSIONS,
    DataPrepError,
    Preparation,
    argument_parser,
    bullet_list,
    count_out_of_scale,
    locate_corpus,
    run_cli,
    to_manifest,
)
from speechbrain_peft.data.schema import SPLITS

logger = logging.getLogger(__name__)

CORPUS = "MSP-IMPROV"
AUDIO_FOLDER = "Audio"
LABEL_FILES = ("Evalution.txt", "Evaluation.txt")
CLIP_NAME = re.compile(
    r"^(?:UTD|MSP)-IMPROV-(S\d{2}[A-Z])-([FM])(\d{2})-([A-Z])-(\w+)\.avi$"
)
SESSIONS = (1, 2, 3, 4, 5, 6)
FOLDS = SESSIONS
HEADLINE_TEST = "test"
RECORDING_TYPES = "RSTP"
EMOTIONS = {"A": "ang", "H": "hap", "S": "sad", "N": "neu"}
NO_AGREEMENT = "X"
LABEL_SET = ("neu", "hap", "ang", "sad")
# Rating letter in the summary line -> manifest column.
RATINGS = {
    "A": "arousal",
    "V": "valence",
    "D": "dominance",
    "N": "naturalness",
}
SCALE = (1.0, 5.0)
EXTRAS = ("session", "recording_type", "emo_raw", "naturalness")
EXPECTED = (
    "the MSP-IMPROV folder holding Evalution.txt and Audio/ (the corpus "
    "is licensed by UT Dallas: https://ecs.utdallas.edu/research/"
    "researchlabs/msp-lab/MSP-Improv.html)"
)


def parse_clip_name(name):
    """Sentence, gender, session, recording type and turn of a clip.

    Example
    -------
    >>> parse_clip_name("UTD-IMPROV-S01A-F01-S-FM01.avi")
    ('S01A', 'F', 1, 'S', 'FM01')
    >>> parse_clip_name("UTD-IMPROV-S01A-F07-S-FM01.avi")
    Traceback (most recent call last):
    ...
    ValueError: session 7 is not one of MSP-IMPROV's 1-6
    """
    match = CLIP_NAME.match(name)
    if not match:
        raise ValueError(
            f"{name!r} is not a clip name like UTD-IMPROV-S01A-F01-S-FM01.avi"
        )
    sentence, gender, session, kind, turn = match.groups()
    if int(session) not in SESSIONS:
        raise ValueError(f"session {int(session)} is not one of {CORPUS}'s 1-6")
    if kind not in RECORDING_TYPES:
        raise ValueError(
            f"unknown recording type {kind} (known: "
            f"{' '.join(RECORDING_TYPES)})"
        )
    return sentence, gender, int(session), kind, turn


def parse_ratings(fields):
    """``{column: value}`` of the tagged mean ratings (``A:3.5``...).

    Example
    -------
    >>> parse_ratings(["A:3.0", "V:3.5", "D:2.5", ""])
    {'arousal': 3.0, 'valence': 3.5, 'dominance': 2.5}
    >>> parse_ratings(["A:high"])
    Traceback (most recent call last):
    ...
    ValueError: rating 'A:high' is not <letter>:<number>
    """
    ratings = {}
    for field in filter(None, fields):
        letter, _, value = field.partition(":")
        if letter not in RATINGS:
            raise ValueError(
                f"unknown rating {field!r} (known letters: {' '.join(RATINGS)})"
            )
        try:
            ratings[RATINGS[letter]] = float(value)
        except ValueError:
            raise ValueError(
                f"rating {field!r} is not <letter>:<number>"
            ) from None
    return ratings


def parse_summary_line(line):
    """The manifest record of one summary line (raises ``ValueError``
    saying what is wrong with it).

    Example
    -------
    >>> record = parse_summary_line(
    ...     "UTD-IMPROV-S01A-F01-S-FM01.avi; N; A:3.0; V:3.5; D:3.0; N:3.2")
    >>> record["ID"], record["spk_id"], record["valence"]
    ('MSP-IMPROV-S01A-F01-S-FM01', 'F01', 3.5)
    >>> record["path"]
    'Audio/session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.wav'
    """
    fields = [field.strip() for field in line.split(";")]
    sentence, gender, session, kind, _ = parse_clip_name(fields[0])
    if len(fields) < 2 or fields[1] not in (*EMOTIONS, NO_AGREEMENT):
        code = fields[1] if len(fields) > 1 else "(none)"
        raise ValueError(
            f"unknown category {code!r} (known: {' '.join(EMOTIONS)} and "
            f"{NO_AGREEMENT}, no agreed label)"
        )
    utterance = "MSP-" + fields[0].removesuffix(".avi").split("-", 1)[1]
    return {
        "ID": utterance,
        "path": f"{AUDIO_FOLDER}/session{session}/{sentence}/{kind}/"
        f"{utterance}.wav",
        "spk_id": f"{gender}{session:02d}",
        "gender": gender,
        "session": session,
        "recording_type": kind,
        "emo_raw": fields[1],
        **dict.fromkeys(RATINGS.values(), float("nan")),
        **parse_ratings(fields[2:]),
    }


def summary_lines(text):
    """``(line number, line)`` of the first line of every block.

    Example
    -------
    >>> list(summary_lines("clip 1\\nits rater\\n\\n\\nclip 2\\n"))
    [(1, 'clip 1'), (5, 'clip 2')]
    """
    block_starts = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            block_starts = True
        elif block_starts:
            block_starts = False
            yield number, line.strip()


def read_evaluations(path):
    """One record per clip of the label file; every bad summary line,
    and any clip listed twice with different labels, in one error.

    Returns
    -------
    pandas.DataFrame
        ID, path, spk_id, gender, session, recording_type, emo_raw and
        the four mean ratings.
    """
    records, problems = [], []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in summary_lines(text):
        try:
            records.append({**parse_summary_line(line), "line": number})
        except ValueError as error:
            problems.append(f"line {number}: {error}")
    if not records and not problems:
        raise DataPrepError(
            f"{path} is empty; restore the release's label file"
        )
    frame = pd.DataFrame(records)
    if not frame.empty:
        problems += _conflicting_duplicates(frame)
    if problems:
        raise DataPrepError(
            f"{path} has {len(problems)} problem(s):{bullet_list(problems)}"
            "\nEach blank-line-separated block starts with a clip's summary "
            "line (UTD-IMPROV-S01A-F01-S-FM01.avi; N; A:3.0; V:3.5; D:3.0); "
            "restore the file from the corpus release."
        )
    return _drop_repeated(frame)


def _conflicting_duplicates(frame):
    """One problem per clip listed twice with different labels."""
    labels = frame.drop(columns="line").fillna(-1.0)
    repeated = labels[labels.duplicated("ID", keep=False)]
    return [
        f"lines {', '.join(map(str, frame.loc[rows.index, 'line']))}: "
        f"{clip} is listed with different labels"
        for clip, rows in repeated.groupby("ID")
        if len(rows.drop_duplicates()) > 1
    ]


def _drop_repeated(frame):
    """Count each clip once (a label file may list a clip twice with the
    same labels); the number dropped is logged."""
    repeated = frame.duplicated("ID")
    if repeated.any():
        logger.info(
            "%s: %d clip(s) listed twice with the same labels, counted once",
            CORPUS,
            int(repeated.sum()),
        )
    return frame.loc[~repeated].drop(columns="line").reset_index(drop=True)


def label_file_of(data_folder):
    """The release's label file in ``data_folder``, either spelling."""
    for name in LABEL_FILES:
        if (data_folder / name).is_file():
            return data_folder / name
    raise DataPrepError(
        f"{data_folder} has no {' or '.join(LABEL_FILES)}: the MSP-IMPROV "
        "labels are missing; copy the release's Evalution.txt there"
    )


def count_unlabelled_audio(audio_folder, frame):
    """How many wavs under ``audio_folder`` the label file does not list;
    logged, as they get no manifest."""
    listed = set(frame["ID"])
    unlabelled = sum(
        1
        for path in audio_folder.rglob("*.wav")
        if not path.name.startswith("._") and path.stem not in listed
    )
    if unlabelled:
        logger.info(
            "%s: %d audio file(s) under %s have no line in the label file: "
            "no manifest lists them",
            CORPUS,
            unlabelled,
            audio_folder,
        )
    return unlabelled


def check_recording_types(recording_types):
    """Refuse an empty or unknown set of recording types.

    Example
    -------
    >>> check_recording_types("SQ")
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: recording_types='SQ'...
    """
    letters = set(str(recording_types))
    if not letters or letters - set(RECORDING_TYPES):
        raise DataPrepError(
            f"recording_types={recording_types!r} must be letters of "
            f"{RECORDING_TYPES} (R read, S improvisation, T target sentence "
            "in the improvisation, P natural interaction)"
        )
    return "".join(kind for kind in RECORDING_TYPES if kind in letters)


def fold_sessions(fold):
    """``{split: [session, ...]}`` of one fold (peft-ser's folds).

    Example
    -------
    >>> fold_sessions(1)
    {'train': [2, 3, 4, 5], 'dev': [6], 'test': [1]}
    >>> fold_sessions(6)["dev"]
    [5]
    """
    rest = [session for session in SESSIONS if session != fold]
    return {"train": rest[:-1], "dev": rest[-1:], "test": [fold]}


def fold_manifests(frame):
    """``{"fold<k>/<split>.csv": manifest}`` for the six folds."""
    return {
        f"fold{fold}/{split}.csv": to_manifest(
            frame[frame["session"].isin(sessions)], split, EXTRAS
        )
        for fold in FOLDS
        for split, sessions in fold_sessions(fold).items()
    }


def prepare_msp_improv(
    data_folder,
    save_folder,
    recording_types=RECORDING_TYPES,
    skip_invalid_audio=False,
):
    """Write the six folds' manifests and ``prep_info.json``.

    Skipped (nothing is read but ``prep_info.json``) when an earlier run
    used the same corpus folder, options and unchanged label file.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The corpus folder, holding ``Evalution.txt`` and ``Audio``.
    save_folder : str or pathlib.Path
        Output folder.
    recording_types : str
        The recording types kept, letters of ``RSTP``.
    skip_invalid_audio : bool
        Leave out missing or unreadable wavs instead of failing.

    Returns
    -------
    dict
        The content of ``prep_info.json`` and ``reused`` (True when the
        earlier output was kept).
    """
    recording_types = check_recording_types(recording_types)
    options = {
        "recording_types": recording_types,
        "skip_invalid_audio": bool(skip_invalid_audio),
    }
    data_folder = locate_corpus(data_folder, AUDIO_FOLDER, CORPUS, EXPECTED)
    label_file = label_file_of(data_folder)
    audio_folder = data_folder / AUDIO_FOLDER
    prep = Preparation(CORPUS, data_folder, save_folder, options, [label_file])
    previous = prep.previous()
    if previous is not None:
        return previous

    frame = read_evaluations(label_file)
    n_listed = len(frame)
    unlabelled = count_unlabelled_audio(audio_folder, frame)
    frame = prep.skip(
        frame,
        ~frame["recording_type"].isin(list(recording_types)),
        f"recording type not in {recording_types}",
    )
    frame = prep.read_audio(frame)
    categorical = frame.assign(emo=frame["emo_raw"].map(EMOTIONS))
    categorical = prep.skip(
        categorical,
        categorical["emo"].isna(),
        f"no agreed label ({NO_AGREEMENT})",
    )
    # Every rated clip, X (no agreed category) included.
    dimensional = prep.skip(
        frame.assign(emo=frame["emo_raw"].map(EMOTIONS)),
        frame[list(DIMENSIONS)].isna().any(axis=1),
        "dimensional manifests: a rating missing",
    )
    return prep.write(
        fold_manifests(categorical),
        LABEL_SET,
        n_listed=n_listed,
        extra={
            "folds": {f"fold{fold}": fold_sessions(fold) for fold in FOLDS},
            "unlabelled_audio": unlabelled,
            "out_of_scale_dimensions": count_out_of_scale(frame, SCALE, CORPUS),
        },
        dimensional=fold_manifests(dimensional),
        dimension_scale=SCALE,
    )


def check_fold(fold):
    """Refuse a fold that is not one of MSP-IMPROV's six.

    Example
    -------
    >>> check_fold(7)
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: fold 7 is not an MSP-IM...
    """
    if fold not in FOLDS:
        raise DataPrepError(
            f"fold {fold!r} is not an {CORPUS} fold; choose one of "
            f"{', '.join(map(str, FOLDS))} (fold k tests on session k)"
        )


def manifest_paths(save_folder, fold, task="categorical"):
    """The train, dev and test manifests of one fold and task.

    Example
    -------
    >>> manifest_paths("m", 6, "dimensional")["dev"].as_posix()
    'm/dimensional/fold6/dev.csv'
    """
    check_fold(fold)
    folder = Path(save_folder)
    if task == "dimensional":
        folder = folder / DIMENSIONAL
    return {split: folder / f"fold{fold}" / f"{split}.csv" for split in SPLITS}


class MSPImprovCorpus(Corpus):
    """MSP-IMPROV: six leave-one-session-out folds, categorical and
    dimensional."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    folds = FOLDS
    prepare = staticmethod(prepare_msp_improv)

    def check(self, config):
        """Refuse a fold that is not one of the six."""
        check_fold(config["fold"])

    def manifest_paths(self, hparams):
        """The run's fold, for its task."""
        return manifest_paths(
            hparams["manifest_folder"], hparams["fold"], hparams["task"]
        )


register(MSPImprovCorpus())


def main(argv=None):
    """Command line; see ``--help``."""
    parser = argument_parser(
        __doc__.split("\n")[0],
        "the MSP-IMPROV folder (holding Evalution.txt and Audio/)",
    )
    parser.add_argument(
        "--recording-types",
        default=RECORDING_TYPES,
        help="recording types kept: letters of RSTP (R read, S "
        "improvisation, T target sentence, P natural interaction)",
    )
    return run_cli(prepare_msp_improv, parser, argv)
