"""Bottleneck adapter (BA, Houlsby-style) after the feed-forward block of
each encoder layer: ``h + W_up f(W_down h)`` with ``W_up``
zero-initialised, so the adapter starts as the identity. YAML:
``adapters: {bottleneck: {size: 64, activation: relu}}``.

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
ATTR = "adapter_bottleneck"


class BottleneckAdapter(nn.Module):
    """Residual down-projection, non-linearity, zero-initialised up-projection.

    Arguments
    ---------
    input_size : int
        Width ``d`` of the hidden states.
    bottleneck_size : int
        Width of the bottleneck (64 in the paper).
    activation : str
        One of ``relu``, ``gelu``, ``silu``.

    Example
    -------
    >>> import torch
    >>> adapter = BottleneckAdapter(768, 64)
    >>> h = torch.randn(2, 5, 768)
    >>> torch.equal(adapter(h), h)
    True
    >>> sum(p.numel() for p in adapter.parameters())
    99136
    """

    def __init__(self, input_size, bottleneck_size=64, activation="relu"):
        super().__init__()
        check_activation(activation)
        self.down = nn.Linear(input_size, bottleneck_size)
        self.activation = ACTIVATIONS[activation]()
        self.up = nn.Linear(bottleneck_size, input_size)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden_states):
        """Add the adapter's residual to ``hidden_states``."""
        return hidden_states + self.up(
            self.activation(self.down(hidden_states))
        )


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
        attach_output_adapter(layer.feed_forward, ATTR, adapter)


@dataclasses.dataclass
class BottleneckSettings:
    """The bottleneck adapter's settings."""

    size: int = 64
    activation: str = "relu"

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 1:
            raise ConfigError(f"bottleneck size must be >= 1, got {self.size}")
        check_activation(self.activation)


class Bottleneck(Method):
    """The bottleneck adapter as a registered method."""

    name = "bottleneck"
    config_class = BottleneckSettings
    legacy_fields = {
        "bottleneck_size": "size",
        "bottleneck_activation": "activation",
    }

    def inject(self, model, config, layers=None):
        """One adapter after each chosen layer's feed-forward block."""
        inject_bottleneck(model, config.size, config.activation, layers)

    def owns(self, parameter_name):
        """The adapters' down- and up-projections."""
        return f".{ATTR}." in parameter_name


register(Bottleneck())
