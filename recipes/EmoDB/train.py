#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on EmoDB (five folds of speaker pairs, one fold per run).

Run from the repository root or from this folder::

    python recipes/EmoDB/train.py hparams/lora.yaml \\
        --data_folder /corpora/EmoDB --fold 2

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
