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

from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.synthetic.encoders import save_tiny_encoder
from speechbrain_peft.training.feature_cache import (
    FeatureCache,
    PooledFeatureCache,
    make_feature_cache,
)


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


def test_caches_refuse_what_would_change_as_it_trains(tiny_encoders, tmp_path):
    source = str(tiny_encoders["wavlm"])
    encoder = PEFTEncoder(source, adapters=["lora"])
    with pytest.raises(ValueError, match="no trainable parameter inside"):
        FeatureCache(tmp_path, encoder)
    head = EmotionHead(encoder.output_size, 4)
    full = PEFTEncoder(source, full_finetune=True)
    with pytest.raises(ValueError, match="also trains the front-end"):
        make_feature_cache(tmp_path, full, head)
    layerdrop = PEFTEncoder(source, adapters=["lora"], layerdrop=0.1)
    with pytest.raises(ValueError, match="set layerdrop: 0"):
        make_feature_cache(tmp_path, layerdrop, head)


DROPOUT_OFF = {
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.0,
    "layerdrop": 0.0,
}


@pytest.fixture(scope="module")
def dropout_free_encoders(tmp_path_factory):
    """Tiny encoders of each family and both layer-norm layouts (the large
    checkpoints' stable one, the base ones' post-norm with a group-norm
    front-end) without dropout, so train mode is deterministic."""
    root = tmp_path_factory.mktemp("no_dropout")
    base_like = {"feat_extract_norm": "group", "do_stable_layer_norm": False}
    return {
        (kind, layout): save_tiny_encoder(
            kind,
            root / f"{kind}_{layout}",
            num_layers=3,
            **DROPOUT_OFF,
            **(base_like if layout == "base" else {}),
        )
        for kind in ("wavlm", "hubert", "wav2vec2")
        for layout in ("large", "base")
    }


def outputs_and_gradients(encoder, head, forward):
    """Logits of ``forward()`` and the gradient of every trainable tensor
    of a loss on them."""
    for param in encoder.parameters():
        param.grad = None
    logits = forward()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 3])).backward()
    grads = {
        n: p.grad.clone()
        for n, p in encoder.named_parameters()
        if p.requires_grad
    }
    return logits.detach(), grads


@pytest.mark.parametrize("kind", ["wavlm", "hubert", "wav2vec2"])
@pytest.mark.parametrize("layout", ["large", "base"])
@pytest.mark.parametrize(
    "adapters,layers,checkpointing",
    [
        (["lora"], [2], False),
        (["lora", "weighted_sum"], [1, 2], "full"),
        (["lora", "bottleneck", "gating", "weighted_sum"], None, "selective"),
    ],
    ids=["lora_top1", "lora_ws_top2_full_ckpt", "combo_all_selective_ckpt"],
)
def test_lower_layer_cache_gives_the_uncached_outputs_and_gradients(
    dropout_free_encoders,
    two_files,
    tmp_path,
    kind,
    layout,
    adapters,
    layers,
    checkpointing,
):
    """Read back from disk, the lower part (front-end and the layers under
    the lowest adapted one) gives the same logits and the same gradient of
    every trainable tensor as running the whole encoder, in train mode."""
    paths, wav, lens = two_files
    torch.manual_seed(0)
    encoder = PEFTEncoder(
        str(dropout_free_encoders[kind, layout]),
        adapters=adapters,
        adapter_layers=layers,
        activation_checkpointing=checkpointing,
    ).train()
    for param in encoder.parameters():
        if param.requires_grad:  # B and W_up start at 0: move them
            torch.nn.init.normal_(param, std=0.1)
    head = EmotionHead(encoder.output_size, 4, hidden_size=8)
    cache = make_feature_cache(tmp_path, encoder, head)
    assert cache.kind == "lower" and cache.split == (layers or [0])[0]

    def cached():
        return cache.predict(paths, wav, lens, encoder, head)

    plain = outputs_and_gradients(
        encoder, head, lambda: head(*encoder(wav, lens))
    )
    outputs_and_gradients(encoder, head, cached)  # computes the entries
    logits, grads = outputs_and_gradients(encoder, head, cached)
    assert (cache.computed, cache.read) == (2, 2)
    torch.testing.assert_close(logits, plain[0], atol=1e-5, rtol=0)
    assert grads.keys() == plain[1].keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, plain[1][name], atol=1e-5, rtol=0)
    # What is stored: frames of the states up to the split layer's input.
    lower, _ = cache(paths, wav, lens)
    combined = "weighted_sum" in adapters
    assert lower.shape[0] == (cache.split + 1 if combined else 1)


@pytest.mark.parametrize(
    "yaml,extra,kind",
    [
        ("weighted_sum.yaml", [], "pooled"),
        ("lora.yaml", ["--adapter_layers=[2]"], "lower"),
    ],
)
def test_recipe_with_cache_matches_the_recipe_without(
    small_corpora, dropout_free_encoders, tmp_path, yaml, extra, kind
):
    """Three epochs with the cache that fits the configuration (the
    pooled one for weighted_sum.yaml, whose head pools first; the lower
    layers for LoRA in the top layer): the later epochs read every
    training utterance from the cache, and the metrics match the uncached
    run's (an encoder without dropout, which acts in the lower layers only
    without the cache)."""
    results, logs = {}, {}
    for cache in ("False", "True"):
        out = tmp_path / cache
        args = recipe_args(
            "IEMOCAP",
            yaml,
            small_corpora["IEMOCAP"],
            dropout_free_encoders["wavlm", "large"],
            out,
            f"--cache_features={cache}",
            "--number_of_epochs=3",
            *extra,
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
    assert f"Feature cache ({kind}) in" in logs["True"]
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
