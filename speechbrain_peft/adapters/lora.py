"""Low-rank adaptation (LoRA) of a frozen ``nn.Linear``.

The adapted layer computes ``W x + b + (alpha / r) B A dropout(x)`` with
``A`` Kaiming-initialised and ``B`` zero-initialised, so it starts as the
identity of the frozen layer.

Some encoders never call their projections: transformers' WavLM attention
hands ``q_proj.weight`` straight to ``F.multi_head_attention_forward``, so a
LoRA that only overrides ``forward`` (peft's included) is silently ignored.
The injection code reroutes that attention through the modules
(:mod:`speechbrain_peft.adapters.wavlm_attention`); for any other code that
reads the weight, :class:`LoRALinear` also exposes the adapted ``weight`` as
a property (without input dropout, which only the ``forward`` path has).

Authors
 * speechbrain-peft-ser developers 2026
"""

import math

import torch
from torch import nn


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
