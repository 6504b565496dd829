"""Adaptors for frozen self-supervised speech encoders: LoRA, bottleneck
adapters, weighted sum of layers and per-layer gating, plus the code that
injects them and a bridge to Hugging Face ``peft`` configs.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.adapters.bottleneck import BottleneckAdapter
from speechbrain_peft.adapters.gating import LayerGate
from speechbrain_peft.adapters.inject import (
    inject_bottleneck,
    inject_gating,
    inject_lora,
    merge_lora,
)
from speechbrain_peft.adapters.lora import LoRALinear
from speechbrain_peft.adapters.peft_bridge import apply_peft_config
from speechbrain_peft.adapters.weighted_sum import WeightedSum

ADAPTER_NAMES = ("lora", "bottleneck", "weighted_sum", "gating")

__all__ = [
    "ADAPTER_NAMES",
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
