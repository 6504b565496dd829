"""Learned weighted sum (WS) of an encoder's hidden states: a softmax over
``L + 1`` learned scalars combines the CNN projection output and every
layer output, uniform at init. YAML: ``adapters: {weighted_sum: {}}``.

Authors
 * speechbrain-peft-ser developers 2026
"""

import dataclasses

import torch
from torch import nn

from speechbrain_peft.adapters.registry import Method, register


class WeightedSum(nn.Module):
    """Softmax-weighted sum of ``L + 1`` stacked hidden states (the CNN
    projection output and every transformer layer), uniform at init.

    Arguments
    ---------
    num_states : int
        ``L + 1`` for an encoder with ``L`` transformer layers.

    Example
    -------
    >>> ws = WeightedSum(3)
    >>> states = torch.randn(3, 2, 5, 8)
    >>> torch.allclose(ws(states), states.mean(dim=0), atol=1e-6)
    True
    """

    def __init__(self, num_states):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_states))

    def weights(self):
        """The current layer weights (they sum to one)."""
        return torch.softmax(self.logits, dim=0)

    def forward(self, hidden_states):
        """Combine ``hidden_states`` shaped ``[L + 1, ...]`` (frames
        ``[L + 1, batch, time, dim]`` or pooled ``[L + 1, batch, dim]``)."""
        weights = self.weights()
        # Under bf16 autocast the states come in bfloat16 and the softmax
        # in float32: the sum is taken in the weights' precision.
        states = hidden_states.to(weights.dtype)
        return torch.tensordot(weights, states, dims=1)


@dataclasses.dataclass
class WeightedSumSettings:
    """The weighted sum has no settings."""


class WeightedSumMethod(Method):
    """The weighted sum of layers as a registered method."""

    name = "weighted_sum"
    config_class = WeightedSumSettings
    combines_layers = True

    def combiner(self, config, num_states):
        """A :class:`WeightedSum` of ``num_states`` states."""
        return WeightedSum(num_states)

    def owns(self, parameter_name):
        """The layer logits (the lobe keeps the combiner under the
        method's name)."""
        return parameter_name.startswith(f"{self.name}.")


register(WeightedSumMethod())
