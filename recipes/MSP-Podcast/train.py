#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on MSP-Podcast (official Train / Development / Test splits).

Run from the repository root or from this folder::

    python recipes/MSP-Podcast/train.py hparams/lora.yaml \\
        --data_folder /corpora/MSP-Podcast

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.corpora.msp_podcast import (
    manifest_paths,
    prepare_msp_podcast,
)
from speechbrain_peft.training.recipe import (
    prepare_data,
    start_experiment,
    train_and_evaluate,
)
from speechbrain_peft.utils.errors import run_command


def main(argv=None):
    """Prepare the manifests (skipped when done), then train and evaluate
    on every test set the release labels."""
    hparams, run_opts = start_experiment(__file__, argv)
    prepare_data(prepare_msp_podcast, hparams)
    manifests = manifest_paths(hparams["manifest_folder"], hparams["task"])
    return train_and_evaluate(hparams, run_opts, manifests)


if __name__ == "__main__":
    run_command(main)
