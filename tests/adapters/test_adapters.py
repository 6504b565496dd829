"""The adaptors inside real (tiny) WavLM, HuBERT and wav2vec2 encoders,
beyond what :mod:`test_methods` checks for every method: LoRA on WavLM
attention, peft tuners, LoRA merge, closed-form parameter counts, the
lobe's checkpoints, padding and LayerDrop.

Authors
 * speechbrain-peft-ser developers 2026
"""

import pytest
import torch
from peft import LoraConfig
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import AutoModel, WavLMConfig, WavLMModel

from speechbrain_peft.adapters import (
    METHODS,
    LoRALinear,
    WeightedSum,
    inject_bottleneck,
    inject_gating,
    inject_lora,
    merge_lora,
)
from speechbrain_peft.model.encoder import (
    PEFTEncoder,
    normalize_valid,
    valid_sample_mask,
)
from speechbrain_peft.model.heads import EmotionHead, masked_mean
from speechbrain_peft.model.saved_tensors import (
    CheckpointMismatchError,
    load_trainable,
)


def hidden_states(encoder, wav, lens):
    """All hidden states of the wrapped HF model, in eval mode."""
    mask = valid_sample_mask(wav, lens)
    if encoder.normalize_wav:
        wav = normalize_valid(wav, mask)
    with torch.no_grad():
        out = encoder.ssl.model(
            wav, attention_mask=mask.long(), output_hidden_states=True
        )
    return torch.stack(out.hidden_states), out.last_hidden_state


def train_steps(encoder, wav, lens, steps=2):
    """A few Adam steps of encoder + head on a cross-entropy loss."""
    torch.manual_seed(0)
    head = EmotionHead(encoder.output_size, 3, hidden_size=16)
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params + list(head.parameters()), lr=1e-2)
    labels = torch.tensor([0, 2])
    encoder.train()
    for _ in range(steps):
        optimizer.zero_grad()
        logits = head(*encoder(wav, lens))
        torch.nn.functional.cross_entropy(logits, labels).backward()
        optimizer.step()
    encoder.eval()
    return head


def test_lora_acts_on_wavlm_attention(tiny_encoders, wav_batch):
    """Pitfall 2: WavLM reads q_proj.weight directly; our LoRA must act."""
    wav, lens = wav_batch
    source = str(tiny_encoders["wavlm"])
    enc = PEFTEncoder(source, adapters=["lora"]).eval()
    _, before = hidden_states(enc, wav, lens)
    train_steps(enc, wav, lens, steps=3)
    _, after = hidden_states(enc, wav, lens)
    assert (after - before).abs().max() > 1e-3
    q_proj = enc.ssl.model.encoder.layers[0].attention.q_proj
    assert q_proj.lora_B.weight.abs().sum() > 0
    torch.testing.assert_close(
        q_proj.weight, q_proj.base_layer.weight + q_proj.delta_weight()
    )


def test_lora_dropout_acts_on_wavlm_attention(tiny_encoders, wav_batch):
    """Before the attention was rerouted, WavLM q/k/v LoRA saw no dropout."""
    wav, lens = wav_batch
    enc = PEFTEncoder(
        str(tiny_encoders["wavlm"]), adapters={"lora": {"dropout": 0.5}}
    ).eval()
    loras = [m for m in enc.modules() if isinstance(m, LoRALinear)]
    for lora in loras:
        torch.nn.init.normal_(lora.lora_B.weight)
    assert torch.equal(enc(wav, lens)[0], enc(wav, lens)[0])
    for lora in loras:
        lora.lora_dropout.train()  # only the LoRA dropout is random
    assert not torch.equal(enc(wav, lens)[0], enc(wav, lens)[0])


@pytest.mark.parametrize("kind", ["wavlm", "wav2vec2"])
def test_peft_ia3_bridge_trains_feed_forward(tiny_encoders, kind, wav_batch):
    config = {
        "peft_type": "IA3",
        "target_modules": ["feed_forward.output_dense"],
        "feedforward_modules": ["feed_forward.output_dense"],
    }
    source = str(tiny_encoders[kind])
    frozen = PEFTEncoder(source).eval()
    enc = PEFTEncoder(source, adapters={"peft": config}).eval()
    wav, lens = wav_batch
    torch.testing.assert_close(
        hidden_states(enc, wav, lens)[0], hidden_states(frozen, wav, lens)[0]
    )
    names = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert names and all("ia3" in n for n in names)
    before = {n: p.detach().clone() for n, p in enc.named_parameters()}
    train_steps(enc, wav, lens, steps=1)
    for name, param in enc.named_parameters():
        assert torch.equal(before[name], param) != (name in names), name


@pytest.mark.parametrize("kind", ["wavlm", "wav2vec2"])
def test_peft_lora_on_attention_acts(tiny_encoders, kind, wav_batch):
    """peft wraps forward(); WavLM's stock attention never calls it."""
    source = str(tiny_encoders[kind])
    config = LoraConfig(r=2, target_modules=["q_proj", "v_proj", "out_proj"])
    enc = PEFTEncoder(source, adapters={"peft": config})
    wav, lens = wav_batch
    _, before = hidden_states(enc, wav, lens)
    train_steps(enc, wav, lens, steps=3)
    _, after = hidden_states(enc, wav, lens)
    assert (after - before).abs().max() > 1e-4
    lora_B = [p for n, p in enc.named_parameters() if "lora_B" in n]
    assert len(lora_B) == 3 * 2 and all(p.abs().sum() > 0 for p in lora_B)


def test_lora_merge_matches_and_restores_base_names(
    tiny_encoders, encoder_kind, wav_batch
):
    wav, lens = wav_batch
    enc = PEFTEncoder(str(tiny_encoders[encoder_kind]), adapters=["lora"])
    train_steps(enc, wav, lens, steps=3)
    _, unmerged = hidden_states(enc, wav, lens)
    assert merge_lora(enc.ssl.model) == 3 * 2  # q, k, v in 2 layers
    _, merged = hidden_states(enc, wav, lens)
    torch.testing.assert_close(merged, unmerged, atol=1e-5, rtol=0)
    plain = AutoModel.from_pretrained(tiny_encoders[encoder_kind])
    assert list(enc.ssl.model.state_dict()) == list(plain.state_dict())


def test_lora_unmerge_restores_base_weight():
    base = torch.nn.Linear(6, 4)
    original = base.weight.detach().clone()
    lora = LoRALinear(base, rank=2)
    torch.nn.init.normal_(lora.lora_B.weight)
    x = torch.randn(3, 6)
    expected = lora(x)
    lora.merge()
    torch.testing.assert_close(lora(x), expected)
    lora.unmerge()
    torch.testing.assert_close(base.weight, original)
    torch.testing.assert_close(lora(x), expected)


def _trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_parameter_counts_match_closed_form_for_base_size():
    """768 x 12 (WavLM base config), built on the meta device: no weights."""
    config = WavLMConfig()
    assert (config.hidden_size, config.num_hidden_layers) == (768, 12)

    def fresh():
        with torch.device("meta"):
            model = WavLMModel(config)
        return model.requires_grad_(False)

    model = fresh()
    inject_lora(model, ["q_proj", "k_proj", "v_proj"], rank=8)
    assert _trainable(model) == 12 * 3 * (768 * 8 * 2) == 442_368
    model = fresh()
    inject_bottleneck(model, size=64)
    assert _trainable(model) == 12 * (768 * 64 + 64 + 64 * 768 + 768)
    assert _trainable(model) == 1_189_632
    assert _trainable(WeightedSum(config.num_hidden_layers + 1)) == 13
    model = fresh()
    inject_gating(model)
    assert _trainable(model) == 12 * 768
    # The parallel adapter: per layer 2 d m + m + d (down and up
    # projections with their biases; the scale is fixed).
    model = fresh()
    parallel = METHODS["parallel"]
    parallel.inject(model, parallel.settings({"size": 64}))
    assert _trainable(model) == 12 * (2 * 768 * 64 + 64 + 768) == 1_189_632


def test_lobe_reports_its_counts(tiny_encoders):
    enc = PEFTEncoder(
        str(tiny_encoders["hubert"]),
        adapters=["lora", "bottleneck", "weighted_sum", "gating"],
    )
    config = enc.ssl.model.config
    d, layers = config.hidden_size, config.num_hidden_layers
    expected = layers * (3 * d * 8 * 2 + (d * 64 + 64 + 64 * d + d) + d) + 3
    counts = enc.parameter_counts()
    assert counts["trainable"] == expected
    assert counts["total"] == sum(p.numel() for p in enc.parameters())


def test_adaptor_checkpoint_round_trip(tiny_encoders, wav_batch, tmp_path):
    wav, lens = wav_batch
    source = str(tiny_encoders["wavlm"])
    adapters = ["lora", "bottleneck", "weighted_sum", "gating"]
    trained = PEFTEncoder(source, adapters=adapters)
    train_steps(trained, wav, lens, steps=2)
    path = tmp_path / "adapters.safetensors"
    trained._save(path)

    from safetensors.torch import load_file

    stored = load_file(path)
    trainable = {n for n, p in trained.named_parameters() if p.requires_grad}
    assert set(stored) == trainable
    payload = sum(t.numel() * t.element_size() for t in stored.values())
    assert payload == 4 * trained.parameter_counts()["trainable"]
    assert path.stat().st_size < payload + 64 * 1024  # header only

    torch.manual_seed(123)  # a different random LoRA A before loading
    fresh = PEFTEncoder(source, adapters=adapters).eval()
    fresh._load(path)
    trained.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(wav, lens), trained(wav, lens))

    other = PEFTEncoder(source, adapters={"lora": {"rank": 4}})
    with pytest.raises(CheckpointMismatchError, match="lora.rank"):
        other._load(path)
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"x": torch.zeros(1)}, pickled)
    with pytest.raises(CheckpointMismatchError, match="pickled"):
        load_trainable(other, pickled)


def test_masked_mean_ignores_padding():
    torch.manual_seed(0)
    utt = torch.randn(1, 7, 5)
    padded = torch.cat([utt, 1e3 * torch.randn(1, 4, 5)], dim=1)
    torch.testing.assert_close(
        masked_mean(padded, torch.tensor([7 / 11])),
        masked_mean(utt, torch.tensor([1.0])),
    )


@pytest.mark.parametrize("adapters", [[], ["weighted_sum", "lora"]], ids=str)
def test_padded_batch_pools_like_the_lone_utterance(tiny_encoders, adapters):
    """Padding must not leak through normalisation, attention or pooling."""
    enc = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=adapters).eval()
    head = EmotionHead(enc.output_size, 3).eval()
    torch.manual_seed(0)
    short = torch.randn(1, 6400)
    batch = torch.zeros(2, 16000)
    batch[0] = torch.randn(16000)
    batch[1, :6400] = short
    with torch.no_grad():
        alone = head(*enc(short, torch.ones(1)))
        together = head(*enc(batch, torch.tensor([1.0, 0.4])))
    torch.testing.assert_close(together[1:], alone, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "adapters", [["lora"], ["gating"], ["bottleneck"]], ids=str
)
def test_backward_stops_at_the_lowest_adapted_layer(
    tiny_encoders, wav_batch, adapters
):
    """No graph is built below the adaptors: neither through the frozen CNN
    (transformers marks the waveform as requiring grad in train mode unless
    told otherwise) nor through frozen layers under the adapted ones."""
    enc = PEFTEncoder(
        str(tiny_encoders["wavlm"]), adapters=adapters, adapter_layers=[1]
    ).train()
    model = enc.ssl.model
    needs_grad = {}

    def record(name):
        def hook(module, args, output):
            first = output[0] if isinstance(output, tuple) else output
            needs_grad[name] = first.requires_grad

        return hook

    model.feature_extractor.register_forward_hook(record("cnn"))
    for index, layer in enumerate(model.encoder.layers):
        layer.register_forward_hook(record(f"layer{index}"))
    enc(*wav_batch)[0].sum().backward()
    assert needs_grad == {"cnn": False, "layer0": False, "layer1": True}


def test_layerdrop_is_off_by_default(tiny_encoders, wav_batch):
    """Pitfall 3: hub configs enable LayerDrop, which breaks a weighted sum."""
    source = str(tiny_encoders["wav2vec2"])
    wav, lens = wav_batch
    # Gating makes the encoder train, so its dropout layers are active.
    adapters = ["weighted_sum", "gating"]
    enc = PEFTEncoder(source, adapters=adapters).train()
    assert enc.ssl.model.config.layerdrop == 0.0
    for _ in range(20):
        enc(wav, lens)
    risky = PEFTEncoder(source, adapters=adapters, layerdrop=0.9)
    risky.train()
    with pytest.raises(ValueError, match="LayerDrop"):
        for _ in range(20):
            risky(wav, lens)


def test_clear_errors(tiny_encoders):
    source = str(tiny_encoders["wavlm"])
    with pytest.raises(ValueError, match="Unknown adaptor.*'prefix'"):
        PEFTEncoder(source, adapters=["prefix"])
    with pytest.raises(ValueError, match="Available names: .*q_proj"):
        PEFTEncoder(source, adapters={"lora": {"targets": ["query"]}})
    with pytest.raises(ValueError, match="'partial' is not a mode.*selective"):
        PEFTEncoder(source, activation_checkpointing="partial")


@pytest.mark.parametrize(
    "dropout", [False, True], ids=["no_dropout", "dropout"]
)
@pytest.mark.parametrize("mode", ["full", "selective"])
def test_activation_checkpointing_gives_the_plain_outputs_and_gradients(
    tiny_encoders, encoder_kind, wav_batch, mode, dropout
):
    """Every adaptor, the rerouted WavLM attention included: the same
    features and the same gradient of every trainable tensor, with the
    layers' activations recomputed in the backward. With dropout, the
    recompute uses the forward's masks (full: the random state is replayed;
    selective: the masks are kept)."""
    wav, lens = wav_batch
    adapters = {name: {} for name in ("lora", "bottleneck", "gating")}
    adapters["weighted_sum"] = {}
    results = []
    for checkpointing in (False, mode):
        torch.manual_seed(0)
        encoder = PEFTEncoder(
            str(tiny_encoders[encoder_kind]),
            adapters=adapters,
            activation_checkpointing=checkpointing,
        )
        if not dropout:
            for module in encoder.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = 0.0
        for param in encoder.parameters():
            if param.requires_grad:  # B and W_up start at 0: move them
                torch.nn.init.normal_(param, std=0.1)
        encoder.train()
        calls = []
        layer = encoder.ssl.model.encoder.layers[0]
        layer.attention.register_forward_hook(
            lambda *_, calls=calls: calls.append(1)
        )
        feats, _ = encoder(wav, lens)
        feats.pow(2).mean().backward()
        # Checkpointed, the layer's inside runs again in the backward.
        assert len(calls) == (2 if checkpointing else 1)
        grads = {
            n: p.grad.clone()
            for n, p in encoder.named_parameters()
            if p.requires_grad
        }
        results.append((feats.detach(), grads))
        layers = encoder.ssl.model.encoder
        assert layers.gradient_checkpointing == bool(checkpointing)
    (plain, plain_grads), (checked, checked_grads) = results
    torch.testing.assert_close(checked, plain, atol=1e-5, rtol=0)
    assert checked_grads.keys() == plain_grads.keys()
    for name, grad in checked_grads.items():
        torch.testing.assert_close(grad, plain_grads[name], atol=1e-5, rtol=0)


def bytes_held_by_forward(encoder, wav, lens):
    """Bytes of live tensors a forward leaves for its backward (and its
    output), from the allocation events ``torch.profiler`` records."""
    profiler = torch.profiler
    with profiler.profile(
        activities=[profiler.ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        with profiler.record_function("forward"):
            feats, _ = encoder(wav, lens)
    events = prof.profiler.kineto_results.events()
    forward = next(e for e in events if e.name() == "forward")
    held = sum(
        e.nbytes()
        for e in events
        if e.name() == "[memory]" and e.start_ns() >= forward.start_ns()
    )
    feats.sum().backward()
    return held


def test_selective_checkpointing_keeps_exactly_the_feed_forward_outputs(
    tiny_encoders, wav_batch
):
    """Full checkpointing keeps each layer's input; selective keeps, on top,
    the outputs of the two feed-forward projections of every layer and its
    dropout masks as bytes, and nothing else; without checkpointing much
    more is kept."""
    wav, lens = wav_batch
    held = {}
    for mode in (False, "full", "selective"):
        encoder = PEFTEncoder(
            str(tiny_encoders["wavlm"]),
            adapters=["lora"],
            activation_checkpointing=mode,
        ).train()
        held[mode] = bytes_held_by_forward(encoder, wav, lens)
    config = encoder.ssl.model.config
    frames = encoder.ssl.model._get_feat_extract_output_lengths(wav.shape[1])
    per_frame = wav.shape[0] * frames * config.num_hidden_layers
    feed_forward_outputs = (
        per_frame * (config.intermediate_size + config.hidden_size) * 4
    )
    # One byte per element: attention probabilities, the attention output,
    # the intermediate activation and the feed-forward output.
    masks = per_frame * (
        config.num_attention_heads * frames
        + config.hidden_size
        + config.intermediate_size
        + config.hidden_size
    )
    assert held["selective"] - held["full"] == feed_forward_outputs + masks
    assert held[False] > 2 * held["selective"]


class CountDraws(TorchDispatchMode):
    """Counts the in-place ``bernoulli_`` calls (CPU dropout masks) that
    reach it."""

    def __init__(self):
        super().__init__()
        self.draws = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.draws += func is torch.ops.aten.bernoulli_.float
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mode,draws_again", [("full", 1), ("selective", 0)])
def test_selective_recompute_draws_no_dropout_mask(
    tiny_encoders, wav_batch, mode, draws_again
):
    """Full checkpointing draws every dropout mask again in the backward
    (from the replayed random state); selective reuses the forward's."""
    wav, lens = wav_batch
    encoder = PEFTEncoder(
        str(tiny_encoders["wavlm"]),
        adapters=["lora"],
        activation_checkpointing=mode,
    ).train()
    with CountDraws() as forward:
        feats, _ = encoder(wav, lens)
    with CountDraws() as backward:
        feats.sum().backward()
    # The encoder's input dropout, then two checkpointed layers, each with
    # attention, attention output, activation and feed-forward output masks.
    in_layers = 2 * 4
    assert forward.draws == 1 + in_layers
    assert backward.draws == draws_again * in_layers
