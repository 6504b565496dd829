"""Multi-process data-parallel training with torchrun (gloo, CPU), as the
README documents it, on the tiny setup.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from recipe_runs import REPO, recipe_args, run_recipe

from speechbrain_peft.data.datasets import DurationBucketSampler

pytestmark = pytest.mark.slow

ARGS = [
    "--batch_size=2",
    "--grad_accumulation_factor=2",
    "--noprogressbar",
]


def _brain_state(run):
    """The Brain's counters (``optimizer_step`` counts over the run) in the
    run's newest checkpoint."""
    checkpoints = sorted((run / "save").glob("CKPT+*"))
    return yaml.safe_load((checkpoints[-1] / "brain.ckpt").read_text())


def _torchrun(yaml, data, encoder, out, *extra, epochs=1):
    """Run the IEMOCAP recipe on two gloo processes; fail with its output."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "recipes/IEMOCAP/train.py",
            f"hparams/{yaml}",
            *recipe_args("IEMOCAP", yaml, data, encoder, out)[1:],
            *ARGS,
            f"--number_of_epochs={epochs}",
            *extra,
            "--distributed_backend=gloo",
            "--device=cpu",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads((out / "run" / "results.json").read_text())


def test_torchrun_keeps_the_effective_batch_of_one_process(
    small_corpora, tiny_encoders, tmp_path
):
    """Combo (every adaptor kind, a partly frozen model) on two processes:
    each accumulates half as many batches, so an optimizer step still sees
    batch_size x 2 utterances and the epoch makes the same number of
    optimizer steps as one process (the distributed sampler pads the batch
    list to an even count, hence the rounding up). With activation
    checkpointing, the same run."""
    data, encoder = small_corpora["IEMOCAP"], tiny_encoders["wavlm"]
    single = tmp_path / "single"
    run_recipe(
        "IEMOCAP",
        *recipe_args("IEMOCAP", "combo.yaml", data, encoder, single),
        *ARGS,
        "--number_of_epochs=1",
    )
    ddp = tmp_path / "ddp"
    results = _torchrun("combo.yaml", data, encoder, ddp)

    log = (ddp / "run" / "log.txt").read_text()
    assert "2 processes: grad_accumulation_factor 2 -> 1 per process" in log
    train = pd.read_csv(single / "manifests" / "fold1" / "train.csv")
    n_batches = len(DurationBucketSampler(list(train["duration"]), 2))
    one, two = _brain_state(single / "run"), _brain_state(ddp / "run")
    assert one["optimizer_step"] == n_batches // 2
    assert two["optimizer_step"] == math.ceil(n_batches / 2)

    reference = json.loads((single / "run" / "results.json").read_text())
    assert results["params"] == reference["params"]
    # Every process evaluates the whole set; the main one writes results.
    for split, metrics in reference["splits"].items():
        assert results["splits"][split]["n"] == metrics["n"], split

    # Activation checkpointing under DDP: the layers recomputed in the
    # backward (dropout masks replayed) give the same run.
    checkpointed = _torchrun(
        "combo.yaml",
        data,
        encoder,
        tmp_path / "checkpointed",
        "--activation_checkpointing=selective",
    )
    for split, metrics in results["splits"].items():
        again = checkpointed["splits"][split]
        assert again["confusion"] == metrics["confusion"], split
        assert abs(again["loss"] - metrics["loss"]) < 1e-4, split


def test_torchrun_shares_one_pooled_cache(
    small_corpora, tiny_encoders, tmp_path
):
    """weighted_sum.yaml on two processes for two epochs, with the pooled
    feature cache and without: the same metrics; every utterance's entry is
    created once in the shared folder."""
    data, encoder = small_corpora["IEMOCAP"], tiny_encoders["wavlm"]
    plain = _torchrun(
        "weighted_sum.yaml", data, encoder, tmp_path / "plain", epochs=2
    )
    cached = _torchrun(
        "weighted_sum.yaml",
        data,
        encoder,
        tmp_path / "cached",
        "--cache_features=True",
        epochs=2,
    )
    for split, metrics in plain["splits"].items():
        assert cached["splits"][split]["confusion"] == metrics["confusion"]
        assert abs(cached["splits"][split]["loss"] - metrics["loss"]) < 1e-4
    log = (tmp_path / "cached" / "run" / "log.txt").read_text()
    assert "Feature cache (pooled) in" in log
    cache = tmp_path / "cached" / "run" / "feature_cache"
    entries = list(cache.rglob("*.safetensors"))
    manifests = tmp_path / "cached" / "manifests" / "fold1"
    utterances = sum(
        len(pd.read_csv(manifests / f"{split}.csv"))
        for split in ("train", "dev", "test")
    )
    assert len(entries) == utterances
    assert not list(cache.rglob("*.part"))
