"""Synthetic data beyond one corpus: every registered corpus at once (each
corpus module writes its own copy, ``make_synthetic``), fold files in
EmoBox's form, and a folder of labelled WAVs as a user's own data. The
audio is :mod:`speechbrain_peft.synthetic.speech`'s.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from speechbrain_peft.corpora import CORPORA, corpus_named
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


def make_emobox_folds(root, dataset, utterances, test_speakers):
    """Write fold files in the form of EmoBox's ``data/<dataset>``.

    Written: ``fold_<k>/<dataset>_{train,test}_fold_<k>.jsonl``, one JSON
    object per utterance (``key``, ``dataset``, ``wav``, ``emo``...) as
    EmoBox publishes them; fold k tests on ``test_speakers[k - 1]`` and
    trains on every other utterance.

    Arguments
    ---------
    root : str or pathlib.Path
        The folder to write (EmoBox's ``data/<dataset>``).
    dataset : str
        EmoBox's name of the corpus, e.g. ``ravdess``.
    utterances : pandas.DataFrame
        A generator's ``utterances`` (id, speaker, label).
    test_speakers : list of list
        The test speakers of each fold.

    Returns
    -------
    pathlib.Path
        ``root``.

    Example
    -------
    >>> import tempfile
    >>> frame = pd.DataFrame({"id": ["a", "b"], "speaker": ["1", "2"],
    ...                       "label": ["neu", "sad"]})
    >>> root = make_emobox_folds(tempfile.mkdtemp(), "toy", frame, [["1"]])
    >>> (root / "fold_1" / "toy_test_fold_1.jsonl").read_text()[:22]
    '{"key": "toy-a", "data'
    """
    root = Path(root)
    for fold, speakers in enumerate(test_speakers, start=1):
        test = utterances["speaker"].isin(speakers)
        for split, rows in (("train", ~test), ("test", test)):
            lines = [
                json.dumps(
                    {
                        "key": f"{dataset}-{row.id}",
                        "dataset": dataset,
                        "wav": f"downloads/{dataset}/audio/{row.id}.wav",
                        "emo": row.label,
                        "channel": 1,
                    }
                )
                for row in utterances[rows].itertuples()
            ]
            path = (
                root / f"fold_{fold}" / f"{dataset}_{split}_fold_{fold}.jsonl"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(line + "\n" for line in lines))
    return root


def make_labelled_folder(
    root,
    n_speakers=10,
    labels=("neu", "hap", "ang", "sad"),
    per_label=3,
    seed=0,
    min_dur=1.0,
    max_dur=2.5,
):
    """Write a folder of labelled WAVs, as a user's own recordings often
    come: ``<speaker>_<label>_<n>.wav`` (e.g. ``spk03_ang_002.wav``), the
    layout of the README's own-data example.

    Arguments
    ---------
    root : str or pathlib.Path
        The folder.
    n_speakers : int
        Speakers ``spk01`` ... (alternately female and male voices).
    labels : tuple of str
        Shared emotion codes to record.
    per_label : int
        Utterances per speaker and label.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``utterances`` (DataFrame: id, path, speaker, gender,
        label, duration), ``n_utterances``, ``total_seconds``,
        ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_labelled_folder(tempfile.mkdtemp(), n_speakers=2,
    ...     labels=("neu", "ang"), per_label=1, min_dur=0.4, max_dur=0.5)
    >>> sorted(Path(p).name for p in info["utterances"].path)[:2]
    ['spk01_ang_001.wav', 'spk01_neu_001.wav']
    """
    root = Path(root).resolve()
    rng = corpus_rng(seed, 4)
    records = []
    for index in range(n_speakers):
        speaker, gender = f"spk{index + 1:02d}", "FM"[index % 2]
        voice = speaker_voice(rng, gender)
        for label in labels:
            for take in range(1, per_label + 1):
                n_samples = draw_n_samples(rng, min_dur, max_dur)
                point, _ = latent_point(rng, label, 1.0)
                path = root / f"{speaker}_{label}_{take:03d}.wav"
                write_wav(path, synthesise(rng, n_samples, point, voice))
                records.append(
                    {
                        "id": path.stem,
                        "path": str(path),
                        "speaker": speaker,
                        "gender": gender,
                        "label": label,
                        "duration": n_samples / SAMPLE_RATE,
                    }
                )
    return {"root": str(root), **utterance_summary(pd.DataFrame(records))}


def make_all(root, seed=0, corpora=None):
    """Write a synthetic copy of each registered corpus (or of the ones
    named), at its generator's default size, in ``root/<release folder>``.

    Arguments
    ---------
    root : str or pathlib.Path
        Parent folder.
    seed : int
        Seed for every corpus (each draws its own stream from it).
    corpora : list of str, optional
        Registered corpus names; all of them by default.

    Returns
    -------
    dict
        ``{corpus name: its generator's result}``.

    Example
    -------
    >>> import tempfile
    >>> info = make_all(tempfile.mkdtemp(), corpora=["EmoDB"])
    >>> Path(info["EmoDB"]["root"]).name, info["EmoDB"]["n_utterances"]
    ('EmoDB', 268)
    """
    root = Path(root).resolve()
    names = sorted(CORPORA) if corpora is None else corpora
    written = {}
    for name in names:
        corpus = corpus_named(name)
        written[name] = corpus.make_synthetic(
            root / corpus.release_folder, seed=seed
        )
    return written


def main(argv=None):
    """Command line: ``python -m speechbrain_peft.synthetic.corpora OUT``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="folder to write the corpora in")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--corpus",
        action="append",
        choices=sorted(CORPORA),
        help="a corpus to write (repeatable; default: every one)",
    )
    args = parser.parse_args(argv)
    written = make_all(args.out_dir, seed=args.seed, corpora=args.corpus)
    for corpus in written.values():
        print(
            f"{corpus['root']}: {corpus['n_utterances']} utterances, "
            f"{corpus['total_seconds']:.0f} s"
        )


if __name__ == "__main__":
    main()
