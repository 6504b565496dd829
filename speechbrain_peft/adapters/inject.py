"""Put adaptors inside a transformers speech encoder (wav2vec 2.0, HuBERT,
WavLM) and take them out again.

LoRA replaces target ``nn.Linear`` modules by :class:`LoRALinear` (and
makes a WavLM attention that holds one call its projection modules, see
:mod:`speechbrain_peft.adapters.wavlm_attention`). The
bottleneck adapter and the gate are attached to their host module (the
feed-forward block, the encoder layer) as a child module plus a forward hook
that rewrites the host's output. A hook, not a wrapper module, because
transformers 5 records ``hidden_states`` with its own forward hooks on the
encoder-layer instances: a wrapper around a layer would let the ungated output
reach the weighted sum. Our hooks are prepended so they run before any hook
transformers installs.

Authors
 * speechbrain-peft-ser developers 2026
"""

from torch import nn

from speechbrain_peft.adapters.bottleneck import BottleneckAdapter
from speechbrain_peft.adapters.gating import LayerGate
from speechbrain_peft.adapters.lora import LoRALinear
from speechbrain_peft.adapters.wavlm_attention import (
    call_projections,
    is_wavlm_attention,
    restore_attention,
)

BOTTLENECK_ATTR = "adapter_bottleneck"
GATE_ATTR = "adapter_gate"


def encoder_layers(model):
    """The transformer layers of a wav2vec2-family model.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        A ``Wav2Vec2Model``, ``HubertModel`` or ``WavLMModel``.

    Returns
    -------
    torch.nn.ModuleList
    """
    try:
        return model.encoder.layers
    except AttributeError:
        raise TypeError(
            f"{type(model).__name__} has no encoder.layers; only wav2vec 2.0, "
            "HuBERT and WavLM style encoders are supported"
        ) from None


def select_layers(model, layers=None):
    """``(index, layer)`` pairs for the chosen layer indices.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The encoder.
    layers : list of int, optional
        Layer indices (negative counts from the top); all when None.

    Returns
    -------
    list of (int, torch.nn.Module)
    """
    all_layers = list(encoder_layers(model))
    if layers is None:
        return list(enumerate(all_layers))
    n = len(all_layers)
    chosen = []
    for index in layers:
        if not -n <= index < n:
            raise ValueError(
                f"Adaptor layer index {index} is out of range for an encoder "
                f"with {n} layers"
            )
        chosen.append((index % n, all_layers[index]))
    return sorted(set(chosen), key=lambda pair: pair[0])


def _output_hook(attr):
    def hook(module, args, output):
        adapter = getattr(module, attr)
        if isinstance(output, tuple):
            return (adapter(output[0]),) + tuple(output[1:])
        return adapter(output)

    return hook


def attach_output_adapter(host, attr, adapter):
    """Register ``adapter`` as child ``attr`` of ``host`` and apply it to
    the host's output (first element when the output is a tuple).

    Arguments
    ---------
    host : torch.nn.Module
        The module whose output is adapted.
    attr : str
        The child name, which also names the adaptor in state dicts.
    adapter : torch.nn.Module
        Maps the host output to the adapted output.
    """
    if hasattr(host, attr):
        raise ValueError(f"{type(host).__name__} already has an {attr}")
    host.add_module(attr, adapter)
    host.register_forward_hook(_output_hook(attr), prepend=True)


def _matches(name, target):
    return name == target or name.endswith("." + target)


def inject_lora(model, targets, rank=8, alpha=16.0, dropout=0.0, layers=None):
    """Replace target linear layers of the chosen encoder layers by LoRA.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The encoder (modified in place).
    targets : list of str
        Module names or name suffixes inside a layer, e.g. ``q_proj`` or
        ``feed_forward.intermediate_dense``.
    rank, alpha, dropout : see :class:`LoRALinear`.
    layers : list of int, optional
        Encoder layers to adapt (all when None).

    Returns
    -------
    list of str
        The names (inside a layer) of the adapted modules.
    """
    chosen = select_layers(model, layers)
    matched = set()
    for _, layer in chosen:
        linears = [
            (name, module)
            for name, module in layer.named_modules()
            if isinstance(module, nn.Linear)
            and any(_matches(name, t) for t in targets)
        ]
        for name, module in linears:
            parent_name, _, child = name.rpartition(".")
            parent = layer.get_submodule(parent_name)
            setattr(parent, child, LoRALinear(module, rank, alpha, dropout))
            matched.update(t for t in targets if _matches(name, t))
            if is_wavlm_attention(parent):
                call_projections(parent)
    missing = [t for t in targets if t not in matched]
    if missing:
        available = sorted(
            {
                name
                for name, module in chosen[0][1].named_modules()
                if isinstance(module, nn.Linear | LoRALinear)
            }
        )
        raise ValueError(
            f"LoRA target(s) {missing} match no linear layer of "
            f"{type(chosen[0][1]).__name__}. Available names: {available}"
        )
    return sorted(matched)


def inject_bottleneck(model, size=64, activation="relu", layers=None):
    """Add a bottleneck adapter after the feed-forward block of each chosen
    layer.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The encoder (modified in place).
    size : int
        Bottleneck width.
    activation : str
        See :class:`BottleneckAdapter`.
    layers : list of int, optional
        Encoder layers to adapt (all when None).
    """
    width = model.config.hidden_size
    for _, layer in select_layers(model, layers):
        adapter = BottleneckAdapter(width, size, activation)
        attach_output_adapter(layer.feed_forward, BOTTLENECK_ATTR, adapter)


def inject_gating(model, init="identity", layers=None):
    """Gate the output of each chosen encoder layer.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The encoder (modified in place).
    init : str
        See :class:`LayerGate`.
    layers : list of int, optional
        Encoder layers to gate (all when None).
    """
    width = model.config.hidden_size
    for _, layer in select_layers(model, layers):
        attach_output_adapter(layer, GATE_ATTR, LayerGate(width, init))


def merge_lora(model):
    """Fold every LoRA update into its base layer and put the plain
    ``nn.Linear`` back, so the model has its original parameter names.

    Arguments
    ---------
    model : torch.nn.Module
        Modified in place.

    Returns
    -------
    int
        How many layers were merged.
    """
    lora_modules = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, LoRALinear)
    ]
    for name, module in lora_modules:
        module.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, module.base_layer)
        # Merged, the weights are plain again: transformers' own attention
        # (the base model's speed and numerics) reads them correctly.
        restore_attention(parent)
    return len(lora_modules)
