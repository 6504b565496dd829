#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on IEMOCAP (one leave-one-session-out fold per run).

Run from the repository root or from this folder::

    python recipes/IEMOCAP/train.py hparams/lora.yaml \\
        --data_folder /corpora/IEMOCAP_full_release
    python train.py hparams/lora.yaml --data_folder ... --fold 3

All five folds: ``for k in 1 2 3 4 5; do python train.py hparams/lora.yaml
--data_folder ... --fold $k; done``, then ``python -m
speechbrain_peft.results results/IEMOCAP/lora``.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.corpora.iemocap import (
    FOLDS,
    check_fold,
    manifest_paths,
    prepare_iemocap,
)
from speechbrain_peft.training.recipe import (
    prepare_data,
    start_experiment,
    train_and_evaluate,
)
from speechbrain_peft.utils.errors import run_command


def main(argv=None):
    """Check the fold, prepare the folds (skipped when done), then train
    and evaluate."""
    hparams, run_opts = start_experiment(
        __file__, argv, check=lambda hparams: check_fold(hparams["fold"])
    )
    prepare_data(prepare_iemocap, hparams)
    manifests = manifest_paths(
        hparams["manifest_folder"], hparams["fold"], hparams["task"]
    )
    protocol = {"fold": hparams["fold"], "folds": list(FOLDS)}
    return train_and_evaluate(hparams, run_opts, manifests, protocol)


if __name__ == "__main__":
    run_command(main)
