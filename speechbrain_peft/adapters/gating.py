"""Per-layer weight-gating (WG): scale a layer's output channel-wise.

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch
from torch import nn

GATE_INITS = ("identity", "paper")


class LayerGate(nn.Module):
    """A learned vector ``g`` in ``R^d`` that gates a layer's output.

    Arguments
    ---------
    input_size : int
        Width ``d`` of the hidden states.
    init : str
        ``identity`` (default): output ``h * 2 sigmoid(g)`` with ``g = 0``, so
        the gate starts as the identity of the frozen model. ``paper``: the
        reference implementation's ``h * sigmoid(g)`` with ``g = 1``, which
        scales every channel by ~0.73 at init (NOT the identity).

    Example
    -------
    >>> gate = LayerGate(4)
    >>> h = torch.randn(2, 3, 4)
    >>> torch.allclose(gate(h), h)
    True
    >>> round(LayerGate(4, init="paper")(torch.ones(1, 4))[0, 0].item(), 4)
    0.7311
    """

    def __init__(self, input_size, init="identity"):
        super().__init__()
        if init not in GATE_INITS:
            raise ValueError(
                f"Unknown gating init {init!r}; choose one of {GATE_INITS}"
            )
        self.init = init
        start = 0.0 if init == "identity" else 1.0
        self.gate = nn.Parameter(torch.full((input_size,), start))

    def forward(self, hidden_states):
        """Scale ``hidden_states`` channel-wise by the gate."""
        scale = torch.sigmoid(self.gate)
        if self.init == "identity":
            scale = 2 * scale
        return hidden_states * scale
