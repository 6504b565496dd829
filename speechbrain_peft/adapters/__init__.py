"""PEFT methods for frozen self-supervised speech encoders, one module each
(LoRA, bottleneck and parallel adapters, weighted sum of layers,
weight-gating, any Hugging Face peft tuner), registered by name in
:data:`METHODS` (see :mod:`speechbrain_peft.adapters.registry`).

Importing this package imports every module in it, and each method's
module registers the method: a new method is a new module here.

Authors
 * speechbrain-peft-ser developers 2026
"""

import importlib
import pkgutil

from speechbrain_peft.adapters.registry import (
    METHODS,
    Method,
    adaptor_settings,
    as_dict,
    nest_flat_overrides,
    owner_of,
    register,
    upgrade_flat_settings,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# The building blocks most often used on their own.
from speechbrain_peft.adapters.bottleneck import (  # noqa: E402
    BottleneckAdapter,
    inject_bottleneck,
)
from speechbrain_peft.adapters.gating import (  # noqa: E402
    LayerGate,
    inject_gating,
)
from speechbrain_peft.adapters.lora import (  # noqa: E402
    LoRALinear,
    inject_lora,
    merge_lora,
)
from speechbrain_peft.adapters.peft_bridge import (  # noqa: E402
    apply_peft_config,
)
from speechbrain_peft.adapters.weighted_sum import WeightedSum  # noqa: E402

__all__ = [
    "METHODS",
    "BottleneckAdapter",
    "LayerGate",
    "LoRALinear",
    "Method",
    "WeightedSum",
    "adaptor_settings",
    "apply_peft_config",
    "as_dict",
    "inject_bottleneck",
    "inject_gating",
    "inject_lora",
    "merge_lora",
    "nest_flat_overrides",
    "owner_of",
    "register",
    "upgrade_flat_settings",
]
