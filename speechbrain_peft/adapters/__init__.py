"""Adaptors for frozen self-supervised speech encoders: LoRA, bottleneck
adapters, weighted sum of layers and per-layer gating, plus the code that
injects them and a bridge to Hugging Face ``peft`` configs.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.adapters.bottleneck import BottleneckAdapter
from speechbrain_peft.adapters.gating import LayerGate
from speechbrain_peft.adapters.inject import (
    BOTTLENECK_ATTR,
    GATE_ATTR,
    inject_bottleneck,
    inject_gating,
    inject_lora,
    merge_lora,
)
from speechbrain_peft.adapters.lora import LoRALinear
from speechbrain_peft.adapters.peft_bridge import apply_peft_config
from speechbrain_peft.adapters.weighted_sum import WeightedSum

ADAPTER_NAMES = ("lora", "bottleneck", "weighted_sum", "gating")
PEFT = "peft"
# A trainable parameter's name -> its adaptor. peft tuners keep each
# tensor under an adapter name (".default."); ours never do.
_OWNERS = (
    (".default.", PEFT),
    ("lora_A", "lora"),
    ("lora_B", "lora"),
    (BOTTLENECK_ATTR, "bottleneck"),
    (GATE_ATTR, "gating"),
    ("weighted_sum.", "weighted_sum"),
)


def adaptor_of(parameter_name):
    """The adaptor a parameter of a :class:`PEFTEncoder` belongs to
    (``encoder`` for the encoder's own weights).

    Example
    -------
    >>> adaptor_of("ssl.model.encoder.layers.0.attention.q_proj.lora_A.weight")
    'lora'
    >>> adaptor_of("weighted_sum.logits"), adaptor_of("ssl.model.conv.weight")
    ('weighted_sum', 'encoder')
    """
    for marker, owner in _OWNERS:
        if marker in parameter_name:
            return owner
    return "encoder"


__all__ = [
    "ADAPTER_NAMES",
    "adaptor_of",
    "BottleneckAdapter",
    "LayerGate",
    "LoRALinear",
    "WeightedSum",
    "apply_peft_config",
    "inject_bottleneck",
    "inject_gating",
    "inject_lora",
    "merge_lora",
]
