"""Low-rank adaptation (LoRA) of the frozen linear layers of each encoder
layer: ``W x + b + (alpha / r) B A dropout(x)`` with ``A``
Kaiming-initialised and ``B`` zero-initialised, so it starts as the
identity of the frozen layer. YAML: ``adapters: {lora: {rank: 8, alpha:
16, dropout: 0.0, targets: [q_proj, k_proj, v_proj]}}``.

Some encoders never call their projections: transformers' WavLM attention
hands ``q_proj.weight`` straight to ``F.multi_head_attention_forward``, so a
LoRA that only overrides ``forward`` (peft's included) is silently ignored.
Injection reroutes that attention through the modules
(:mod:`speechbrain_peft.adapters.wavlm_attention`); for any other code that
reads the weight, :class:`LoRALinear` also exposes the adapted ``weight`` as
a property (without input dropout, which only the ``forward`` path has).

Authors
 * speechbrain-peft-ser developers 2026
"""

import dataclasses
import math

import torch
from torch import nn

from speechbrain_peft.adapters.inject import select_layers
from speechbrain_peft.adapters.registry import Method, register
from speechbrain_peft.adapters.wavlm_attention import (
    call_projections,
    is_wavlm_attention,
    restore_attention,
)
from speechbrain_peft.utils.errors import ConfigError


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update.

    Arguments
    ---------
    base_layer : torch.nn.Linear
        The layer to adapt; its parameters are frozen in place.
    rank : int
        Rank ``r`` of the update.
    alpha : float
        Scale numerator: the update is multiplied by ``alpha / rank``.
    dropout : float
        Dropout on the input of the low-rank branch (``forward`` path only).

    Example
    -------
    >>> base = torch.nn.Linear(16, 8)
    >>> lora = LoRALinear(base, rank=4, alpha=8)
    >>> x = torch.randn(2, 16)
    >>> torch.allclose(lora(x), base(x))
    True
    >>> torch.equal(lora.weight, base.weight)  # B is zero at init
    True
    >>> sum(p.numel() for p in lora.parameters() if p.requires_grad)
    96
    """

    def __init__(self, base_layer, rank=8, alpha=16.0, dropout=0.0):
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        self.base_layer = base_layer
        base_layer.weight.requires_grad_(False)
        if base_layer.bias is not None:
            base_layer.bias.requires_grad_(False)
        self.rank = rank
        self.alpha = alpha
        self.scaling = alpha / rank
        self.lora_A = nn.Linear(base_layer.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base_layer.out_features, bias=False)
        self.lora_dropout = (
            nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        )
        self.merged = False
        self.reset_parameters()

    def reset_parameters(self):
        """Kaiming-uniform ``A`` (as ``nn.Linear`` and peft do), zero ``B``."""
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    @property
    def in_features(self):
        """Input size of the adapted layer."""
        return self.base_layer.in_features

    @property
    def out_features(self):
        """Output size of the adapted layer."""
        return self.base_layer.out_features

    def delta_weight(self):
        """The update ``(alpha / r) B A``, shaped like the base weight."""
        return self.lora_B.weight @ self.lora_A.weight * self.scaling

    @property
    def weight(self):
        """The effective weight, for code that reads it instead of calling
        ``forward``."""
        if self.merged:
            return self.base_layer.weight
        return self.base_layer.weight + self.delta_weight()

    @property
    def bias(self):
        """The (frozen) base bias."""
        return self.base_layer.bias

    def forward(self, x):
        """Adapted projection of ``x`` (low-rank path, never forms B A)."""
        out = self.base_layer(x)
        if self.merged:
            return out
        return (
            out + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
        )

    @torch.no_grad()
    def merge(self):
        """Fold ``B A`` into the base weight (for inference)."""
        if not self.merged:
            self.base_layer.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self):
        """Undo :meth:`merge`, restoring the frozen base weight."""
        if self.merged:
            self.base_layer.weight -= self.delta_weight()
            self.merged = False

    def extra_repr(self):
        """Shown by ``print(module)``."""
        return f"rank={self.rank}, alpha={self.alpha}, merged={self.merged}"


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
        raise ConfigError(
            f"LoRA target(s) {missing} match no linear layer of "
            f"{type(chosen[0][1]).__name__}. Available names: {available}"
        )
    return sorted(matched)


def lora_modules(model):
    """``(name, LoRALinear)`` pairs of ``model``."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, LoRALinear)
    ]


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
    merged = lora_modules(model)
    for name, module in merged:
        module.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, module.base_layer)
        # Merged, the weights are plain again: transformers' own attention
        # (the base model's speed and numerics) reads them correctly.
        restore_attention(parent)
    return len(merged)


@dataclasses.dataclass
class LoRASettings:
    """LoRA's settings (see :class:`LoRALinear`).

    Example
    -------
    >>> LoRASettings(rank=0)
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: LoRA rank must be >= 1, got 0
    """

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple = ("q_proj", "k_proj", "v_proj")

    def __post_init__(self):
        if not isinstance(self.rank, int) or self.rank < 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"LoRA dropout must be in [0, 1): {self.dropout}")
        if isinstance(self.targets, str) or not self.targets:
            raise ConfigError(
                f"LoRA targets must be a list of module names, e.g. "
                f"[q_proj, v_proj], not {self.targets!r}"
            )
        self.targets = tuple(self.targets)


class LoRA(Method):
    """LoRA as a registered method."""

    name = "lora"
    config_class = LoRASettings
    stage_two_fields = ("rank", "alpha", "targets")
    legacy_fields = {
        "lora_rank": "rank",
        "lora_alpha": "alpha",
        "lora_dropout": "dropout",
        "lora_targets": "targets",
    }
    mergeable = True

    def inject(self, model, config, layers=None):
        """Wrap the target linear layers of the chosen encoder layers."""
        inject_lora(
            model,
            list(config.targets),
            config.rank,
            config.alpha,
            config.dropout,
            layers,
        )

    def owns(self, parameter_name):
        """The ``lora_A`` and ``lora_B`` matrices of :class:`LoRALinear`
        (a peft LoRA names its own ``lora_A.default.weight``)."""
        return parameter_name.endswith((".lora_A.weight", ".lora_B.weight"))

    def merge(self, model):
        """Fold every LoRA into its base weight, keeping the modules."""
        for _, module in lora_modules(model):
            module.merge()
        return len(lora_modules(model))

    def unmerge(self, model):
        """Take the LoRA updates back out of the base weights."""
        for _, module in lora_modules(model):
            module.unmerge()

    def unload(self, model):
        """Put the (merged) plain linear layers back."""
        return merge_lora(model)


register(LoRA())
