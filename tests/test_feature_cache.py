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
from speechbrain_peft.feature_cache import (
    FeatureCache,
    PooledFeatureCache,
    make_feature_cache,
)
from speechbrain_peft.heads import EmotionHead
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
    first, second = encoder(states=first), encoder(states=second)
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
            encoder(states=read)[0],
            encoder(wav, lens)[0][0],
            atol=1e-2,
            rtol=1e-2,
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
    """Three epochs of weighted_sum.yaml with the pooled cache (its head
    pools first): the later epochs read every training utterance from the
    cache, and the metrics match the uncached run's."""
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
            "--number_of_epochs=3",
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
    # Epoch 1 encodes train and dev; epochs 2 and 3 and the final dev
    # evaluation read them; the test set is encoded once, at the end.
    assert (
        f"{n_train + n_dev + n_test} utterances encoded, "
        f"{2 * n_train + 3 * n_dev} read"
    ) in last, last
    assert "Pooled feature cache" in logs["True"]
    for split, metrics in results["False"]["splits"].items():
        cached = results["True"]["splits"][split]
        assert cached["confusion"] == metrics["confusion"], split
        assert cached["loss"] == pytest.approx(metrics["loss"], abs=1e-4)
    assert "Feature cache" not in logs["False"]


class AttentivePoolingHead(EmotionHead):
    """A head with trainable frame weights before its pooling: the pooled
    vectors of a cache would not be what it pools."""

    pools_first = False

    def __init__(self, input_size, n_outputs):
        super().__init__(input_size, n_outputs, hidden_size=8)
        self.frame_weights = torch.nn.Linear(input_size, 1)

    def forward(self, feats, lengths):
        weights = torch.sigmoid(self.frame_weights(feats))
        return super().forward(feats * weights, lengths)


def test_a_head_pooling_first_gets_pooled_vectors_others_frames(
    tiny_encoders, tmp_path
):
    encoder = PEFTEncoder(
        str(tiny_encoders["wavlm"]), adapters=["weighted_sum"]
    ).eval()
    pooled = make_feature_cache(
        tmp_path, encoder, EmotionHead(encoder.output_size, 4)
    )
    frames = make_feature_cache(
        tmp_path, encoder, AttentivePoolingHead(encoder.output_size, 4)
    )
    assert isinstance(pooled, PooledFeatureCache)
    assert isinstance(frames, FeatureCache)
    assert pooled.folder != frames.folder


@pytest.mark.parametrize("adapters", [[], ["weighted_sum"]], ids=str)
def test_pooled_cache_gives_the_same_logits_loss_and_gradients(
    adapters, tiny_encoders, two_files, tmp_path
):
    paths, wav, lens = two_files
    targets = torch.tensor([1, 3])
    results = {}
    for name in ("direct", "computed", "read"):
        torch.manual_seed(0)
        encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=adapters)
        head = EmotionHead(encoder.output_size, 4, hidden_size=16)
        encoder.train(), head.train()
        if name == "direct":
            logits = head(*encoder(wav, lens))
        else:
            cache = make_feature_cache(tmp_path / "cache", encoder, head)
            logits = cache.predict(paths, wav, lens, encoder, head)
            assert (cache.computed, cache.read) == (
                (2, 0) if name == "computed" else (0, 2)
            )
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        grads = {
            n: p.grad.clone()
            for module in (encoder, head)
            for n, p in module.named_parameters()
            if p.requires_grad
        }
        results[name] = (logits.detach(), loss.detach(), grads)
    assert "weighted_sum.logits" in results["direct"][2] or not adapters
    for name in ("computed", "read"):
        logits, loss, grads = results[name]
        torch.testing.assert_close(
            logits, results["direct"][0], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            loss, results["direct"][1], atol=1e-5, rtol=0
        )
        assert grads.keys() == results["direct"][2].keys()
        for key, grad in grads.items():
            torch.testing.assert_close(
                grad, results["direct"][2][key], atol=1e-5, rtol=0
            )
