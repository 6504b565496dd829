"""Parallel adapter (He et al., ICLR 2022, "Towards a Unified View of
Parameter-Efficient Transfer Learning"): a bottleneck computed from the
feed-forward block's *input*, scaled, added to its output, in each encoder
layer: ``FFN(h) + s W_up f(W_down h)``. ``W_up`` is zero-initialised, so
it starts as the identity. YAML: ``adapters: {parallel: {size: 64, scale:
4.0, activation: relu}}`` (He et al. scale the feed-forward variant by 4).

Authors
 * speechbrain-peft-ser developers 2026
"""

import dataclasses

from torch import nn

from speechbrain_peft.adapters.inject import (
    ACTIVATIONS,
    attach_output_adapter,
    check_activation,
    select_layers,
)
from speechbrain_peft.adapters.registry import Method, register
from speechbrain_peft.utils.errors import ConfigError

# The child module name, which also names the adaptor in state dicts.
ATTR = "adapter_parallel"


class ParallelAdapter(nn.Module):
    """Scaled bottleneck of a block's input, added to the block's output.

    Arguments
    ---------
    input_size : int
        Width ``d`` of the hidden states.
    size : int
        Width ``m`` of the bottleneck.
    scale : float
        ``s``, the scale of the adapter's contribution.
    activation : str
        One of ``relu``, ``gelu``, ``silu``.

    Example
    -------
    >>> import torch
    >>> adapter = ParallelAdapter(768, 64)
    >>> block_in, block_out = torch.randn(2, 5, 768), torch.randn(2, 5, 768)
    >>> torch.equal(adapter(block_in, block_out), block_out)
    True
    >>> sum(p.numel() for p in adapter.parameters())  # 2 d m + m + d
    99136
    """

    def __init__(self, input_size, size=64, scale=4.0, activation="relu"):
        super().__init__()
        check_activation(activation)
        self.scale = scale
        self.down = nn.Linear(input_size, size)
        self.activation = ACTIVATIONS[activation]()
        self.up = nn.Linear(size, input_size)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, block_input, block_output):
        """``block_output`` plus the scaled bottleneck of ``block_input``."""
        branch = self.up(self.activation(self.down(block_input)))
        return block_output + self.scale * branch


@dataclasses.dataclass
class ParallelSettings:
    """The parallel adapter's settings."""

    size: int = 64
    scale: float = 4.0
    activation: str = "relu"

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 1:
            raise ConfigError(
                f"parallel adapter size must be >= 1, got {self.size}"
            )
        check_activation(self.activation)


class Parallel(Method):
    """The parallel adapter as a registered method."""

    name = "parallel"
    config_class = ParallelSettings

    def inject(self, model, config, layers=None):
        """One adapter beside each chosen layer's feed-forward block."""
        width = model.config.hidden_size
        for _, layer in select_layers(model, layers):
            adapter = ParallelAdapter(
                width, config.size, config.scale, config.activation
            )
            attach_output_adapter(
                layer.feed_forward, ATTR, adapter, takes_input=True
            )

    def owns(self, parameter_name):
        """The adapters' down- and up-projections."""
        return f".{ATTR}." in parameter_name


register(Parallel())
