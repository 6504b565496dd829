"""Your own data: the manifests of a corpus that has no module here,
checked as a corpus' data prep checks its own before a recipe trains on
them (``recipes/Manifests``).

A manifest folder holds one CSV per split: ``train.csv``, ``dev.csv`` and
one or more test splits (``test.csv``, or any other name: each is scored).
Each follows the schema of :data:`speechbrain_peft.data.schema.COLUMNS`
(``ID, duration, wav, spk_id, gender, emo, arousal, valence, dominance,
split``, in that order, any extra columns after them); ``wav`` is absolute
or starts with ``$data_root/``, which the recipe's ``data_folder``
replaces. Checked before anything trains, in one error naming every
problem: the columns, IDs unique within and across the splits, durations,
labels within the run's label set (shared codes), genders, speakers in one
split only, and (dimensional) all three dimensions on every row. The audio
files are checked when the datasets are built, as for every corpus.

Authors
 * speechbrain-peft-ser developers 2026
"""

from pathlib import Path

import pandas as pd

from speechbrain_peft.data.datasets import ManifestError
from speechbrain_peft.data.manifest import validate_manifests
from speechbrain_peft.data.schema import LABELS

REQUIRED = ("train", "dev")


def _read(path):
    """One manifest as a frame, with its text columns kept as text."""
    return pd.read_csv(
        path, dtype={"ID": str, "spk_id": str, "emo": str, "gender": str}
    )


def own_manifests(folder, task, label_set):
    """The checked manifests of ``folder``, as a recipe takes them.

    Arguments
    ---------
    folder : str or pathlib.Path
        Holds ``train.csv``, ``dev.csv`` and at least one test split.
    task : str
        ``categorical`` or ``dimensional``.
    label_set : list of str
        The run's classes (shared codes); a dimensional run accepts any
        shared code or none in ``emo``.

    Returns
    -------
    dict
        ``{split: csv path}``: train, dev, then the test splits by name.

    Example
    -------
    >>> import tempfile
    >>> row = dict(ID="a", duration=1.0, wav="$data_root/a.wav",
    ...            spk_id="s1", gender="F", emo="neu", arousal=None,
    ...            valence=None, dominance=None, split="train")
    >>> folder = Path(tempfile.mkdtemp())
    >>> for split, speaker in (("train", "s1"), ("dev", "s2"), ("test", "s1")):
    ...     pd.DataFrame([{**row, "ID": split, "spk_id": speaker,
    ...                    "split": split}]).to_csv(folder / f"{split}.csv",
    ...                                             index=False)
    >>> own_manifests(folder, "categorical", ["neu"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: The manifests of ... \
cannot be used:
      speaker s1 is in test.csv and train.csv
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(
            f"Manifest folder {folder} does not exist; give the folder of "
            "your train.csv, dev.csv and test.csv with --manifest_folder"
        )
    paths = {path.stem: path for path in sorted(folder.glob("*.csv"))}
    tests = sorted(set(paths) - set(REQUIRED))
    if not set(REQUIRED) <= set(paths) or not tests:
        raise ManifestError(
            f"Manifest folder {folder} has {sorted(paths) or 'no CSV'}; it "
            "needs train.csv, dev.csv and at least one test split (test.csv)"
        )
    categorical = task == "categorical"
    validate_manifests(
        {path.name: _read(path) for path in paths.values()},
        label_set if categorical else LABELS,
        dimensional=not categorical,
        heading=f"The manifests of {folder} cannot be used",
    )
    return {split: str(paths[split]) for split in (*REQUIRED, *tests)}
