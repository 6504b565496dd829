#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on RAVDESS (actor-disjoint train / dev / test).

Run from the repository root or from this folder::

    python recipes/RAVDESS/train.py hparams/lora.yaml \\
        --data_folder /corpora/RAVDESS

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.training.recipe import run_corpus_recipe
from speechbrain_peft.utils.errors import run_command


def main(argv=None):
    """Prepare the splits (skipped when done), then train and evaluate."""
    return run_corpus_recipe(__file__, argv)


if __name__ == "__main__":
    run_command(main)
