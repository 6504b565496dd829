"""A run's identity: what makes a folder, a checkpoint, a table row and
an evaluation "the same run".

It is computed once, when the run starts, from

* its experiment (settings and id, see :mod:`speechbrain_peft.runs.experiment`:
  the configuration, the encoder's weights, the run options that change
  numbers, the parent's experiment);
* its place in the protocol (fold and seed);
* the data of each split: the hash of the manifest's IDs and their count;
* a stage two's parent: the parent run's own identity (and through it
  the whole lineage).

Its ``id`` hashes all of them. The run claims its output folder with it
(``run_identity.json``) before anything is trained, and a folder that
already holds a run decides what happens next:

* the same identity: the run **resumes** (a plain rerun of a command);
* only ``number_of_epochs`` raised: the run **continues** from its last
  checkpoint, and the continuation is recorded (``continued``);
* anything else (another learning rate, encoder, parent, data, fold...):
  :class:`RunMismatchError`, naming each difference ``old -> new`` and
  the fixes: another ``--output_folder``, or ``--start_over``, which moves
  the old run aside (nothing is deleted) and trains anew;
* a folder written before identities existed is compared by the
  settings of its ``hyperparams.yaml`` (its data, encoder weights and
  parent were not recorded, which is logged).

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from speechbrain_peft.runs.experiment import (
    experiment_id,
    experiment_settings,
    flatten,
    read_resolved_config,
)
from speechbrain_peft.utils.errors import UserError
from speechbrain_peft.utils.files import atomic_write_text

logger = logging.getLogger(__name__)

IDENTITY_FILE = "run_identity.json"
# Settings whose raising continues a run instead of starting another.
CONTINUABLE = ("settings.number_of_epochs",)


class RunMismatchError(UserError, ValueError):
    """An output folder holds a run of another identity."""


@dataclass
class RunIdentity:
    """What a run is (see the module docstring).

    Example
    -------
    >>> one = RunIdentity({"lr": 0.1}, fold=1, seed=7,
    ...                   data={"test": {"ids_sha256": "ab", "n": 4}})
    >>> two = RunIdentity({"lr": 0.2}, fold=1, seed=7, data=one.data)
    >>> one.id != two.id, one.differences(two)
    (True, ['settings.lr: 0.1 -> 0.2'])
    >>> RunIdentity.from_dict(one.to_dict()).id == one.id
    True
    """

    settings: dict
    fold: object = None
    seed: object = None
    data: dict = field(default_factory=dict)
    parent: dict = None
    continued: list = field(default_factory=list)

    @property
    def experiment_id(self):
        """The id of the experiment (what a table row groups by)."""
        return experiment_id(self.settings)

    def _identifying(self):
        """Everything that makes the run, the parent's folder excepted
        (the parent is named by its own identity)."""
        parent = None if self.parent is None else self.parent["run_id"]
        return {
            "settings": self.settings,
            "fold": self.fold,
            "seed": self.seed,
            "data": self.data,
            "parent": parent,
        }

    @property
    def id(self):
        """A short hash of everything that identifies the run."""
        text = json.dumps(self._identifying(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _changes(self, other):
        """The flattened names whose values differ, with both sides."""
        old, new = flatten(self._identifying()), flatten(other._identifying())
        names = sorted(
            n for n in set(old) | set(new) if old.get(n) != new.get(n)
        )
        return names, old, new

    def differences(self, other):
        """``["name: old -> new", ...]`` from ``self`` to ``other``."""
        names, old, new = self._changes(other)
        return [
            f"{name}: {_short(old.get(name))} -> {_short(new.get(name))}"
            for name in names
        ]

    def continues(self, other):
        """Whether ``other`` continues this run: it only raises
        ``number_of_epochs``."""
        names, old, new = self._changes(other)
        return bool(names) and all(
            name in CONTINUABLE
            and isinstance(old.get(name), int)
            and isinstance(new.get(name), int)
            and new[name] > old[name]
            for name in names
        )

    def to_dict(self):
        """JSON form, with the ids (as in ``results.json``)."""
        return {
            "id": self.id,
            "experiment_id": self.experiment_id,
            **asdict(self),
        }

    @classmethod
    def from_dict(cls, stored):
        """The identity a run recorded."""
        fields = ("settings", "fold", "seed", "data", "parent", "continued")
        return cls(**{key: stored[key] for key in fields if key in stored})


def _short(value):
    """A value for a one-line message: long hashes shortened."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def data_identity(datasets):
    """``{split: {"ids_sha256", "n"}}`` of a run's datasets (see
    :class:`speechbrain_peft.data.datasets.Datasets`)."""
    return {
        split: {"ids_sha256": datasets.ids_sha256[split], "n": len(dataset)}
        for split, dataset in datasets.items()
    }


def run_identity(config, encoder, run_options, protocol, seed, data, parent):
    """A run's identity, from the parts the recipe knows at its start.

    Arguments
    ---------
    config : dict
        The resolved configuration.
    encoder : dict
        The encoder's identity (its weights).
    run_options : dict
        The run options that change numbers.
    protocol : dict
        ``fold`` (and ``folds``) for a fold protocol, else empty.
    seed : int
        The run's seed.
    data : dict
        See :func:`data_identity`.
    parent : dict or None
        See :attr:`~speechbrain_peft.runs.finished.FinishedRun.identity`.

    Returns
    -------
    RunIdentity
    """
    settings = experiment_settings(
        config,
        encoder,
        run_options,
        parent=None if parent is None else parent["experiment_id"],
    )
    return RunIdentity(
        settings, protocol.get("fold"), seed, data=data, parent=parent
    )


def claim_output_folder(folder, identity, config, save_folder, write=True):
    """Make ``folder`` the folder of the run ``identity``, or refuse.

    Arguments
    ---------
    folder : str or pathlib.Path
        The run's output folder.
    identity : RunIdentity
        The starting run's identity.
    config : dict
        Its resolved configuration (compared with the ``hyperparams.yaml``
        of a run written before identities).
    save_folder : str or pathlib.Path
        Where its checkpoints go (a folder holding some holds a run).
    write : bool
        Record the identity (False on the other processes of a DDP run).

    Returns
    -------
    RunIdentity
        ``identity``, with the earlier continuations and this one when the
        run is continued.

    Raises
    ------
    RunMismatchError
        The folder holds a run of another identity.
    """
    folder = Path(folder)
    recorded = folder / IDENTITY_FILE
    if recorded.is_file():
        old = RunIdentity.from_dict(json.loads(recorded.read_text()))
        _compare(folder, old, identity)
        identity.continued = old.continued + (
            [] if old.id == identity.id else [_continuation(old, identity)]
        )
    elif _holds_a_run(folder, save_folder):
        _check_legacy(folder, identity, config)
    if write:
        atomic_write_text(
            recorded, json.dumps(identity.to_dict(), indent=2, default=str)
        )
    return identity


def _compare(folder, old, new):
    """Resume, continue or refuse (see the module docstring)."""
    if old.id == new.id:
        logger.info("%s holds this run (%s): resuming", folder, old.id)
    elif old.continues(new):
        logger.info(
            "%s: continuing run %s (%s)",
            folder,
            old.id,
            "; ".join(old.differences(new)),
        )
    else:
        _refuse(folder, old.differences(new))


def _continuation(old, new):
    """The record of one continuation."""
    return {
        "from_run": old.id,
        "changes": old.differences(new),
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _holds_a_run(folder, save_folder):
    """Whether a folder without an identity file holds an earlier run."""
    checkpoints = list(Path(save_folder).glob("CKPT+*"))
    return bool(checkpoints) or (folder / "results.json").is_file()


def _check_legacy(folder, identity, config):
    """A run written before identities: compared by its saved settings,
    fold and seed (its data, encoder weights and parent went unrecorded)."""
    saved = folder / "hyperparams.yaml"
    if not saved.is_file():
        _refuse(folder, ["its settings were not saved"])
    old_config = read_resolved_config(saved)
    encoder = identity.settings["encoder"]

    def described(values):
        return RunIdentity(
            experiment_settings(values, encoder),
            values.get("fold"),
            values.get("seed"),
        )

    _compare(folder, described(old_config), described(config))
    logger.warning(
        "%s holds a run written before run identities: its data, encoder "
        "weights and parent were not recorded and are taken to be this "
        "run's",
        folder,
    )


def _refuse(folder, differences):
    raise RunMismatchError(
        f"{folder} holds another run ({'; '.join(differences)}). Pass "
        "another --output_folder to keep both, or --start_over to move the "
        "old run aside and train anew."
    )


def move_aside(folder):
    """``--start_over``: rename a run folder to ``<name>.replaced-<time>``
    (nothing is deleted) and return the new path, or None when there is
    no folder."""
    folder = Path(folder)
    if not folder.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}.replaced-{stamp}")
    folder.rename(target)
    logger.warning("--start_over: the old run %s is now %s", folder, target)
    return target
