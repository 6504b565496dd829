"""The machinery every corpus' data prep shares.

A data-prep run (see :class:`Preparation`) locates the corpus folder,
fingerprints its label files, reuses the previous output when nothing
changed, reads every audio header (never the samples), validates all
manifests, and only then writes them, atomically, with ``prep_info.json``
last. Every problem is a :class:`DataPrepError` that names the path and
says what to do; the command-line entry points print it without a
traceback and exit non-zero.

Manifests follow :mod:`speechbrain_peft.data.schema`.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import hashlib
import json
import logging
import os
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from speechbrain_peft.data.schema import (
    COLUMNS,
    DATA_ROOT,
    DIMENSIONS,
    GENDERS,
    LABELS,
)
from speechbrain_peft.utils.errors import UserError, run_command
from speechbrain_peft.utils.files import atomic_write_text

logger = logging.getLogger(__name__)

PREP_INFO = "prep_info.json"
# The dimensional manifests' subfolder of the save folder.
DIMENSIONAL = "dimensional"
# How prep_info.json counts the rows of a dimensional manifest without a
# category (no agreed label).
NO_LABEL = "none"
# Bumped when the output format changes, so old outputs are not reused.
PREP_VERSION = 2
# How many offending files an error message lists before summarising.
MAX_LISTED = 20
# How far above and below the given folder a misplaced corpus is searched.
SEARCH_UP = 4
GIT_LFS_POINTER = b"version https://git-lfs"
# The sample formats that can hold NaN or infinity.
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
# Seconds a file may fall short of its manifest duration (which the data prep
# read from the same header, rounded to 1 ms) before it counts as truncated.
DURATION_TOLERANCE = 0.05


class DataPrepError(UserError, ValueError):
    """The corpus or the options cannot give valid manifests."""


def locate_corpus(data_folder, marker, corpus, expected):
    """Resolve the corpus folder, or explain which folder to pass instead.

    A folder holding ``marker`` is the corpus folder. When the given
    folder is inside the corpus (e.g. IEMOCAP's ``Session1``) or one
    level above it (e.g. the folder holding ``IEMOCAP_full_release``),
    the error names the folder to pass.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        What the user passed.
    marker : str
        A path, relative to the corpus folder, that only the corpus folder
        has, e.g. ``Session1/dialog/EmoEvaluation``.
    corpus : str
        Corpus name for messages.
    expected : str
        Description of the right folder and where to get the corpus.

    Returns
    -------
    pathlib.Path
        The resolved corpus folder.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> (root / "CREMA-D" / "AudioWAV").mkdir(parents=True)
    >>> locate_corpus(root / "CREMA-D", "AudioWAV", "CREMA-D", "") == (
    ...     root / "CREMA-D")
    True
    >>> locate_corpus(root, "AudioWAV", "CREMA-D", "")
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: ...--data-folder .../CREMA-D
    """
    folder = Path(data_folder).expanduser().resolve()
    if not folder.is_dir():
        raise DataPrepError(
            f"{corpus} folder {folder} does not exist or is not a folder. "
            f"Pass --data-folder {expected}"
        )
    if (folder / marker).exists():
        return folder
    for ancestor in list(folder.parents)[:SEARCH_UP]:
        if (ancestor / marker).exists():
            raise DataPrepError(
                f"{folder} is inside the {corpus} corpus, not its top "
                f"folder: pass --data-folder {ancestor}"
            )
    for child in sorted(folder.iterdir()):
        if child.is_dir() and (child / marker).exists():
            raise DataPrepError(
                f"{folder} holds the {corpus} corpus in a subfolder: pass "
                f"--data-folder {child}"
            )
    raise DataPrepError(
        f"{folder} is not the {corpus} folder: it has no {marker}. Pass "
        f"--data-folder {expected}"
    )


def check_choice(name, value, choices):
    """Raise a :class:`DataPrepError` unless ``value`` is in ``choices``.

    Example
    -------
    >>> check_choice("class_set", "5class", ("all", "4class"))
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: class_set='5class' is not...
    """
    if value not in choices:
        raise DataPrepError(
            f"{name}={value!r} is not one of {', '.join(choices)}"
        )


def bullet_list(items):
    """The first :data:`MAX_LISTED` items as an indented list, then how
    many more there are: for error messages that name every bad input.

    Example
    -------
    >>> print(bullet_list(["a: missing", "b: empty"]))
    <BLANKLINE>
      a: missing
      b: empty
    """
    lines = [f"\n  {item}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"\n  ... and {len(items) - MAX_LISTED} more")
    return "".join(lines)


def records_from_names(audio_folder, record, expected):
    """One record per ``.wav`` of ``audio_folder``, in name order, made by
    ``record(path)`` from its name (macOS ``._*`` files are ignored).

    ``record`` raises ``ValueError`` for a name that does not parse: every
    such name is listed in one error. A folder without any ``.wav`` is an
    error too, saying which folder to pass (``expected``).

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a_1.wav").write_bytes(b"")
    >>> records_from_names(folder, lambda p: {"ID": p.stem}, "")
    [{'ID': 'a_1'}]
    """
    records, problems = [], []
    for path in sorted(audio_folder.glob("*.wav")):
        if path.name.startswith("._"):
            continue
        try:
            records.append(record(path))
        except ValueError as error:
            problems.append(f"{path.name}: {error}")
    if problems:
        raise DataPrepError(
            f"{len(problems)} file name(s) in {audio_folder} do not parse:"
            f"{bullet_list(problems)}\nRename them as in the release, or "
            "move them out of the folder."
        )
    if not records:
        raise DataPrepError(
            f"{audio_folder} holds no .wav files; pass --data-folder {expected}"
        )
    return records


def fingerprint(data_folder, paths):
    """Size and modification time of each input, keyed by relative path.

    Cheap (one ``stat`` per path) yet changes when a label file is edited
    or, for a folder, when files are added or removed.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "labels.csv").write_text("a,b\\n")
    >>> fingerprint(root, [root / "labels.csv"])["labels.csv"][0]
    4
    """
    stamps = {}
    for path in sorted(paths):
        stat = Path(path).stat()
        key = Path(path).relative_to(data_folder).as_posix()
        stamps[key] = [stat.st_size, stat.st_mtime_ns]
    return stamps


def id_hash(ids):
    """sha256 of the sorted IDs, one per line: identifies a split's content.

    Example
    -------
    >>> id_hash(["b", "a"]) == id_hash(["a", "b"])
    True
    """
    text = "\n".join(sorted(ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audio_problem(path, duration=None):
    """Why ``path`` cannot be used as audio, or None when it looks fine:
    the one audio check of the data prep and of the runs.

    Integer-format files are not decoded but for their last sample: a
    missing or 0-byte file, a git-lfs pointer, an unreadable header, a
    header without samples, a compressed file cut short (its last sample
    cannot be read) and a file shorter than ``duration`` (a WAV cut short:
    libsndfile counts the samples actually present) are all found.
    Float-format files (``FLOAT``, ``DOUBLE``) are read whole as well,
    since they alone can hold NaN or infinite samples.

    Arguments
    ---------
    path : str or pathlib.Path
        Audio file.
    duration : float, optional
        Its duration in the manifest, in seconds.

    Returns
    -------
    tuple
        ``(problem, info)``: a description or None, and the
        ``soundfile.info`` result or None.

    Example
    -------
    >>> import tempfile
    >>> import numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "a.wav"
    >>> sf.write(path, np.zeros(1600, dtype="float32"), 16000)
    >>> audio_problem(path, duration=0.1)[0] is None
    True
    >>> audio_problem(path, duration=2.0)[0]
    '0.10 s of audio, the manifest says 2.00 s: truncated or replaced ...'
    >>> _ = path.write_bytes(b"")
    >>> audio_problem(path)
    ('empty (0 bytes)', None)
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return "missing", None
    if size == 0:
        return "empty (0 bytes)", None
    try:
        info = sf.info(str(path))
    except RuntimeError as error:
        with open(path, "rb") as file:
            if file.read(len(GIT_LFS_POINTER)) == GIT_LFS_POINTER:
                return "a git-lfs pointer, not audio (run `git lfs pull`)", None
        return f"unreadable audio header ({error})", None
    if info.frames <= 0:
        return "no audio samples (header only)", None
    if not _last_sample_readable(path, info.frames):
        return (
            f"truncated: the header promises {info.frames} samples but the "
            "last cannot be read"
        ), None
    if info.subtype in FLOAT_SUBTYPES and not _samples_finite(path):
        return "NaN or infinite samples (re-encode or remove it)", None
    actual = info.frames / info.samplerate
    if duration is not None and actual < duration - DURATION_TOLERANCE:
        return (
            f"{actual:.2f} s of audio, the manifest says {duration:.2f} s: "
            "truncated or replaced since the data prep"
        ), None
    return None, info


def _samples_finite(path, block=1 << 20):
    """Whether every sample of a float-format file is finite (read in
    blocks; integer formats cannot hold NaN, so they are not read)."""
    with sf.SoundFile(str(path)) as audio:
        for samples in audio.blocks(blocksize=block, dtype="float32"):
            if not np.isfinite(samples).all():
                return False
    return True


def _last_sample_readable(path, frames):
    try:
        with sf.SoundFile(str(path)) as audio:
            audio.seek(frames - 1)
            return len(audio.read(1)) == 1
    except Exception:  # e.g. a FLAC decoder losing sync
        return False


def validate_manifests(
    manifests,
    label_set,
    may_share=(),
    dimensional=False,
    heading="The prepared manifests are invalid, nothing was written",
):
    """Check manifests before anything is written; raise one error for all.

    Checked: columns (:data:`COLUMNS` first, in order), non-empty, unique
    IDs, durations > 0, ``emo`` in ``label_set`` (itself within
    :data:`LABELS`), ``gender`` in F/M/empty, and speaker independence:
    manifests in the same folder (``fold1/train.csv``, ``fold1/test.csv``)
    form one split set, in which no ID and no speaker may appear twice.
    Dimensional manifests instead need all three dimensions on every row,
    and ``emo`` may be empty (no agreed category).

    Arguments
    ---------
    manifests : dict
        ``{relative csv path: DataFrame}``.
    label_set : list of str
        The allowed ``emo`` codes.
    may_share : iterable of tuple
        Pairs of split names allowed to share speakers (the MSP-Podcast
        test sets, which share some by design of the corpus).
    dimensional : bool
        Check them as dimensional manifests.
    heading : str
        The error's first line, before the list of problems.

    Example
    -------
    >>> row = dict(ID="a", duration=1.0, wav="$data_root/a.wav",
    ...            spk_id="s1", gender="F", emo="neu", arousal=None,
    ...            valence=None, dominance=None)
    >>> frames = {"train.csv": pd.DataFrame([{**row, "split": "train"}]),
    ...           "test.csv": pd.DataFrame([{**row, "ID": "b",
    ...                                      "split": "test"}])}
    >>> validate_manifests(frames, ["neu"])
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: ...s1 is in train.csv and...
    """
    unknown = sorted(set(label_set) - set(LABELS))
    if unknown:
        raise DataPrepError(f"Labels {unknown} are not shared codes {LABELS}")
    problems = []
    groups = {}
    for name, frame in manifests.items():
        groups.setdefault(Path(name).parent, []).append(name)
        if tuple(frame.columns[: len(COLUMNS)]) != COLUMNS:
            raise DataPrepError(
                f"{name}: columns {list(frame.columns)} do not start with "
                f"{list(COLUMNS)}"
            )
        problems += _row_problems(name, frame, label_set, dimensional)
    allowed = {frozenset(pair) for pair in may_share}
    for names in groups.values():
        for first, second in combinations(names, 2):
            problems += _shared(manifests, first, second, "ID")
            if frozenset((Path(first).stem, Path(second).stem)) not in allowed:
                problems += _shared(manifests, first, second, "spk_id")
    if problems:
        raise DataPrepError(f"{heading}:" + bullet_list(problems))


def _row_problems(name, frame, label_set, dimensional):
    """What is wrong with the rows of one manifest."""
    problems = []
    if frame.empty:
        problems.append(
            f"{name}: no utterances left after the options' filters"
        )
    duplicated = frame.loc[frame["ID"].duplicated(), "ID"]
    if len(duplicated):
        problems.append(f"{name}: duplicate IDs {list(duplicated[:5])}")
    durations = pd.to_numeric(frame["duration"], errors="coerce")
    bad = frame.loc[~(durations > 0), "ID"]
    if len(bad):
        problems.append(f"{name}: durations not > 0 for {list(bad[:5])}")
    labels = frame["emo"].dropna() if dimensional else frame["emo"]
    bad = labels[~labels.isin(label_set)]
    if len(bad):
        problems.append(
            f"{name}: labels {sorted(set(bad))} outside {list(label_set)}"
        )
    if dimensional:
        bad = frame.loc[frame[list(DIMENSIONS)].isna().any(axis=1), "ID"]
        if len(bad):
            problems.append(f"{name}: no dimensions for {list(bad[:5])}")
    bad = frame.loc[~frame["gender"].isin(GENDERS + ("",)), "gender"]
    bad = bad.dropna()
    if len(bad):
        problems.append(f"{name}: genders {sorted(set(bad))} not F/M")
    return problems


def _shared(manifests, first, second, column):
    """Problems for values of ``column`` found in both manifests."""
    shared = sorted(
        set(manifests[first][column]) & set(manifests[second][column])
    )
    what = "speaker" if column == "spk_id" else "ID"
    return [f"{what} {value} is in {first} and {second}" for value in shared]


def to_manifest(frame, split, extras):
    """The manifest of one split, from a frame with a relative ``path``.

    Arguments
    ---------
    frame : pandas.DataFrame
        Has ``path`` (relative to the corpus folder, POSIX separators) and
        every column of :data:`COLUMNS` but ``wav`` and ``split``.
    split : str
        Value of the ``split`` column.
    extras : sequence of str
        Corpus-specific columns, appended in this order.

    Example
    -------
    >>> frame = pd.DataFrame([dict(ID="u1", duration=1.5, path="a/u1.wav",
    ...     spk_id="s", gender="F", emo="neu", arousal=float("nan"),
    ...     valence=float("nan"), dominance=float("nan"), emo_raw="NEU")])
    >>> to_manifest(frame, "train", ["emo_raw"]).iloc[0, 2]
    '$data_root/a/u1.wav'
    """
    frame = frame.assign(wav=DATA_ROOT + "/" + frame["path"], split=split)
    frame = frame.sort_values("ID", ignore_index=True)
    return frame.loc[:, list(COLUMNS) + list(extras)]


def count_out_of_scale(frame, scale, corpus):
    """Number of utterances with a dimension outside ``scale``; logged.

    Such values are kept as the corpus gives them (the IEMOCAP release has
    a few 0.5 and 5.5 means on its 1-5 scale).

    Example
    -------
    >>> frame = pd.DataFrame({"arousal": [0.5, 3.0], "valence": [3.0, 3.0],
    ...                       "dominance": [3.0, float("nan")]})
    >>> count_out_of_scale(frame, (1.0, 5.0), "IEMOCAP")
    1
    """
    values = frame.loc[:, list(DIMENSIONS)]
    outside = ((values < scale[0]) | (values > scale[1])).any(axis=1)
    count = int(outside.sum())
    if count:
        logger.warning(
            "%s: %d utterance(s) have a dimension outside the %g-%g scale; "
            "kept as given",
            corpus,
            count,
            *scale,
        )
    return count


class Preparation:
    """One data-prep run: reuse check, skip bookkeeping, audio headers and
    writing, shared by the corpus scripts.

    Arguments
    ---------
    corpus : str
        Corpus name, stored in ``prep_info.json``.
    data_folder : pathlib.Path
        The corpus folder, as returned by :func:`locate_corpus`.
    save_folder : str or pathlib.Path
        Where the manifests and ``prep_info.json`` go.
    options : dict
        The run's options (JSON types); ``skip_invalid_audio`` among them.
    inputs : list of pathlib.Path
        Label files (and folders whose listing matters) to fingerprint.
    """

    def __init__(self, corpus, data_folder, save_folder, options, inputs):
        self.corpus = corpus
        self.data_folder = Path(data_folder)
        self.save_folder = Path(save_folder).expanduser().resolve()
        self.options = options
        self.inputs = fingerprint(self.data_folder, inputs)
        self.skipped = {}
        self.invalid_audio = []
        self.audio = {}

    def _identity(self):
        """What must match for an earlier output to be reused."""
        return {
            "corpus": self.corpus,
            "prep_version": PREP_VERSION,
            "data_folder": str(self.data_folder),
            "options": self.options,
            "inputs": self.inputs,
        }

    def previous(self):
        """``prep_info.json`` of an earlier run with the same corpus folder,
        options and input fingerprints whose manifests all exist; else
        None (then the corpus is prepared again)."""
        info = read_prep_info(self.save_folder)
        identity = json.loads(json.dumps(self._identity()))
        if info is None or any(info.get(k) != v for k, v in identity.items()):
            return None
        manifests = info.get("manifests", {}).values()
        if not all((self.save_folder / path).is_file() for path in manifests):
            return None
        logger.info(
            "%s: manifests in %s are up to date (same corpus folder, options "
            "and label files); skipping preparation",
            self.corpus,
            self.save_folder,
        )
        return {**info, "reused": True}

    def skip(self, frame, drop, reason):
        """Drop the rows where ``drop`` is True, counted per ``emo_raw``
        under ``reason`` (logged and stored in ``prep_info.json``)."""
        dropped = frame.loc[drop, "emo_raw"]
        if len(dropped):
            entry = self.skipped.setdefault(
                reason, {"count": 0, "by_label": {}}
            )
            entry["count"] += len(dropped)
            by_label = Counter(entry["by_label"]) + Counter(dropped)
            entry["by_label"] = dict(sorted(by_label.items()))
            logger.info(
                "%s: skipped %d utterance(s), %s: %s",
                self.corpus,
                len(dropped),
                reason,
                dict(sorted(Counter(dropped).items())),
            )
        return frame.loc[~drop].reset_index(drop=True)

    def read_audio(self, frame, broken_in_release=()):
        """Add ``duration`` from every file's header (nothing is decoded).

        Missing, empty, unreadable or sample-less files raise one error
        naming them all, unless the ``skip_invalid_audio`` option is set:
        then they are skipped, logged, and listed in ``prep_info.json``.
        Files of ``broken_in_release`` (paths inside the corpus folder that
        the release as distributed ships broken) are always left out that
        way when they are broken, and kept when a copy has them whole.
        """
        problems, durations = [], []
        rates, channels = Counter(), Counter()
        for path in frame["path"]:
            problem, info = audio_problem(self.data_folder / path)
            if problem:
                problems.append((path, problem))
                durations.append(float("nan"))
                continue
            durations.append(info.frames / info.samplerate)
            rates[info.samplerate] += 1
            channels[info.channels] += 1
        frame = frame.assign(duration=durations)
        unexpected = [p for p in problems if p[0] not in broken_in_release]
        if unexpected and not self.options["skip_invalid_audio"]:
            listed = [f"{self.data_folder / p}: {why}" for p, why in unexpected]
            raise DataPrepError(
                f"{len(unexpected)} audio file(s) of {self.corpus} cannot be "
                f"used:{bullet_list(listed)}\nRestore them from the corpus "
                "release, or leave them out: rerun the data prep with "
                "--skip-invalid-audio, or the recipe with "
                "--skip_invalid_audio=True; they are then logged and listed "
                "in prep_info.json."
            )
        if problems:
            self.invalid_audio += [
                {"file": path, "problem": why} for path, why in problems
            ]
            for path, why in problems:
                logger.warning("%s: skipping %s: %s", self.corpus, path, why)
            frame = self.skip(frame, frame["duration"].isna(), "invalid audio")
        self.audio = {
            "sample_rates": {str(k): v for k, v in sorted(rates.items())},
            "channels": {str(k): v for k, v in sorted(channels.items())},
        }
        if set(rates) - {16000} or set(channels) - {1}:
            logger.info(
                "%s: sample rates %s, channels %s; the data loader resamples "
                "to the encoder's rate and averages channels",
                self.corpus,
                self.audio["sample_rates"],
                self.audio["channels"],
            )
        return frame

    def write(
        self,
        manifests,
        label_set,
        n_listed,
        may_share=(),
        extra=None,
        dimensional=None,
        dimension_scale=None,
    ):
        """Validate, then write every manifest and ``prep_info.json`` last.

        Arguments
        ---------
        manifests : dict
            ``{relative csv path: DataFrame}`` (see :func:`to_manifest`):
            the categorical manifests.
        label_set : list of str
            The class set's ``emo`` codes.
        n_listed : int
            Utterances in the corpus' label source before any filter.
        may_share : iterable of tuple
            See :func:`validate_manifests`.
        extra : dict, optional
            Corpus-specific entries for ``prep_info.json``.
        dimensional : dict, optional
            The dimensional manifests, like ``manifests``; written under
            :data:`DIMENSIONAL`.
        dimension_scale : tuple, optional
            ``(low, high)``, the corpus' rating scale of the dimensions
            (recorded for training and evaluation; None without any).

        Returns
        -------
        dict
            The content of ``prep_info.json`` plus ``reused: False``.
        """
        validate_manifests(manifests, label_set, may_share)
        dimensional = {
            f"{DIMENSIONAL}/{path}": frame
            for path, frame in (dimensional or {}).items()
        }
        validate_manifests(dimensional, LABELS, may_share, dimensional=True)
        manifests = {**manifests, **dimensional}
        names = {str(Path(path).with_suffix("")): path for path in manifests}
        info = {
            **self._identity(),
            "label_set": list(label_set),
            "dimension_scale": None
            if dimension_scale is None
            else list(dimension_scale),
            "manifests": names,
            "n_listed": n_listed,
            "counts": {
                name: {
                    "total": len(manifests[path]),
                    "emo": _counts(manifests[path]["emo"].fillna(NO_LABEL)),
                    "hours": round(
                        float(manifests[path]["duration"].sum()) / 3600, 3
                    ),
                }
                for name, path in names.items()
            },
            "id_sha256": {
                name: id_hash(manifests[path]["ID"])
                for name, path in names.items()
            },
            "skipped": self.skipped,
            "invalid_audio": self.invalid_audio,
            "audio": self.audio,
            **(extra or {}),
        }
        # Manifests of an earlier run of this corpus that this run does not
        # write (e.g. a test set gone from the labels) are removed, so that
        # nobody evaluates on them by mistake.
        old = read_prep_info(self.save_folder) or {}
        stale = set()
        if old.get("corpus") == self.corpus:
            stale = set(old.get("manifests", {}).values()) - set(manifests)
        # A crash from here on leaves no prep_info.json, so the next run
        # prepares again instead of trusting a half-written output.
        self.save_folder.mkdir(parents=True, exist_ok=True)
        (self.save_folder / PREP_INFO).unlink(missing_ok=True)
        for path, frame in manifests.items():
            target = self.save_folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, frame.to_csv(index=False))
        for path in stale:
            (self.save_folder / path).unlink(missing_ok=True)
        atomic_write_text(
            self.save_folder / PREP_INFO, json.dumps(info, indent=2) + "\n"
        )
        for name, counts in info["counts"].items():
            logger.info(
                "%s: %s: %d utterances %s",
                self.corpus,
                name,
                counts["total"],
                counts["emo"],
            )
        logger.info("%s: wrote %s", self.corpus, self.save_folder / PREP_INFO)
        return {**info, "reused": False}


def _counts(values):
    """``{value: count}`` sorted by value, with plain int counts."""
    return {str(k): int(v) for k, v in sorted(Counter(values).items())}


def read_prep_info(save_folder):
    """The parsed ``prep_info.json`` in ``save_folder``, or None."""
    try:
        return json.loads((Path(save_folder) / PREP_INFO).read_text())
    except (OSError, ValueError):
        return None


def prep_info_of(manifest):
    """The ``prep_info.json`` of the data prep that wrote ``manifest`` (in
    its folder or up to two folders above: ``fold1/``, ``dimensional/``),
    or None for a manifest written some other way.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "dimensional" / "fold1").mkdir(parents=True)
    >>> _ = (root / PREP_INFO).write_text('{"corpus": "IEMOCAP"}')
    >>> prep_info_of(root / "dimensional" / "fold1" / "test.csv")["corpus"]
    'IEMOCAP'
    """
    folder = Path(manifest).resolve().parent
    for candidate in [folder, *list(folder.parents)[:2]]:
        info = read_prep_info(candidate)
        if info is not None:
            return info
    return None


def argument_parser(description, data_folder_help):
    """An ``argparse`` parser with the options every corpus script has.

    Example
    -------
    >>> parser = argument_parser("demo", "the corpus")
    >>> args = parser.parse_args(["--data-folder", "d", "--save-folder", "s"])
    >>> args.skip_invalid_audio
    False
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # SUPPRESS keeps "(default: None)" out of the help of required options.
    parser.add_argument(
        "--data-folder",
        required=True,
        default=argparse.SUPPRESS,
        help=data_folder_help,
    )
    parser.add_argument(
        "--save-folder",
        required=True,
        default=argparse.SUPPRESS,
        help=f"where the CSV manifests and {PREP_INFO} are written",
    )
    parser.add_argument(
        "--skip-invalid-audio",
        action="store_true",
        help="leave out missing, empty or unreadable audio files (logged and "
        f"listed in {PREP_INFO}) instead of failing",
    )
    return parser


def run_cli(prepare, parser, argv=None):
    """Parse ``argv`` and run ``prepare``; our own errors (a
    :class:`DataPrepError`...) end as one line on stderr and exit status 1
    (see :func:`speechbrain_peft.utils.errors.run_command`)."""
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    run_command(lambda: prepare(**vars(args)) and 0)
