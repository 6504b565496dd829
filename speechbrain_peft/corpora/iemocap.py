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

from speechbrain_peft.corpora.registry import FoldCorpus, register
from speechbrain_peft.data.manifest import (
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


# --- A synthetic copy in the release's layout, for the demo and the tests
# Label blocks handed out to speakers: every block of 12 holds two of each
# of neu, ang, sad and hap/exc, so every speaker (hence every fold's test
# session) has the four default classes, while the rare classes and "xxx"
# (no majority) are spread over speakers.
IEMOCAP_CYCLE = (
    "neu ang sad hap exc fru neu ang sad hap xxx exc "
    "neu ang sad hap fru sur neu ang sad exc xxx fea "
    "neu ang sad hap fru dis neu ang sad exc xxx oth"
).split()
IEMOCAP_NAMES = {
    "neu": "Neutral",
    "hap": "Happiness",
    "exc": "Excited",
    "ang": "Anger",
    "sad": "Sadness",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}
IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
# The script suffixes of the real release.
IEMOCAP_SCRIPTS = ("01_1", "01_2", "01_3", "02_1", "02_2", "03_1", "03_2")
# AppleDouble header: what the real release's "._*" files start with.
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02"

# The label an evaluator who disagrees with the majority tends to give.
CONFUSION = {
    "neu": "fru",
    "hap": "exc",
    "exc": "hap",
    "ang": "fru",
    "sad": "neu",
    "fru": "ang",
    "sur": "exc",
    "fea": "sur",
    "dis": "fru",
    "oth": "neu",
}


def _iemocap_votes(rng, label, blend):
    """Three evaluators' categories whose majority is ``label``."""
    if label == "xxx":
        # All three disagree: the two blended classes and a third one.
        others = [c for c in IEMOCAP_NAMES if c not in blend]
        return [blend[0], blend[1], rng.choice(others)]
    n_agree = 3 if rng.random() < 0.6 else 2
    votes = [label] * n_agree + [CONFUSION[label]] * (3 - n_agree)
    return list(rng.permutation(votes))


def _iemocap_block(rng, utt, votes, ratings, self_rating):
    """One utterance's block of a real EmoEvaluation file."""
    valence, arousal, dominance = (
        utt["valence"],
        utt["arousal"],
        utt["dominance"],
    )
    lines = [
        f"[{utt['start']:.4f} - {utt['end']:.4f}]\t{utt['id']}\t{utt['label']}"
        f"\t[{valence:.4f}, {arousal:.4f}, {dominance:.4f}]"
    ]
    evaluators = rng.choice(
        ["E1", "E2", "E3", "E4", "E5"], size=3, replace=False
    )
    majority = votes.count(utt["label"])
    for evaluator, vote in zip(sorted(evaluators), votes, strict=True):
        names = IEMOCAP_NAMES[vote] + ";"
        # Evaluators may tick a second category, as in the real files, but
        # never one that would tie the majority (a 2-1 vote's majority
        # voter ticking the minority's category).
        may_tick = majority == 3 or (majority == 2 and vote != utt["label"])
        if may_tick and rng.random() < 0.15:
            names += " " + IEMOCAP_NAMES[CONFUSION[vote]] + ";"
        lines.append(f"C-{evaluator}:\t{names}\t()")
    self_name = utt["gender"] + "1"
    lines.append(f"C-{self_name}:\t{IEMOCAP_NAMES[votes[0]]};\t()")
    attribute_evaluators = sorted(
        rng.choice(
            ["E1", "E2", "E3", "E4", "E5"], size=len(ratings), replace=False
        )
    )
    rows = [*zip(attribute_evaluators, ratings, strict=True)]
    rows.append((self_name, self_rating))
    for evaluator, (act, val, dom) in rows:
        lines.append(
            f"A-{evaluator}:\tval {val:.0f}; act {act:.0f}; dom  {dom:.0f};\t()"
        )
    return "\n".join(lines) + "\n"


def _iemocap_dialogs(rng, session):
    """The session's four dialogs: improvised and scripted, per marker."""
    impro = rng.integers(1, 9)
    dialogs = []
    for marker in ("F", "M"):
        script = IEMOCAP_SCRIPTS[rng.integers(len(IEMOCAP_SCRIPTS))]
        dialogs.append(f"Ses0{session}{marker}_impro0{impro}")
        dialogs.append(f"Ses0{session}{marker}_script{script}")
    return dialogs


def make_synthetic(root, utts_per_speaker=12, seed=0, min_dur=1.0, max_dur=4.0):
    """Write a small IEMOCAP in the layout of ``IEMOCAP_full_release``.

    Five sessions, each with one female and one male speaker, each session
    with an improvised and a scripted dialog per marker wearer
    (``Ses01F_impro03``, ``Ses01M_script02_1``, ...). Every dialog holds
    turns of both speakers; the speaker of an utterance is its session plus
    the gender letter of the last part of its ID. Written:

    * ``Session{s}/dialog/EmoEvaluation/<dialog>.txt`` in the real format
      (summary line ``[start - end]<TAB>id<TAB>label<TAB>[V, A, D]`` with
      the 1-5 means of the evaluators' ``A-E*`` lines, then ``C-*`` and
      ``A-*`` evaluator lines), plus the real subfolders: per-evaluator
      files in ``Categorical/`` and ``Attribute/`` (which a careless glob
      would mistake for label files) and an empty ``Self-evaluation/``;
    * ``Session{s}/sentences/wav/<dialog>/<utt_id>.wav``;
    * macOS ``._*`` junk next to one label file and in one wav folder.

    Scripted turns are acted more fully and recorded more cleanly than
    improvised ones, a small domain gap for scripted-to-improvised runs.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder (the one real users call ``IEMOCAP_full_release``).
    utts_per_speaker : int
        Utterances per speaker (10 speakers), at least 2.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root`` (str), ``utterances`` (DataFrame: id, path, speaker
        ``Ses01F``-style, gender ``F``/``M``, label, valence, arousal,
        dominance, session, dialog, scripted, start, end, duration),
        ``n_utterances``, ``total_seconds``, ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_synthetic(tempfile.mkdtemp(), utts_per_speaker=2,
    ...                     min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], sorted(info["utterances"].speaker.unique())[:2]
    (20, ['Ses01F', 'Ses01M'])
    """
    if utts_per_speaker < 2:
        raise ValueError("IEMOCAP needs utts_per_speaker >= 2")
    root = Path(root).resolve()
    rng = corpus_rng(seed, 1)
    records = []
    for session in range(1, 6):
        session_dir = root / f"Session{session}"
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            (eval_dir / sub).mkdir(parents=True, exist_ok=True)
        dialogs = _iemocap_dialogs(rng, session)
        turns = {dialog: [] for dialog in dialogs}
        for gender in ("F", "M"):
            voice = speaker_voice(rng, gender)
            speaker_index = 2 * (session - 1) + (gender == "M")
            labels = labels_for_speaker(
                IEMOCAP_CYCLE, speaker_index, utts_per_speaker, rng
            )
            # The speaker's turns alternate between improvised and scripted
            # dialogs, so both kinds exist in every session.
            for turn, label in enumerate(labels):
                dialog = dialogs[turn % len(dialogs)]
                turns[dialog].append((gender, voice, label))
        for dialog in dialogs:
            if turns[dialog]:
                records += _write_iemocap_dialog(
                    rng, root, session, dialog, turns[dialog], min_dur, max_dur
                )
    first = records[0]
    eval_dir = root / "Session1" / "dialog" / "EmoEvaluation"
    (eval_dir / f"._{first['dialog']}.txt").write_bytes(APPLE_DOUBLE)
    wav_path = Path(first["path"])
    (wav_path.parent / f"._{wav_path.name}").write_bytes(APPLE_DOUBLE)
    frame = pd.DataFrame(records)
    return {"root": str(root), **utterance_summary(frame)}


def _write_iemocap_dialog(rng, root, session, dialog, turns, min_dur, max_dur):
    """Write one dialog's wavs, label file and per-evaluator files."""
    scripted = "_script" in dialog
    eval_dir = root / f"Session{session}" / "dialog" / "EmoEvaluation"
    wav_dir = root / f"Session{session}" / "sentences" / "wav" / dialog
    # Scripted turns are recorded more cleanly and acted more fully than
    # improvised ones: a small domain gap for scripted->improvised transfer.
    intensity = 0.9 if scripted else 0.8
    noise_db = -55.0 if scripted else -45.0
    # Integer milliseconds keep the printed time stamps exact.
    clock = int(rng.integers(2000, 8000))
    counters = {"F": 0, "M": 0}
    blocks, categorical, attribute, records = [], [], [], []
    for index in rng.permutation(len(turns)):
        gender, voice, label = turns[index]
        utt_id = f"{dialog}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
        n_samples = draw_n_samples(rng, min_dur, max_dur)
        millis = n_samples * 1000 // SAMPLE_RATE
        point, blend = latent_point(rng, label, intensity)
        path = wav_dir / f"{utt_id}.wav"
        write_wav(path, synthesise(rng, n_samples, point, voice, noise_db))
        ratings = rater_scores(rng, point, int(rng.integers(2, 4)), 5)
        arousal, valence, dominance = ratings.mean(axis=0)
        utt = {
            "id": utt_id,
            "path": str(path),
            "speaker": f"Ses0{session}{gender}",
            "gender": gender,
            "label": label,
            "valence": round(float(valence), 4),
            "arousal": round(float(arousal), 4),
            "dominance": round(float(dominance), 4),
            "session": session,
            "dialog": dialog,
            "scripted": scripted,
            "start": clock / 1000,
            "end": (clock + millis) / 1000,
            "duration": millis / 1000,
        }
        clock += millis + int(rng.integers(200, 2000))
        votes = _iemocap_votes(rng, label, blend)
        self_rating = rater_scores(rng, point, 1, 5)[0]
        blocks.append(_iemocap_block(rng, utt, votes, ratings, self_rating))
        name = "Neutral state" if votes[0] == "neu" else IEMOCAP_NAMES[votes[0]]
        categorical.append(f"{utt_id} :{name}; ()\n")
        act, val, dom = ratings[0]
        attribute.append(
            f"{utt_id} :act {act:.0f}; :val {val:.0f}; :dom {dom:.0f}; ()\n"
        )
        records.append(utt)
    (eval_dir / f"{dialog}.txt").write_text(
        IEMOCAP_HEADER + "\n\n" + "\n".join(blocks) + "\n"
    )
    (eval_dir / "Categorical" / f"{dialog}_e1_cat.txt").write_text(
        "".join(categorical)
    )
    (eval_dir / "Attribute" / f"{dialog}_e2_atr.txt").write_text(
        "".join(attribute)
    )
    return records


class IEMOCAPCorpus(FoldCorpus):
    """IEMOCAP: five leave-one-session-out folds, categorical and
    dimensional."""

    name = CORPUS
    headline_test = HEADLINE_TEST
    folds = FOLDS
    fold_tests_on = "session"
    prepare = staticmethod(prepare_iemocap)
    release_folder = "IEMOCAP_full_release"
    make_synthetic = staticmethod(make_synthetic)


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
