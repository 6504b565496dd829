"""CSV manifests to SpeechBrain ``DynamicItemDataset`` pipelines.

One place for: manifest checks before training, audio reading (mono, the
encoder's sample rate, length rules), label encoding saved with the run,
and the normalisation of emotion dimensions.

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import speechbrain as sb
import torch
import torchaudio
from speechbrain.dataio.encoder import CategoricalEncoder

from speechbrain_peft.data.manifest import audio_problem, id_hash
from speechbrain_peft.data.schema import (
    DIMENSIONS,
    TRAINING_COLUMNS,
    TRAINING_SPLIT,
)
from speechbrain_peft.utils.errors import ConfigError, UserError

logger = logging.getLogger(__name__)

# The encoders' front-end receptive field (25 ms at 16 kHz): shorter audio
# yields no frame at all, so it is zero-padded up to this length.
MIN_SAMPLES = 400


class ManifestError(UserError, ValueError):
    """A manifest or an audio file it lists cannot be used."""


def normalize_dimensions(values, scale):
    """Map ratings on ``scale = (low, high)`` linearly to ``[-1, 1]``: the
    only place dimensions are normalised (the data prep records each
    corpus' scale in ``prep_info.json``; see
    :func:`denormalize_dimensions` for the way back).

    Example
    -------
    >>> normalize_dimensions(np.array([1.0, 4.0, 7.0]), (1.0, 7.0))
    array([-1.,  0.,  1.])
    """
    low, high = scale
    return 2.0 * (values - low) / (high - low) - 1.0


def denormalize_dimensions(values, scale):
    """Inverse of :func:`normalize_dimensions`.

    Example
    -------
    >>> denormalize_dimensions(np.array([-1.0, 1.0]), (1.0, 5.0))
    array([1., 5.])
    """
    low, high = scale
    return (values + 1.0) / 2.0 * (high - low) + low


def read_manifest(
    csv_path, task, label_set=None, check_audio=True, data_root=None
):
    """Load a manifest and check it is usable for ``task``.

    Arguments
    ---------
    csv_path : str or pathlib.Path
        A manifest written by the data-prep scripts.
    task : str
        ``categorical`` or ``dimensional``.
    label_set : list of str, optional
        Allowed ``emo`` codes for a categorical task.
    check_audio : bool
        Check every audio file (header and last sample: cheap) so that a
        missing, empty or truncated file fails now, not hours into training
        (see :func:`check_audio_files`).
    data_root : str, optional
        Replaces ``$data_root`` in ``wav`` (SpeechBrain's convention, which
        keeps manifests valid when the corpus moves).

    Returns
    -------
    pandas.DataFrame
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ManifestError(
            f"Manifest {csv_path} does not exist; run the corpus' data prep "
            "(data_prep/*_prepare.py) or check `data_folder`/`manifest_folder`"
        )
    df = pd.read_csv(csv_path, dtype={"ID": str, "spk_id": str, "emo": str})
    missing = [c for c in TRAINING_COLUMNS if c not in df.columns]
    if task == "dimensional":
        missing += [c for c in DIMENSIONS if c not in df.columns]
    if missing:
        raise ManifestError(
            f"Manifest {csv_path} lacks column(s) {missing}; it has "
            f"{list(df.columns)}. Re-run the data prep for this corpus."
        )
    repeated = df.loc[df["ID"].duplicated(keep=False), "ID"]
    if len(repeated):
        names = sorted(set(repeated))
        raise ManifestError(
            f"Manifest {csv_path} lists {len(names)} ID(s) more than once: "
            f"{names[:10]}. Every row needs its own ID (utterances are "
            "matched to labels by ID); remove the duplicate rows or re-run "
            "the data prep."
        )
    if data_root is not None:
        df["wav"] = df["wav"].str.replace("$data_root", str(data_root))
    if task == "categorical" and label_set is not None:
        unknown = df.loc[~df["emo"].isin(label_set), "emo"]
        if len(unknown):
            counts = unknown.value_counts(dropna=False).to_dict()
            raise ManifestError(
                f"Manifest {csv_path} has labels outside the run's label set "
                f"{list(label_set)}: {counts}. Prepare with the matching "
                "class set or change `label_set` in the YAML."
            )
    if task == "dimensional":
        bad = df[df[list(DIMENSIONS)].isna().any(axis=1)]
        if len(bad):
            raise ManifestError(
                f"Manifest {csv_path}: {len(bad)} row(s) lack a dimension "
                f"value (NaN), e.g. {list(bad['ID'][:5])}. This corpus or "
                "split has no complete dimensional labels."
            )
    if check_audio:
        check_audio_files({csv_path: df})
    return df


def check_audio_files(frames):
    """Raise one :class:`ManifestError` naming every audio file of the
    manifests that :func:`speechbrain_peft.data.manifest.audio_problem` rejects.

    Arguments
    ---------
    frames : dict
        ``{manifest path: DataFrame}``, ``wav`` resolved.
    """
    problems = []
    for csv_path, df in frames.items():
        for wav, duration in zip(df["wav"], df["duration"]):
            problem, _ = audio_problem(wav, float(duration))
            if problem:
                problems.append(f"{wav}: {problem} (in {csv_path})")
    if problems:
        raise ManifestError(
            f"{len(problems)} audio file(s) of the manifests cannot be "
            "used:\n  " + "\n  ".join(problems[:20]) + "\nReplace or remove "
            "them (and re-run the data prep) before training."
        )


class AudioReader:
    """Read a file as mono float32 at ``sample_rate``, cropped to
    ``max_duration`` seconds (the start is kept; None keeps everything)
    and zero-padded to :data:`MIN_SAMPLES` (the encoders' receptive field,
    so even a few samples give one frame rather than a crash).

    Stereo is averaged to mono and other rates are resampled, each logged
    once per kind; every cropped file is logged (once); NaN or infinite
    samples are an error naming the file. Silent and clipped audio pass
    unchanged (the encoder's normalisation copes with zero variance).

    Arguments
    ---------
    sample_rate : int
        The encoder's rate.
    max_duration : float, optional
        Crop longer files to this many seconds.
    """

    def __init__(self, sample_rate=16000, max_duration=None):
        self.sample_rate = sample_rate
        self.max_duration = max_duration
        self._warned = set()

    def _warn_once(self, key, message, *args):
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    def __call__(self, path):
        """The waveform of ``path`` as a 1-D float tensor."""
        try:
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
        except Exception as error:
            raise ManifestError(f"Cannot read audio {path}: {error}") from error
        if audio.shape[1] > 1:
            self._warn_once(
                "channels",
                "%s has %d channels: averaged to mono (logged once)",
                path,
                audio.shape[1],
            )
        signal = torch.from_numpy(audio.mean(axis=1))
        if not torch.isfinite(signal).all():
            raise ManifestError(
                f"{path} contains NaN or infinite samples; re-encode or "
                "remove it"
            )
        if self.max_duration is not None:
            # Cropped before resampling: no work on audio thrown away.
            keep = int(round(self.max_duration * rate))
            if signal.numel() > keep:
                self._warn_once(
                    ("crop", path),
                    "Cropping %s (%.2f s) to its first max_duration = %s s",
                    path,
                    signal.numel() / rate,
                    self.max_duration,
                )
                signal = signal[:keep]
        if rate != self.sample_rate:
            self._warn_once(
                rate,
                "Resampling %d Hz audio to %d Hz (first: %s)",
                rate,
                self.sample_rate,
                path,
            )
            signal = torchaudio.functional.resample(
                signal, rate, self.sample_rate
            )
        if signal.numel() < MIN_SAMPLES:
            signal = torch.nn.functional.pad(
                signal, (0, MIN_SAMPLES - signal.numel())
            )
        return signal


def make_label_encoder(label_set, path=None):
    """A SpeechBrain ``CategoricalEncoder`` in the order of ``label_set``,
    saved to (or checked against) ``path``.

    Example
    -------
    >>> enc = make_label_encoder(["neu", "hap", "ang", "sad"])
    >>> enc.encode_label("ang")
    2
    """
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(label_set)
    encoder.expect_len(len(label_set))
    if path is not None:
        path = Path(path)
        if path.exists():
            saved = CategoricalEncoder()
            saved.load(path)
            if saved.lab2ind != encoder.lab2ind:
                raise ManifestError(
                    f"{path} holds labels {saved.lab2ind}, but this run uses "
                    f"{encoder.lab2ind}; use a new output folder"
                )
        else:
            encoder.save(path)
    return encoder


def create_datasets(
    manifests,
    task,
    label_encoder=None,
    dimension_scale=None,
    sample_rate=16000,
    max_duration=None,
    eval_max_duration=None,
    check_audio=True,
    data_root=None,
    label_map=None,
):
    """One ``DynamicItemDataset`` per split.

    Arguments
    ---------
    manifests : dict
        ``{split: csv_path}``.
    task : str
        ``categorical`` or ``dimensional``.
    label_encoder : CategoricalEncoder, optional
        For categorical tasks (see :func:`make_label_encoder`).
    dimension_scale : tuple, optional
        ``(low, high)`` rating scale, for dimensional tasks.
    sample_rate : int
        The encoder's rate.
    max_duration : float, optional
        Crop the training split's utterances to this many seconds (see
        :class:`AudioReader`).
    eval_max_duration : float, optional
        Crop the other splits' utterances (None: score whole utterances,
        the usual protocol).
    check_audio, data_root : bool, str
        See :func:`read_manifest`.
    label_map : dict, optional
        Maps the manifests' labels to the run's (another corpus' test set);
        utterances whose label has no entry are left out, with a log line.

    Returns
    -------
    Datasets
        ``{split: DynamicItemDataset}`` with output keys ``id``, ``wav``,
        ``sig``, ``duration`` and ``target_tensor``, the label map's
        left-out counts in ``left_out`` and the crops in ``cropped``.
    """
    if task not in ("categorical", "dimensional"):
        raise ConfigError(f"task must be categorical or dimensional: {task!r}")
    if task == "dimensional" and dimension_scale is None:
        raise ConfigError("A dimensional task needs `dimension_scale`")
    label_set = (
        list(label_encoder.lab2ind) if label_encoder is not None else None
    )
    datasets = Datasets()
    frames = {
        split: read_manifest(
            csv_path,
            task,
            None if label_map else label_set,
            check_audio=False,
            data_root=data_root,
        )
        for split, csv_path in manifests.items()
    }
    if check_audio:
        # Every split's problems at once, before any training.
        check_audio_files(
            {manifests[split]: df for split, df in frames.items()}
        )
    for split, df in frames.items():
        csv_path = manifests[split]
        datasets.ids_sha256[split] = id_hash(df["ID"])
        crop = max_duration if split == TRAINING_SPLIT else eval_max_duration
        datasets.cropped[split] = {
            "max_duration": crop,
            "utterances": 0
            if crop is None
            else int((df["duration"] > crop).sum()),
        }
        if label_map:
            df, datasets.left_out[split] = map_labels(df, label_map, csv_path)
        datasets.groups[split] = groups_of(df)
        data = {}
        for row in df.itertuples():
            if task == "categorical":
                target = [label_encoder.encode_label(row.emo)]
            else:
                values = np.array([getattr(row, d) for d in DIMENSIONS])
                target = normalize_dimensions(
                    values.astype("float32"), dimension_scale
                )
            data[row.ID] = {
                "wav": row.wav,
                "duration": float(row.duration),
                "target": target,
            }
        dataset = sb.dataio.dataset.DynamicItemDataset(data)
        dataset.add_dynamic_item(
            AudioReader(sample_rate, crop), takes="wav", provides="sig"
        )
        dataset.add_dynamic_item(
            torch.as_tensor, takes="target", provides="target_tensor"
        )
        dataset.set_output_keys(
            ["id", "wav", "sig", "duration", "target_tensor"]
        )
        datasets[split] = dataset
        logger.info("%s: %d utterances from %s", split, len(df), csv_path)
    return datasets


class Datasets(dict):
    """``{split: DynamicItemDataset}``, with what identifies each split's
    manifest (``ids_sha256``: the hash of its sorted IDs, as in
    ``prep_info.json``), in ``left_out`` the utterances a label map
    left out of each split, counted per label (``{split: {label:
    count}}``; only splits read through a label map), and in ``cropped``
    each split's crop length and how many of its utterances it crops
    (``{split: {"max_duration": s, "utterances": n}}``), and in ``groups``
    each utterance's gender and speaker (``{split: {id: {"gender",
    "speaker"}}}``, for
    :func:`~speechbrain_peft.training.metrics.group_scores`)."""

    def __init__(self):
        super().__init__()
        self.ids_sha256 = {}
        self.left_out = {}
        self.cropped = {}
        self.groups = {}

    def update_from(self, other):
        """Add the splits of another :class:`Datasets` with their
        records."""
        self.update(other)
        self.ids_sha256.update(other.ids_sha256)
        self.left_out.update(other.left_out)
        self.cropped.update(other.cropped)
        self.groups.update(other.groups)


def groups_of(df):
    """``{id: {"gender", "speaker"}}`` of a manifest (a hand-written one
    may lack ``gender``).

    Example
    -------
    >>> frame = pd.DataFrame({"ID": ["a"], "spk_id": ["s1"], "gender": ["F"]})
    >>> groups_of(frame)
    {'a': {'gender': 'F', 'speaker': 's1'}}
    """
    genders = df["gender"] if "gender" in df.columns else [None] * len(df)
    return {
        utt: {
            "gender": gender if isinstance(gender, str) else None,
            "speaker": speaker,
        }
        for utt, gender, speaker in zip(df["ID"], genders, df["spk_id"])
    }


def map_labels(df, label_map, csv_path):
    """Relabel ``emo`` through ``label_map``, leaving out (and logging)
    utterances whose label it does not map.

    Returns
    -------
    df : pandas.DataFrame
        The mapped rows.
    left_out : dict
        ``{label: count}`` of the rows left out.

    Example
    -------
    >>> df = pd.DataFrame({"emo": ["ang", "dis", "neu"]})
    >>> kept, left_out = map_labels(df, {"ang": "ang", "neu": "neu"}, "x")
    >>> kept["emo"].tolist(), left_out
    (['ang', 'neu'], {'dis': 1})
    """
    mapped = df["emo"].map(label_map)
    counts = df.loc[mapped.isna(), "emo"].fillna("(none)").value_counts()
    left_out = {str(k): int(v) for k, v in sorted(counts.items())}
    if left_out:
        logger.info(
            "%s: %d utterance(s) with unmapped labels left out: %s",
            csv_path,
            sum(left_out.values()),
            left_out,
        )
    return df.assign(emo=mapped).dropna(subset=["emo"]), left_out


class DurationBucketSampler(torch.utils.data.Sampler):
    """Fixed-size batches of similar durations, in a new random order every
    epoch (reproducible from ``seed`` and the epoch).

    The data are shuffled, cut into pools of ``pool_batches`` batches, each
    pool sorted by duration and cut into batches, and the batches shuffled.
    Similar lengths share a batch, so little compute goes to padding, while
    the batch size (and so the effective batch) stays fixed.

    Arguments
    ---------
    durations : list of float
        Duration of each item of the dataset, in order.
    batch_size : int
        Items per batch (the last batch may be smaller).
    seed : int
        Base seed.
    pool_batches : int
        Batches per sorting pool: larger pads less, smaller mixes more.

    Example
    -------
    >>> sampler = DurationBucketSampler([1, 9, 2, 8, 3, 7], batch_size=2)
    >>> sorted(sorted(b) for b in sampler)
    [[0, 2], [1, 3], [4, 5]]
    >>> round(sampler.padding_fraction(), 3)
    0.167
    """

    def __init__(self, durations, batch_size, seed=1986, pool_batches=50):
        self.durations = np.asarray(durations, dtype=float)
        self.batch_size = batch_size
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch):
        """Called by SpeechBrain at the start of each epoch."""
        self.epoch = epoch

    def batches(self):
        """This epoch's batches as lists of item indices."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.durations))
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(self.durations[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size].tolist()
                for i in range(0, len(chunk), self.batch_size)
            ]
        return [batches[i] for i in rng.permutation(len(batches))]

    def padding_fraction(self):
        """Share of padded samples in this epoch's batches."""
        real = padded = 0.0
        for batch in self.batches():
            lengths = self.durations[batch]
            real += lengths.sum()
            padded += lengths.max() * len(batch)
        return float(1.0 - real / padded) if padded else 0.0

    def __iter__(self):
        return iter(self.batches())

    def __len__(self):
        return math.ceil(len(self.durations) / self.batch_size)


class LengthBatchSampler(torch.utils.data.Sampler):
    """Evaluation batches by length: the longest utterances first, each
    batch at most ``batch_size`` utterances and, when ``max_seconds`` is
    set, at most that many seconds of padded audio, so that a long
    utterance runs alone (within the memory a training batch takes) and
    short ones share a batch. The order is fixed.

    Arguments
    ---------
    durations : list of float
        Duration of each item of the dataset, in order.
    batch_size : int
        Most items per batch.
    max_seconds : float, optional
        Most padded seconds per batch (a longer utterance still gets a
        batch of its own).

    Example
    -------
    >>> list(LengthBatchSampler([1, 9, 2, 8, 3], 2, max_seconds=10))
    [[1], [3], [4, 2], [0]]
    """

    def __init__(self, durations, batch_size, max_seconds=None):
        self.durations = np.asarray(durations, dtype=float)
        self.batch_size = batch_size
        self.max_seconds = max_seconds
        self._batches = self._pack()

    def _pack(self):
        batches, batch = [], []
        for index in np.argsort(-self.durations, kind="stable").tolist():
            longest = self.durations[batch[0]] if batch else 0.0
            padded = max(longest, self.durations[index]) * (len(batch) + 1)
            full = len(batch) == self.batch_size or (
                self.max_seconds is not None and padded > self.max_seconds
            )
            if batch and full:
                batches.append(batch)
                batch = []
            batch.append(index)
        return batches + ([batch] if batch else [])

    def __iter__(self):
        return iter(self._batches)

    def __len__(self):
        return len(self._batches)


def evaluation_batches(dataset, batch_size, max_duration=None):
    """The :class:`LengthBatchSampler` that scores ``dataset``: at most
    ``batch_size`` utterances and the padded seconds of a training batch of
    ``max_duration`` utterances (no seconds bound without one)."""
    return LengthBatchSampler(
        durations_of(dataset),
        batch_size,
        max_seconds=None if max_duration is None else batch_size * max_duration,
    )


def durations_of(dataset):
    """Durations of a ``DynamicItemDataset`` built by
    :func:`create_datasets`, in item order."""
    with dataset.output_keys_as(["duration"]):
        return [item["duration"] for item in dataset]
