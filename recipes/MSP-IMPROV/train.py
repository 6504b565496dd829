#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on MSP-IMPROV (one of six leave-one-session-out folds per run).

Run from the repository root or from this folder::

    python recipes/MSP-IMPROV/train.py hparams/lora.yaml \\
        --data_folder /corpora/MSP-IMPROV
    python train.py hparams/lora.yaml --data_folder ... --fold 3

All six folds: ``for k in 1 2 3 4 5 6; do python train.py hparams/lora.yaml
--data_folder ... --fold $k; done``, then ``python -m
speechbrain_peft.results results/MSP-IMPROV/lora``.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.training.recipe import run_corpus_recipe
from speechbrain_peft.utils.errors import run_command


def main(argv=None):
    """Prepare the folds (skipped when done), then train and evaluate
    the run's fold."""
    return run_corpus_recipe(__file__, argv)


if __name__ == "__main__":
    run_command(main)
