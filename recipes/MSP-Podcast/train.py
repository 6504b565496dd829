#!/usr/bin/env python3
"""Recipe: parameter-efficient fine-tuning of a speech encoder for emotion
recognition on MSP-Podcast (official Train / Development / Test splits).

Run from the repository root or from this folder::

    python recipes/MSP-Podcast/train.py hparams/lora.yaml \\
        --data_folder /corpora/MSP-Podcast

Authors
 * speechbrain-peft-ser developers 2026
"""

import sys
from pathlib import Path

from speechbrain.utils.distributed import run_on_main

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from data_prep.msp_podcast_prepare import prepare_msp_podcast  # noqa: E402
from speechbrain_peft.recipe import (  # noqa: E402
    start_experiment,
    train_and_evaluate,
)


def main(argv=None):
    """Prepare the manifests (skipped when done), then train and evaluate
    on every test set the release has."""
    hparams, run_opts = start_experiment(__file__, argv)
    run_on_main(
        prepare_msp_podcast,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            **hparams["prep_options"],
        },
    )
    folder = Path(hparams["manifest_folder"])
    manifests = {"train": folder / "train.csv", "dev": folder / "dev.csv"}
    for test in sorted(folder.glob("test*.csv")):
        manifests[test.stem] = test
    run_info = {
        "config": hparams["config_name"],
        "corpus": hparams["corpus"],
        "seed": hparams["seed"],
    }
    return train_and_evaluate(hparams, run_opts, manifests, run_info)


if __name__ == "__main__":
    main()
