#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on your own data, given as manifests (see
:mod:`speechbrain_peft.data.own_manifests`).

Run from the repository root or from this folder::

    python recipes/Manifests/train.py hparams/lora.yaml --corpus MyCorpus \\
        --manifest_folder manifests/my_corpus --data_folder /data/my_corpus

The README's "Your own data" section builds such manifests from a folder
of labelled WAVs.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.training.recipe import run_corpus_recipe
from speechbrain_peft.utils.errors import run_command


def main(argv=None):
    """Check the manifests, then train and evaluate."""
    return run_corpus_recipe(__file__, argv)


if __name__ == "__main__":
    run_command(main)
