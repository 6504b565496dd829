"""Prepare IEMOCAP: five leave-one-session-out folds of CSV manifests.

Reads the corpus as released (``IEMOCAP_full_release``): the summary line
of every turn in ``Session{1..5}/dialog/EmoEvaluation/*.txt`` (only the
top-level files; the per-evaluator subfolders and macOS ``._*`` files are
ignored), e.g.::

    [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]

The bracketed triple is (valence, activation, dominance), means of the
evaluators' 1-5 ratings; activation goes to ``arousal``. The audio is
``Session{s}/sentences/wav/<dialog>/<utterance>.wav``. The speaker is the
session plus the gender letter of the utterance ID's last part
(``Ses01F_impro01_M012`` is speaker ``Ses01_M``, gender M; the F/M of the
dialog name only says who wore the markers).

Class sets (``emo`` in the manifests, raw code in ``emo_raw``):

* ``4class_merge`` (default): neu, hap (hap + exc), ang, sad; 5,531
  utterances in the full release;
* ``4class``: neu, hap, ang, sad; exc is skipped;
* ``all``: every category but ``xxx`` (no majority): neu hap exc ang sad
  fru sur fea dis oth, where ``oth`` (the evaluators' "Other") is kept as
  a class of its own (3 utterances in the full release).

Utterances outside the class set (always ``xxx``) and, with ``--subset``,
outside the improvised or scripted dialogs, are skipped; the counts per
reason and raw label are logged and stored in ``prep_info.json``. The
dimensional manifests (``dimensional/fold{1..5}/...``, the same folds)
hold every utterance with its three dimensions (all 10,039 of the
release), whatever the class set; ``emo`` is the raw category there
(``exc`` not merged), empty for ``xxx``.

Folds: in fold k, session k is the test set; the dev set is one speaker of
session k+1 (session 1 for fold 5), the female one in odd folds and the
male one in even folds (dev speakers Ses02_F, Ses03_M, Ses04_F, Ses05_M,
Ses01_F); train is everything else. Output: ``fold{1..5}/{train,dev,
test}.csv`` and ``prep_info.json`` in the save folder.

Usage::

    python data_prep/iemocap_prepare.py \\
        --data-folder /data/IEMOCAP_full_release --save-folder manifests

Authors
 * speechbrain-peft-ser developers 2026
"""

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
    check_choice,
    count_out_of_scale,
    locate_corpus,
    run_cli,
    to_manifest,
)
from speechbrain_peft.data.schema import SPLITS

CORPUS = "IEMOCAP"
RAW_LABELS = ("neu", "hap", "exc", "ang", "sad", "fru", "sur", "fea", "dis")
RAW_LABELS += ("oth", "xxx")
# Raw code -> manifest code; raw codes not listed are skipped.
CLASS_SETS = {
    "4class_merge": {
        "neu": "neu",
        "hap": "hap",
        "exc": "hap",
        "ang": "ang",
        "sad": "sad",
    },
    "4class": {code: code for code in ("neu", "hap", "ang", "sad")},
    "all": {code: code for code in RAW_LABELS if code != "xxx"},
}
SUBSETS = ("all", "improvised", "scripted")
SESSIONS = (1, 2, 3, 4, 5)
# Leave one session out: fold k tests on session k.
FOLDS = SESSIONS
HEADLINE_TEST = "test"
SCALE = (1.0, 5.0)
EXTRAS = ("session", "scripted", "emo_raw")
MARKER = "Session1/dialog/EmoEvaluation"
EXPECTED = (
    "the IEMOCAP_full_release folder (the one holding Session1 ... "
    "Session5); the corpus is available on request from USC SAIL: "
    "https://sail.usc.edu/iemocap/"
)
SUMMARY = re.compile(
    r"^\[\s*\S+\s*-\s*\S+\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]\s*$"
)


def parse_summary_line(line):
    """Utterance ID, raw label and (valence, activation, dominance).

    Raises ``ValueError`` saying what is wrong with the line.

    Example
    -------
    >>> parse_summary_line(
    ...     "[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5, 3.0, 3.5]")
    ('Ses01F_impro01_F000', 'neu', (2.5, 3.0, 3.5))
    """
    match = SUMMARY.match(line)
    if not match:
        raise ValueError(
            "not a summary line '[start - end] ID label [V, A, D]'"
        )
    utt_id, label, triple = match.groups()
    if label not in RAW_LABELS:
        raise ValueError(
            f"unknown emotion code {label!r} (known: {', '.join(RAW_LABELS)})"
        )
    parts = triple.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ValueError(f"[{triple}] is not three numbers [V, A, D]")
    return utt_id, label, values


def evaluation_files(data_folder, session):
    """The label files of a session: top-level ``*.txt`` of EmoEvaluation,
    without the macOS ``._*`` resource forks of the real release."""
    folder = (
        Path(data_folder) / f"Session{session}" / "dialog" / "EmoEvaluation"
    )
    files = sorted(
        path
        for path in folder.glob("*.txt")
        if path.is_file() and not path.name.startswith("._")
    )
    if not files:
        raise DataPrepError(
            f"{folder} has no evaluation files (*.txt): the IEMOCAP copy is "
            f"incomplete; pass --data-folder {EXPECTED}"
        )
    return files


def read_evaluations(files):
    """One record per summary line of the given evaluation files.

    Arguments
    ---------
    files : dict
        ``{session: [label file, ...]}``.

    Returns
    -------
    pandas.DataFrame
        ID, path, spk_id, gender, emo_raw, arousal, valence, dominance,
        session, scripted.
    """
    records = []
    for session, paths in files.items():
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.startswith("["):
                    continue
                try:
                    records.append(_record(line, session))
                except ValueError as error:
                    raise DataPrepError(
                        f"{path}, line {number}: {error}: {line.strip()!r}. "
                        "The file differs from the IEMOCAP release; restore "
                        "it from the original archive."
                    ) from None
    return pd.DataFrame(records)


def _record(line, session):
    """The manifest fields of one summary line."""
    utt_id, label, (valence, activation, dominance) = parse_summary_line(line)
    dialog, _, turn = utt_id.rpartition("_")
    if not dialog or turn[:1] not in ("F", "M"):
        raise ValueError(
            f"cannot tell the speaker of {utt_id!r}: the last part of an "
            "utterance ID starts with F or M"
        )
    gender = turn[0]
    return {
        "ID": utt_id,
        "path": f"Session{session}/sentences/wav/{dialog}/{utt_id}.wav",
        "spk_id": f"Ses{session:02d}_{gender}",
        "gender": gender,
        "emo_raw": label,
        "arousal": activation,
        "valence": valence,
        "dominance": dominance,
        "session": session,
        "scripted": "_script" in dialog,
    }


def fold_roles(fold):
    """The test session and the dev speaker of a fold.

    Example
    -------
    >>> [fold_roles(fold) for fold in (1, 2, 5)]
    [(1, 'Ses02_F'), (2, 'Ses03_M'), (5, 'Ses01_F')]
    """
    dev_session = fold % len(SESSIONS) + 1
    gender = "F" if fold % 2 else "M"
    return fold, f"Ses{dev_session:02d}_{gender}"


def prepare_iemocap(
    data_folder,
    save_folder,
    class_set="4class_merge",
    subset="all",
    skip_invalid_audio=False,
):
    """Write the five folds' manifests and ``prep_info.json``.

    Skipped (nothing is read but ``prep_info.json``) when an earlier run
    used the same corpus folder, options and unchanged label files.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The ``IEMOCAP_full_release`` folder.
    save_folder : str or pathlib.Path
        Output folder: ``fold{1..5}/{train,dev,test}.csv``,
        ``prep_info.json``.
    class_set : str
        ``4class_merge`` (exc merged into hap), ``4class`` or ``all``.
    subset : str
        ``all``, ``improvised`` or ``scripted`` dialogs.
    skip_invalid_audio : bool
        Leave out missing or unreadable wavs instead of failing.

    Returns
    -------
    dict
        The content of ``prep_info.json`` and ``reused`` (True when the
        earlier output was kept).
    """
    check_choice("class_set", class_set, CLASS_SETS)
    check_choice("subset", subset, SUBSETS)
    options = {
        "class_set": class_set,
        "subset": subset,
        "skip_invalid_audio": bool(skip_invalid_audio),
    }
    data_folder = locate_corpus(data_folder, MARKER, CORPUS, EXPECTED)
    missing = [
        f"Session{s}"
        for s in SESSIONS
        if not (data_folder / f"Session{s}" / "dialog").is_dir()
    ]
    if missing:
        raise DataPrepError(
            f"{data_folder} lacks {', '.join(missing)}: leave-one-session-out "
            f"needs all five sessions; pass --data-folder {EXPECTED}"
        )
    files = {s: evaluation_files(data_folder, s) for s in SESSIONS}
    inputs = [path for paths in files.values() for path in paths]
    prep = Preparation(CORPUS, data_folder, save_folder, options, inputs)
    previous = prep.previous()
    if previous is not None:
        return previous

    frame = read_evaluations(files)
    n_listed = len(frame)
    if subset != "all":
        frame = prep.skip(
            frame,
            frame["scripted"] != (subset == "scripted"),
            f"not in subset {subset}",
        )
    frame = prep.read_audio(frame)
    mapping = CLASS_SETS[class_set]
    categorical = frame.assign(emo=frame["emo_raw"].map(mapping))
    categorical = prep.skip(
        categorical,
        categorical["emo"].isna(),
        f"not in class set {class_set}",
    )
    # Every rated utterance, xxx (no agreed category) included.
    dimensional = frame.assign(emo=frame["emo_raw"].map(CLASS_SETS["all"]))
    dimensional = prep.skip(
        dimensional,
        dimensional[list(DIMENSIONS)].isna().any(axis=1),
        "dimensional manifests: no attribute ratings",
    )
    return prep.write(
        fold_manifests(categorical),
        list(dict.fromkeys(mapping.values())),
        n_listed=n_listed,
        extra={
            "folds": {
                f"fold{fold}": dict(
                    zip(("test_session", "dev_speaker"), fold_roles(fold))
                )
                for fold in SESSIONS
            },
            "out_of_scale_dimensions": count_out_of_scale(frame, SCALE, CORPUS),
        },
        dimensional=fold_manifests(dimensional),
        dimension_scale=SCALE,
    )


def fold_manifests(frame):
    """``{"fold<k>/<split>.csv": manifest}`` for the five folds."""
    manifests = {}
    for fold in SESSIONS:
        test_session, dev_speaker = fold_roles(fold)
        test = frame["session"] == test_session
        dev = frame["spk_id"] == dev_speaker
        parts = dict(zip(SPLITS, (~test & ~dev, dev, test)))
        for split, rows in parts.items():
            manifests[f"fold{fold}/{split}.csv"] = to_manifest(
                frame[rows], split, EXTRAS
            )
    return manifests


def check_fold(fold):
    """Refuse a fold that is not one of IEMOCAP's five.

    Example
    -------
    >>> check_fold(9)
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: fold 9 is not an IEMOCAP...
    """
    if fold not in SESSIONS:
        raise DataPrepError(
            f"fold {fold!r} is not an IEMOCAP fold; choose one of "
            f"{', '.join(map(str, SESSIONS))} (fold k tests on session k)"
        )


def manifest_paths(save_folder, fold, task="categorical"):
    """The train, dev and test manifests of one fold and task.

    Example
    -------
    >>> manifest_paths("m", 2, "dimensional")["test"].as_posix()
    'm/dimensional/fold2/test.csv'
    """
    check_fold(fold)
    folder = Path(save_folder)
    if task == "dimensional":
        folder = folder / DIMENSIONAL
    return {split: folder / f"fold{fold}" / f"{split}.csv" for split in SPLITS}


class IEMOCAPCorpus(Corpus):
    """IEMOCAP: five leave-one-session-out folds, categorical and
    dimensional."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    folds = FOLDS
    prepare = staticmethod(prepare_iemocap)

    def check(self, config):
        """Refuse a fold that is not one of the five."""
        check_fold(config["fold"])

    def manifest_paths(self, hparams):
        """The run's fold, for its task."""
        return manifest_paths(
            hparams["manifest_folder"], hparams["fold"], hparams["task"]
        )


register(IEMOCAPCorpus())


def main(argv=None):
    """Command line; see ``--help``."""
    parser = argument_parser(
        __doc__.split("\n")[0],
        "the IEMOCAP_full_release folder (holding Session1 ... Session5)",
    )
    parser.add_argument(
        "--class-set",
        choices=tuple(CLASS_SETS),
        default="4class_merge",
        help="4class_merge: neu, hap+exc, ang, sad; 4class: neu, hap, ang, "
        "sad (exc skipped); all: every category but xxx, oth kept as a class",
    )
    parser.add_argument(
        "--subset",
        choices=SUBSETS,
        default="all",
        help="keep all dialogs, or only the improvised or scripted ones",
    )
    return run_cli(prepare_iemocap, parser, argv)
