#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on CREMA-D (actor-disjoint train / dev / test).

Run from the repository root or from this folder::

    python recipes/CREMA-D/train.py hparams/lora.yaml \\
        --data_folder /corpora/CREMA-D

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.corpora.crema_d import manifest_paths, prepare_crema_d
from speechbrain_peft.training.recipe import (
    prepare_data,
    start_experiment,
    train_and_evaluate,
)
from speechbrain_peft.utils.errors import run_command


def main(argv=None):
    """Prepare the splits (skipped when done), then train and evaluate."""
    hparams, run_opts = start_experiment(__file__, argv)
    prepare_data(prepare_crema_d, hparams)
    manifests = manifest_paths(hparams["manifest_folder"])
    return train_and_evaluate(hparams, run_opts, manifests)


if __name__ == "__main__":
    run_command(main)
