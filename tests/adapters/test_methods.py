"""Every registered PEFT method, without naming any: identity at init,
gradients to each of its tensors and to nothing else, adaptor-only
save/load, stage-two transfer, export, and every pair of methods together.
A new method is covered by registering it.

Authors
 * speechbrain-peft-ser developers 2026
"""

import itertools

import pytest
import torch
from safetensors.torch import load_file

from speechbrain_peft.adapters import METHODS, owner_of
from speechbrain_peft.export import export_run
from speechbrain_peft.inference.recognizer import EmotionRecognizer
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.model.padding import normalize_valid, valid_sample_mask
from speechbrain_peft.runs.artifact import save_run_artifact
from speechbrain_peft.runs.finished import FinishedRun
from speechbrain_peft.training.losses import ccc_loss
from speechbrain_peft.training.stage_two import init_from_run

NAMES = sorted(METHODS)
PAIRS = list(itertools.combinations(NAMES, 2))
LABELS = ["neu", "hap", "ang"]


def examples(names):
    """Each method's example settings, as the YAML would give them."""
    return {
        name: METHODS[name].describe(METHODS[name].example()) for name in names
    }


def layer_outputs(encoder, wav, lens):
    """The HF model's hidden states and the lobe's features, in eval mode."""
    mask = valid_sample_mask(wav, lens)
    normalized = normalize_valid(wav, mask) if encoder.normalize_wav else wav
    with torch.no_grad():
        out = encoder.ssl.model(
            normalized, attention_mask=mask.long(), output_hidden_states=True
        )
        feats, _ = encoder(wav, lens)
    return torch.stack(out.hidden_states), feats


def steps(encoder, wav, lens, n=2):
    """``n`` Adam steps of encoder + head on a cross-entropy loss; Adam
    moves every parameter with a non-zero gradient."""
    torch.manual_seed(0)
    head = EmotionHead(encoder.output_size, 3, hidden_size=16)
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params + list(head.parameters()), lr=1e-2)
    encoder.train()
    for _ in range(n):
        optimizer.zero_grad()
        logits = head(*encoder(wav, lens))
        torch.nn.functional.cross_entropy(
            logits, torch.tensor([0, 2])
        ).backward()
        optimizer.step()
    return encoder.eval(), head.eval()


def check_identity_then_training(source, names, wav, lens):
    frozen = PEFTEncoder(source).eval()
    adapted = PEFTEncoder(source, adapters=examples(names)).eval()
    ref_states, ref_feats = layer_outputs(frozen, wav, lens)
    states, feats = layer_outputs(adapted, wav, lens)
    # The identity of the frozen model at init: the same layer outputs and,
    # for a method combining the layers, their uniform combination.
    torch.testing.assert_close(states, ref_states, atol=1e-5, rtol=0)
    if adapted.combiner is None:
        torch.testing.assert_close(feats, ref_feats, atol=1e-5, rtol=0)
    else:
        torch.testing.assert_close(
            feats, ref_states.mean(dim=0), atol=1e-5, rtol=0
        )

    base = set(dict(frozen.named_parameters()))
    trainable = {
        n: p.detach().clone()
        for n, p in adapted.named_parameters()
        if p.requires_grad
    }
    # Only adaptor tensors train, each owned by one of the chosen methods.
    assert trainable and not set(trainable) & base
    assert {owner_of(n) for n in trainable} == set(names)
    frozen_before = {
        n: p.detach().clone()
        for n, p in adapted.named_parameters()
        if not p.requires_grad
    }
    steps(adapted, wav, lens)
    params = dict(adapted.named_parameters())
    for name, before in trainable.items():
        assert not torch.equal(before, params[name]), f"{name} did not train"
    for name, before in frozen_before.items():
        assert torch.equal(before, params[name]), f"frozen {name} changed"
    # Trained, the adaptors inside the encoder change its layer outputs.
    if any(not METHODS[name].combines_layers for name in names):
        states, _ = layer_outputs(adapted, wav, lens)
        assert (states - ref_states).abs().max() > 1e-4
    return adapted


@pytest.mark.parametrize("name", NAMES)
def test_each_method_starts_as_identity_and_trains_only_its_tensors(
    tiny_encoders, encoder_kind, name, wav_batch
):
    check_identity_then_training(
        str(tiny_encoders[encoder_kind]), [name], *wav_batch
    )


@pytest.mark.parametrize("names", PAIRS, ids="+".join)
def test_every_pair_of_methods_works_together(tiny_encoders, names, wav_batch):
    check_identity_then_training(str(tiny_encoders["wavlm"]), names, *wav_batch)


def all_methods():
    """Every method, with one of those combining the layers."""
    combining = [n for n in NAMES if METHODS[n].combines_layers]
    return [n for n in NAMES if n not in combining[1:]]


def test_all_methods_together(tiny_encoders, encoder_kind, wav_batch):
    check_identity_then_training(
        str(tiny_encoders[encoder_kind]), all_methods(), *wav_batch
    )


@pytest.fixture(scope="module")
def trained_runs(tiny_encoders, tmp_path_factory):
    """One trained run artifact per method: ``{name: run folder}``."""
    generator = torch.Generator().manual_seed(0)
    wav = torch.randn(2, 8000, generator=generator)
    lens = torch.tensor([1.0, 0.6])
    runs = {}
    for name in NAMES:
        run = tmp_path_factory.mktemp(f"run_{name}")
        encoder = PEFTEncoder(
            str(tiny_encoders["wavlm"]), adapters=examples([name])
        )
        encoder, head = steps(encoder, wav, lens, n=3)
        save_run_artifact(
            run,
            encoder,
            head,
            task="categorical",
            label_set=LABELS,
            dimension_scale=None,
            sample_rate=16000,
            max_duration=None,
        )
        runs[name] = run
    return runs


@pytest.mark.parametrize("name", NAMES)
def test_adaptor_only_artifact_round_trip(trained_runs, name, wav_batch):
    run = trained_runs[name]
    stored = load_file(run / "adapters.safetensors")
    owners = {owner_of(k.removeprefix("encoder.")) for k in stored}
    assert owners == {name, None}  # the method's tensors and the head's
    assert all(
        k.startswith("head.")
        for k in stored
        if owner_of(k.removeprefix("encoder.")) is None
    )
    recognizer = EmotionRecognizer.from_run(run)
    for key, tensor in stored.items():
        assert torch.equal(recognizer.state_dict()[key], tensor), key


@pytest.mark.parametrize("name", NAMES)
def test_stage_two_starts_from_each_method(
    trained_runs, tiny_encoders, name, wav_batch
):
    one = EmotionRecognizer.from_run(trained_runs[name])
    encoder = PEFTEncoder(
        str(tiny_encoders["wavlm"]), adapters=examples([name])
    )
    head = EmotionHead(encoder.output_size, len(LABELS), hidden_size=16)
    lineage = init_from_run(
        FinishedRun.read(trained_runs[name]),
        encoder,
        head,
        label_map={label: label for label in LABELS},
        target_labels=LABELS,
        freeze_stage1=True,
    )
    table = {row["adaptor"]: row for row in lineage["adaptors"]}
    assert table[name]["stage_one"] == "loaded"
    assert table[name]["stage_two"] == "frozen"
    assert not any(p.requires_grad for p in encoder.parameters())
    wav, lens = wav_batch
    with torch.no_grad():
        torch.testing.assert_close(
            head(*encoder.eval()(wav, lens)), one(wav, lens), atol=1e-5, rtol=0
        )


@pytest.mark.parametrize("name", NAMES)
def test_export_of_each_method_predicts_like_the_run(
    trained_runs, name, wav_batch, tmp_path
):
    run = trained_runs[name]
    expected = EmotionRecognizer.from_run(run)(*wav_batch)
    export_run(run, tmp_path / "plain")
    exported = EmotionRecognizer.from_run(tmp_path / "plain")
    torch.testing.assert_close(exported(*wav_batch), expected, atol=0, rtol=0)
    if METHODS[name].mergeable:
        export_run(run, tmp_path / "merged", merge=True)
        merged = EmotionRecognizer.from_run(tmp_path / "merged")
        assert name not in merged.encoder.adapters
        torch.testing.assert_close(
            merged(*wav_batch), expected, atol=1e-4, rtol=0
        )


@pytest.mark.parametrize("names", [[n] for n in NAMES] + [all_methods()])
def test_bf16_autocast_gives_finite_losses_and_gradients(
    tiny_encoders, encoder_kind, names, wav_batch
):
    """``--precision bf16`` runs the forward under SpeechBrain's CPU
    autocast to bfloat16: the head's outputs come in bfloat16, the
    cross-entropy and CCC losses are finite, and every trainable tensor
    gets a finite, non-zero gradient. The combination of every method
    runs with selective activation checkpointing, which keeps bfloat16
    feed-forward outputs for the backward. (How close bf16 training gets
    to float32 is measured on the learning task, in test_recipes.)"""
    torch.manual_seed(0)
    encoder = PEFTEncoder(
        str(tiny_encoders[encoder_kind]),
        adapters=examples(names),
        activation_checkpointing=(
            "selective" if names == all_methods() else False
        ),
    ).train()
    for param in encoder.parameters():
        if param.requires_grad:  # away from the identity init (zeros)
            torch.nn.init.normal_(param, std=0.1)
    head = EmotionHead(encoder.output_size, 3, hidden_size=16).train()
    wav, lens = wav_batch
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = head(*encoder(wav, lens))
        loss = torch.nn.functional.cross_entropy(outputs, torch.tensor([0, 2]))
        loss = loss + ccc_loss(outputs, torch.tensor([[0.1] * 3, [0.9] * 3]))
    assert outputs.dtype == torch.bfloat16
    assert torch.isfinite(loss)
    loss.backward()
    trainable = [
        (n, p)
        for n, p in itertools.chain(
            encoder.named_parameters(), head.named_parameters()
        )
        if p.requires_grad
    ]
    for name, param in trainable:
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
