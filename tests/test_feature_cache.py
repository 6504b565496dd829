"""The frozen-encoder feature cache: same results as encoding every epoch,
each utterance encoded once, never stale, refused where it cannot be right.

Authors
 * speechbrain-peft-ser developers 2026
"""

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from recipe_runs import QUICK, recipe_args, run_recipe

from speechbrain_peft.encoder import PEFTEncoder
from speechbrain_peft.feature_cache import FeatureCache
from speechbrain_peft.synthetic.encoders import save_tiny_encoder


@pytest.fixture
def two_files(tmp_path):
    rng = np.random.default_rng(0)
    paths, wavs = [], []
    for index, n in enumerate((8000, 6000)):
        audio = rng.uniform(-0.5, 0.5, n).astype("float32")
        paths.append(str(tmp_path / f"{index}.wav"))
        sf.write(paths[-1], audio, 16000, subtype="FLOAT")
        wavs.append(torch.from_numpy(audio))
    wav = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    return paths, wav, torch.tensor([1.0, 6000 / 8000])


def test_cached_features_equal_the_encoder_output(
    tiny_encoders, two_files, tmp_path
):
    paths, wav, lens = two_files
    encoder = PEFTEncoder(
        str(tiny_encoders["wavlm"]), adapters=["weighted_sum"]
    ).eval()
    cache = FeatureCache(tmp_path / "cache", encoder)
    direct, direct_lens = encoder(wav, lens)
    first, first_lens = cache(paths, wav, lens)
    second, second_lens = cache(paths, wav, lens)
    assert (cache.computed, cache.read) == (2, 2)
    torch.testing.assert_close(first, direct)
    torch.testing.assert_close(second_lens, direct_lens)
    # Read back, the valid frames are the same; padding frames are zero.
    for row, rel in enumerate(direct_lens):
        n = int(round(float(rel) * direct.shape[1]))
        torch.testing.assert_close(second[row, :n], direct[row, :n])
    # The weighted sum still learns from cached hidden states.
    second.sum().backward()
    assert encoder.weighted_sum.logits.grad is not None


def test_fp16_storage_halves_the_files(tiny_encoders, two_files, tmp_path):
    paths, wav, lens = two_files
    encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=[]).eval()
    sizes = {}
    for dtype in ("float32", "float16"):
        cache = FeatureCache(tmp_path / dtype, encoder, dtype)
        cache(paths, wav, lens)
        sizes[dtype] = sum(
            f.stat().st_size for f in cache.folder.glob("*.safetensors")
        )
        read, _ = cache(paths, wav, lens)
        torch.testing.assert_close(
            read[0], encoder(wav, lens)[0][0], atol=1e-2, rtol=1e-2
        )
    assert sizes["float16"] < 0.6 * sizes["float32"]


def test_changed_audio_or_encoder_misses_the_cache(
    tiny_encoders, two_files, tmp_path
):
    paths, wav, lens = two_files
    encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=[]).eval()
    cache = FeatureCache(tmp_path, encoder)
    cache(paths, wav, lens)
    entry = cache.entry(paths[1])
    stat = os.stat(paths[1])
    os.utime(paths[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache.entry(paths[1]) != entry
    cache(paths, wav, lens)
    assert cache.computed == 4  # the batch is encoded again

    other = save_tiny_encoder("wavlm", tmp_path / "other", seed=1)
    elsewhere = FeatureCache(
        tmp_path, PEFTEncoder(str(other), adapters=[]).eval()
    )
    assert elsewhere.folder != cache.folder
    assert (
        FeatureCache(tmp_path, encoder, max_duration=5.0).folder != cache.folder
    )
    # A float32 run never reads the float16 entries of the same folder.
    half = FeatureCache(tmp_path, encoder, "float16")
    assert half.folder != cache.folder
    half(paths, wav, lens)
    assert half.computed == 2 and half.read == 0


def test_adaptors_inside_the_encoder_are_refused(tiny_encoders, tmp_path):
    encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=["lora"])
    with pytest.raises(ValueError, match="no trainable parameter inside"):
        FeatureCache(tmp_path, encoder)


def test_recipe_with_cache_matches_the_recipe_without(
    small_corpora, tiny_encoders, tmp_path
):
    """Two epochs of weighted_sum.yaml: the second reads every training
    utterance from the cache, and the results match the uncached run."""
    results, logs = {}, {}
    for cache in ("False", "True"):
        out = tmp_path / cache
        args = recipe_args(
            "IEMOCAP",
            "weighted_sum.yaml",
            small_corpora["IEMOCAP"],
            tiny_encoders["wavlm"],
            out,
            f"--cache_features={cache}",
            "--number_of_epochs=2",
        )
        results[cache] = run_recipe("IEMOCAP", *args, *QUICK[1:])
        logs[cache] = (out / "run" / "log.txt").read_text()
    splits = results["True"]["splits"]
    n_train = len(
        pd.read_csv(tmp_path / "True" / "manifests" / "fold1" / "train.csv")
    )
    n_dev, n_test = splits["dev"]["n"], splits["test"]["n"]
    last = [
        line for line in logs["True"].splitlines() if "Feature cache:" in line
    ][-1]
    # Epoch 1 encodes train and dev; epoch 2 and the final dev evaluation
    # read them; the test set is encoded once, at the end.
    assert (
        f"{n_train + n_dev + n_test} utterances encoded, "
        f"{n_train + 2 * n_dev} read"
    ) in last, last
    for split, metrics in results["False"]["splits"].items():
        cached = results["True"]["splits"][split]
        assert cached["confusion"] == metrics["confusion"], split
        assert cached["loss"] == pytest.approx(metrics["loss"], abs=1e-4)
    assert "Feature cache" not in logs["False"]
