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

from speechbrain_peft.corpora.registry import FoldCorpus, register
from speechbrain_peft.data.manifest import (
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


# --- A synthetic copy in the release's layout, for the demo and the tests
# Consensus codes in the order clips cycle through them; X: no agreement.
MSP_IMPROV_CYCLE = "A H S N A H S N X A H S N".split()
MSP_IMPROV_RATERS = {
    "ang": "Angry",
    "hap": "Happy",
    "sad": "Sad",
    "neu": "Neutral",
}


def _msp_improv_block(rng, clip, code, point, n_raters):
    """The label file's lines of one clip: summary, evaluators, blank."""
    ratings = rater_scores(rng, point, n_raters, 5)
    naturalness = rng.integers(1, 6, size=n_raters)
    arousal, valence, dominance = ratings.mean(axis=0)
    lines = [
        f"UTD-{clip}.avi; {code}; A:{arousal:.6f}; V:{valence:.6f}; "
        f"D:{dominance:.6f}; N:{naturalness.mean():.6f}"
    ]
    categories = list(MSP_IMPROV_RATERS.values())
    for rater, row in enumerate(ratings, start=1):
        category = MSP_IMPROV_RATERS.get(
            EMOTIONS.get(code), rng.choice(categories)
        )
        lines.append(
            f"{clip}-p{rater:03d}; {category}; A:{row[0]:.0f}; "
            f"V:{row[1]:.0f}; D:{row[2]:.0f}; N:{naturalness[rater - 1]}"
        )
    return lines + [""], (arousal, valence, dominance)


def make_synthetic(root, clips_per_speaker=8, seed=0, min_dur=1.0, max_dur=3.0):
    """Write a small MSP-IMPROV in the layout of the real release.

    Written: ``Evalution.txt`` (the release's spelling) with, per clip, a
    summary line ``UTD-IMPROV-S01A-F01-S-FM01.avi; A; A:..; V:..; D:..;
    N:..`` (consensus code A H S N or X, mean 1-5 ratings of five to
    seven evaluators), the evaluators' lines and a blank line; and the
    audio in ``Audio/session<k>/<sentence>/<type>/MSP-IMPROV-....wav``.
    Six sessions of one female and one male actor (F01 M01 ... F06 M06);
    each actor's clips cycle through the recording types R S T P and
    through sentences whose target emotion is the clip's code. The
    evaluators' lines are in a form of our own: data prep does not read
    them.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder.
    clips_per_speaker : int
        Clips of each of the 12 actors.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``labels`` (path of ``Evalution.txt``), ``utterances``
        (DataFrame: id, path, speaker, gender, session, recording_type,
        code, label (shared code, None for X), arousal, valence,
        dominance, duration), ``n_utterances``, ``total_seconds``,
        ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_synthetic(tempfile.mkdtemp(), clips_per_speaker=2,
    ...                        min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["utterances"].id[0]
    (24, 'MSP-IMPROV-S01A-F01-R-FM01')
    """
    root = Path(root).resolve()
    rng = corpus_rng(seed, 7)
    lines, records = [], []
    for index, (session, gender) in enumerate(
        (session, gender) for session in range(1, 7) for gender in "FM"
    ):
        voice = speaker_voice(rng, gender)
        speaker = f"{gender}{session:02d}"
        codes = labels_for_speaker(
            MSP_IMPROV_CYCLE, index, clips_per_speaker, rng
        )
        for turn, code in enumerate(codes, start=1):
            target = code if code != "X" else rng.choice(list("AHSN"))
            sentence = f"S{turn:02d}{target}"
            kind = RECORDING_TYPES[(turn - 1) % len(RECORDING_TYPES)]
            clip = f"IMPROV-{sentence}-{speaker}-{kind}-FM{turn:02d}"
            label = EMOTIONS.get(code)
            point, _ = latent_point(rng, label or "xxx", 0.9)
            block, means = _msp_improv_block(
                rng, clip, code, point, int(rng.integers(5, 8))
            )
            lines += block
            n_samples = draw_n_samples(rng, min_dur, max_dur)
            path = (
                root
                / "Audio"
                / f"session{session}"
                / sentence
                / kind
                / f"MSP-{clip}.wav"
            )
            write_wav(path, synthesise(rng, n_samples, point, voice))
            records.append(
                {
                    "id": f"MSP-{clip}",
                    "path": str(path),
                    "speaker": speaker,
                    "gender": gender,
                    "session": session,
                    "recording_type": kind,
                    "code": code,
                    "label": label,
                    **dict(zip(("arousal", "valence", "dominance"), means)),
                    "duration": n_samples / SAMPLE_RATE,
                }
            )
    labels_path = root / "Evalution.txt"
    labels_path.write_text("\n".join(lines) + "\n")
    frame = pd.DataFrame(records)
    return {
        "root": str(root),
        "labels": str(labels_path),
        **utterance_summary(frame),
    }


class MSPImprovCorpus(FoldCorpus):
    """MSP-IMPROV: six leave-one-session-out folds, categorical and
    dimensional."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    folds = FOLDS
    fold_tests_on = "session"
    prepare = staticmethod(prepare_msp_improv)
    release_folder = "MSP-IMPROV"
    make_synthetic = staticmethod(make_synthetic)


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
