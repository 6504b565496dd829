"""Which speakers a run's model heard in training, its ancestors included,
and the check that keeps a stage two from testing on them.

Every run writes ``speakers.json`` beside its ``run.json``: the speakers
of each of its splits, and ``trained_on``, the training speakers of the run
and of every run it descends from (a stage two starts from a stage-one
model, which starts from nothing). Speakers are named per corpus, so
IEMOCAP's ``Ses01_F`` and CREMA-D's ``1001`` never meet: a cross-corpus
stage two is disjoint by construction, a same-corpus one (IEMOCAP
scripted -> improvised) must use the stage-one run of its own fold.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
from pathlib import Path

import pandas as pd

from speechbrain_peft.data.schema import TRAINING_SPLIT
from speechbrain_peft.runs.artifact import read_run_config
from speechbrain_peft.utils.errors import UserError

logger = logging.getLogger(__name__)

SPEAKERS_FILE = "speakers.json"


class SpeakerLeakError(UserError, ValueError):
    """A stage two would evaluate on speakers an ancestor trained on."""


def split_speakers(manifests):
    """``{split: sorted speaker IDs}`` read from the manifests.

    Example
    -------
    >>> import tempfile
    >>> csv = Path(tempfile.mkdtemp()) / "train.csv"
    >>> _ = csv.write_text("ID,spk_id\\na,s2\\nb,s1\\nc,s2\\n")
    >>> split_speakers({"train": csv})
    {'train': ['s1', 's2']}
    """
    return {
        split: sorted(
            set(pd.read_csv(path, dtype={"spk_id": str})["spk_id"].dropna())
        )
        for split, path in manifests.items()
    }


def read_trained_on(run_dir, run_info=None):
    """The training speakers of a finished run and of its ancestors, as
    ``[{"corpus": ..., "speakers": [...]}, ...]``.

    Runs written before ``speakers.json`` existed are read from the
    training manifest their ``run.json`` names (``run_info``, read from it
    when not given; and their parent's, in turn); a run whose record is
    gone cannot be checked, which is an error.
    """
    run_dir = Path(run_dir)
    record = run_dir / SPEAKERS_FILE
    if record.is_file():
        return json.loads(record.read_text())["trained_on"]
    info = run_info
    if info is None:
        info = read_run_config(run_dir).get("run_info") or {}
    train = (info.get("manifests") or {}).get(TRAINING_SPLIT)
    if not train or not Path(train).is_file():
        raise SpeakerLeakError(
            f"{run_dir} has no {SPEAKERS_FILE} and its training manifest "
            f"{train} is gone, so the speakers it trained on are unknown; "
            "train the stage-one run again with this version"
        )
    trained_on = [
        {
            "corpus": info.get("corpus"),
            "speakers": split_speakers({TRAINING_SPLIT: train})[TRAINING_SPLIT],
        }
    ]
    parent = info.get("parent_run")
    if parent:
        trained_on += read_trained_on(parent["path"])
    return trained_on


def recorded_trained_on(run_dir, run_info):
    """:func:`read_trained_on`, or None for a run artifact that never
    recorded a training set (no ``speakers.json``, no training manifest in
    its ``run_info``: a hand-made artifact or an export)."""
    run_dir = Path(run_dir)
    if not (run_dir / SPEAKERS_FILE).is_file() and not run_info.get(
        "manifests"
    ):
        return None
    return read_trained_on(run_dir, run_info)


def speaker_overlap(trained_on, corpus, speakers):
    """The speakers of each evaluated split that a run or an ancestor
    trained on.

    Arguments
    ---------
    trained_on : list of dict
        :func:`read_trained_on` of the run.
    corpus : str or None
        The evaluated data's corpus; None (unknown) compares with every
        ancestor's speakers, whatever its corpus.
    speakers : dict
        ``{split: speakers}`` (see :func:`split_speakers`); the training
        split is not an evaluated one.

    Returns
    -------
    dict
        ``{split: sorted speakers}`` of the splits that overlap.

    Example
    -------
    >>> ancestors = [{"corpus": "IEMOCAP", "speakers": ["Ses02_F"]}]
    >>> speaker_overlap(ancestors, "IEMOCAP", {"test": ["Ses02_F", "x"]})
    {'test': ['Ses02_F']}
    >>> speaker_overlap(ancestors, "MSP-Podcast", {"test": ["Ses02_F"]})
    {}
    """
    overlap = {}
    for ancestor in trained_on:
        if corpus is not None and ancestor["corpus"] != corpus:
            continue
        heard = set(ancestor["speakers"])
        for split, names in speakers.items():
            if split != TRAINING_SPLIT and set(names) & heard:
                overlap.setdefault(split, set()).update(set(names) & heard)
    return {split: sorted(names) for split, names in overlap.items()}


def named_overlap(overlap):
    """``test: Ses02_F, Ses02_M; dev: ...`` for a message."""
    return "; ".join(
        f"{split}: {', '.join(names)}" for split, names in overlap.items()
    )


def check_no_leak(trained_on, corpus, speakers, fold=None):
    """Refuse evaluation splits holding a speaker an ancestor trained on.

    Arguments
    ---------
    trained_on : list of dict
        The parent run's :func:`read_trained_on`.
    corpus : str
        This run's corpus.
    speakers : dict
        ``{split: speakers}`` of this run (see :func:`split_speakers`).
    fold : int, optional
        This run's fold, named in the advice.

    Raises
    ------
    SpeakerLeakError
        Naming the speakers, the splits and the fix.

    Example
    -------
    >>> ancestors = [{"corpus": "IEMOCAP", "speakers": ["Ses02_F", "Ses02_M"]}]
    >>> check_no_leak(ancestors, "MSP-Podcast", {"test1": ["7"]})
    >>> check_no_leak(ancestors, "IEMOCAP", {"test": ["Ses02_F"]}, fold=2)
    Traceback (most recent call last):
    ...
    speechbrain_peft.runs.speakers.SpeakerLeakError: The stage-one model ...
    """
    leaks = speaker_overlap(trained_on, corpus, speakers)
    other = sorted({a["corpus"] for a in trained_on} - {corpus})
    if other:
        logger.info(
            "Stage two on %s from a model trained on %s: the speakers are "
            "disjoint by construction (different corpora)",
            corpus,
            ", ".join(other),
        )
    if not leaks:
        if corpus in {a["corpus"] for a in trained_on}:
            logger.info(
                "Stage two on %s: no dev or test speaker of this run is among "
                "the speakers its ancestors trained on",
                corpus,
            )
        return
    fix = (
        f"start from the stage-one run of fold {fold} (the same test and dev "
        "speakers)"
        if fold is not None
        else "start from a stage-one run that did not train on them"
    )
    raise SpeakerLeakError(
        f"The stage-one model (or one of its ancestors) trained on speakers "
        f"this run evaluates on ({named_overlap(leaks)}), so its scores would "
        f"be optimistic. Pass --init_from with a run that never trained on "
        f"them: {fix}."
    )


def write_speakers(run_dir, corpus, speakers, parent_trained_on=()):
    """Write ``speakers.json``: this run's speakers per split and the
    training speakers of the run and its ancestors."""
    trained_on = [
        {"corpus": corpus, "speakers": speakers.get(TRAINING_SPLIT, [])},
        *parent_trained_on,
    ]
    record = {"corpus": corpus, "splits": speakers, "trained_on": trained_on}
    (Path(run_dir) / SPEAKERS_FILE).write_text(json.dumps(record))
    return record
