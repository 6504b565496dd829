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

import sys
from pathlib import Path

from speechbrain.utils.distributed import run_on_main

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from data_prep.iemocap_prepare import prepare_iemocap  # noqa: E402
from speechbrain_peft.recipe import (  # noqa: E402
    start_experiment,
    train_and_evaluate,
)


def main(argv=None):
    """Prepare the folds (skipped when done), then train and evaluate."""
    hparams, run_opts = start_experiment(__file__, argv)
    run_on_main(
        prepare_iemocap,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            **hparams["prep_options"],
        },
    )
    fold = Path(hparams["manifest_folder"]) / f"fold{hparams['fold']}"
    manifests = {s: fold / f"{s}.csv" for s in ("train", "dev", "test")}
    run_info = {
        "config": hparams["config_name"],
        "corpus": hparams["corpus"],
        "fold": hparams["fold"],
        "seed": hparams["seed"],
    }
    return train_and_evaluate(hparams, run_opts, manifests, run_info)


if __name__ == "__main__":
    main()
