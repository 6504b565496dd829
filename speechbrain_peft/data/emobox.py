"""Folds taken from EmoBox's published fold files, so that a number from
here can be put beside EmoBox's leaderboard (Ma et al., Interspeech 2024;
https://github.com/emo-box/EmoBox).

EmoBox publishes, per corpus, ``data/<corpus>/fold_<k>/<corpus>_train_
fold_<k>.jsonl`` and ``..._test_fold_<k>.jsonl``: one JSON object per
line, whose ``wav`` ends in the release's file name. A recipe given
``emobox_folds: <that data/<corpus> folder>`` keeps the manifests its data
prep wrote (the class set, audio checks and labels are ours) and regroups
their utterances by those files, matched by file name:

* test is exactly EmoBox's test set of the fold;
* EmoBox has no dev set: dev is :data:`DEV_SHARE` of EmoBox's training
  speakers (at least one), drawn with :data:`DEV_SEED`, and train the
  rest; so the training data differs from EmoBox's by those speakers;
* a fold whose test set holds a speaker of its training set (EmoBox's
  EmoDB folds do) is refused: no split here may hold a speaker its model
  trained on;
* a fold listing an utterance twice (in one file or in both) is refused;
* an utterance of EmoBox's files that the manifests lack (another class
  set, or left out by data prep) is an error naming it; utterances of the
  manifests that a fold does not list are left out and counted.

A run on EmoBox fold k goes to ``<output_folder>/emobox_fold<k>``, and a
study of such a configuration runs every fold the files hold.

Output, beside the data prep's: ``emobox/fold<k>/{train,dev,test}.csv``
and ``emobox/emobox_info.json`` (source files' SHA-256, dev speakers,
counts), rewritten whenever the fold files or the manifests change.

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from speechbrain_peft.data.manifest import (
    DIMENSIONAL,
    DataPrepError,
    bullet_list,
    read_prep_info,
)
from speechbrain_peft.data.schema import SPLITS
from speechbrain_peft.utils.files import atomic_write_text

logger = logging.getLogger(__name__)

FOLDER = "emobox"
INFO = "emobox_info.json"
FOLD_FILE = re.compile(r"^.+_(train|test)_fold_(\d+)\.jsonl$")
DEV_SHARE = 0.1
DEV_SEED = 1986


def read_fold_files(source):
    """``{fold: {"train": [name, ...], "test": [...]}}`` of an EmoBox
    ``data/<corpus>`` folder, names being file stems of ``wav``.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "fold_1"
    >>> folder.mkdir()
    >>> for split, stem in (("train", "a"), ("test", "b")):
    ...     line = json.dumps({"key": "x-" + stem, "wav": f"d/{stem}.wav"})
    ...     _ = (folder / f"x_{split}_fold_1.jsonl").write_text(line + "\\n")
    >>> read_fold_files(folder.parent)
    {1: {'test': ['b'], 'train': ['a']}}
    """
    source = Path(source).expanduser()
    files = sorted(source.glob("fold_*/*.jsonl"))
    folds = {}
    for path in files:
        match = FOLD_FILE.match(path.name)
        if match:
            split, fold = match.group(1), int(match.group(2))
            folds.setdefault(fold, {})[split] = _names_in(path)
    incomplete = [f for f, splits in folds.items() if len(splits) != 2]
    if not folds or incomplete:
        raise DataPrepError(
            f"{source} holds no complete EmoBox folds (fold_<k>/<corpus>_"
            "train_fold_<k>.jsonl and _test_fold_<k>.jsonl): pass EmoBox's "
            "data/<corpus> folder as emobox_folds"
        )
    return {fold: dict(sorted(folds[fold].items())) for fold in sorted(folds)}


def _names_in(path):
    """File stems of the ``wav`` entries of one jsonl file."""
    names = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            names.append(Path(json.loads(line)["wav"]).stem)
        except (ValueError, KeyError, TypeError):
            raise DataPrepError(
                f"{path}, line {number}: not a JSON object with a 'wav'; "
                "restore the file from EmoBox's repository"
            ) from None
    return names


def sources_digest(source):
    """SHA-256 of every fold file, by relative path."""
    source = Path(source).expanduser()
    return {
        path.relative_to(source).as_posix(): hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in sorted(source.glob("fold_*/*.jsonl"))
    }


def utterance_pool(manifest_folder):
    """Every utterance of the data prep's categorical manifests, once."""
    info = read_prep_info(manifest_folder)
    frames = [
        pd.read_csv(Path(manifest_folder) / path, dtype={"spk_id": str})
        for path in info["manifests"].values()
        if not path.startswith(f"{DIMENSIONAL}/")
    ]
    pool = pd.concat(frames, ignore_index=True).drop_duplicates("ID")
    names = pool["wav"].map(lambda wav: Path(wav).stem)
    shared = sorted(set(names[names.duplicated()]))
    if shared:
        raise DataPrepError(
            f"{len(shared)} file name(s) of the manifests in "
            f"{manifest_folder} belong to several utterances, and EmoBox's "
            f"files name utterances by file name:{bullet_list(shared)}\n"
            "Use this corpus' own folds (emobox_folds: null)."
        )
    return pool.assign(split="").set_index(names.rename("name"))


def _check_listed_once(fold, splits):
    """Refuse a fold that lists an utterance twice (in one file, or in
    both): it would be trained on twice, or scored twice, or both.

    Example
    -------
    >>> _check_listed_once(2, {"train": ["a", "b"], "test": ["b"]})
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: EmoBox fold 2 lists 1 ...
    """
    listed = pd.Series([*splits["train"], *splits["test"]])
    twice = sorted(set(listed[listed.duplicated()]))
    if twice:
        raise DataPrepError(
            f"EmoBox fold {fold} lists {len(twice)} utterance(s) more than "
            f"once (its train and test files together):{bullet_list(twice)}"
            "\nRestore the fold files from EmoBox's repository."
        )


def fold_manifests(pool, fold, splits):
    """``{split: manifest}`` of one EmoBox fold (see the module doc)."""
    _check_listed_once(fold, splits)
    missing = [
        n for n in (*splits["train"], *splits["test"]) if n not in pool.index
    ]
    if missing:
        raise DataPrepError(
            f"EmoBox fold {fold} lists {len(missing)} utterance(s) the "
            f"manifests lack:{bullet_list(missing)}\nPrepare the class set "
            "EmoBox uses (e.g. class_set: all) and keep every file."
        )
    train, test = pool.loc[splits["train"]], pool.loc[splits["test"]]
    shared = sorted(set(train["spk_id"]) & set(test["spk_id"]))
    if shared:
        raise DataPrepError(
            f"EmoBox fold {fold} is not speaker-independent: its test set "
            f"holds {len(shared)} speaker(s) of its training set "
            f"({', '.join(shared[:5])}); use this corpus' own folds "
            "(emobox_folds: null)"
        )
    dev_speakers = _dev_speakers(sorted(set(train["spk_id"])))
    dev = train["spk_id"].isin(dev_speakers)
    parts = {"train": train[~dev], "dev": train[dev], "test": test}
    return {
        split: frame.assign(split=split).sort_values("ID")
        for split, frame in parts.items()
    }, dev_speakers


def _dev_speakers(speakers):
    """:data:`DEV_SHARE` of ``speakers`` (at least one), seeded."""
    count = max(1, round(DEV_SHARE * len(speakers)))
    rng = np.random.default_rng(DEV_SEED)
    return sorted(rng.choice(speakers, size=count, replace=False).tolist())


def prepare_emobox_folds(manifest_folder, source):
    """Write the EmoBox folds' manifests beside the data prep's, unless
    they are up to date; returns ``emobox_info.json``'s content."""
    out = Path(manifest_folder) / FOLDER
    identity = {
        "source": str(Path(source).expanduser().resolve()),
        "sources_sha256": sources_digest(source),
        "prep_id_sha256": read_prep_info(manifest_folder)["id_sha256"],
        "dev_share": DEV_SHARE,
        "dev_seed": DEV_SEED,
    }
    info_path = out / INFO
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if all(info.get(key) == value for key, value in identity.items()):
            return info
    pool = utterance_pool(manifest_folder)
    folds = read_fold_files(source)
    info = {**identity, "folds": {}}
    for fold, splits in folds.items():
        manifests, dev_speakers = fold_manifests(pool, fold, splits)
        listed = set(splits["train"]) | set(splits["test"])
        info["folds"][str(fold)] = {
            "dev_speakers": dev_speakers,
            "counts": {s: len(m) for s, m in manifests.items()},
            "left_out": int((~pool.index.isin(list(listed))).sum()),
        }
        for split, frame in manifests.items():
            target = out / f"fold{fold}" / f"{split}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, frame.to_csv(index=False))
        logger.info(
            "EmoBox fold %d: %s; %d utterance(s) of the manifests not in "
            "it are left out",
            fold,
            info["folds"][str(fold)]["counts"],
            info["folds"][str(fold)]["left_out"],
        )
    atomic_write_text(info_path, json.dumps(info, indent=2) + "\n")
    return info


def emobox_manifest_paths(manifest_folder, source, fold):
    """``{split: csv}`` of EmoBox fold ``fold`` (prepared first), and the
    run's protocol entry for ``results.json``."""
    info = prepare_emobox_folds(manifest_folder, source)
    folds = [int(k) for k in info["folds"]]
    if fold not in folds:
        raise DataPrepError(
            f"fold {fold!r} is not one of the EmoBox folds in {source} "
            f"({', '.join(map(str, folds))}); pass --fold with one of them"
        )
    folder = Path(manifest_folder) / FOLDER / f"fold{fold}"
    paths = {split: folder / f"{split}.csv" for split in SPLITS}
    return paths, {"fold": fold, "folds": folds, "fold_source": "EmoBox"}


def emobox_output_folder(config, overrides):
    """``overrides`` with each EmoBox fold's run in its own folder,
    ``<output_folder>/emobox_fold<k>``, unless ``--output_folder`` is
    given: the corpus' own output folder has no EmoBox fold in it.

    Example
    -------
    >>> config = {"emobox_folds": "EmoBox/data/ravdess", "fold": 2,
    ...           "output_folder": "results/RAVDESS/lora"}
    >>> emobox_output_folder(config, {})["output_folder"]
    'results/RAVDESS/lora/emobox_fold2'
    >>> emobox_output_folder({**config, "emobox_folds": None}, {})
    {}
    """
    if not config.get("emobox_folds") or "output_folder" in overrides:
        return overrides
    folder = f"{config['output_folder']}/emobox_fold{config['fold']}"
    return {**overrides, "output_folder": folder}
