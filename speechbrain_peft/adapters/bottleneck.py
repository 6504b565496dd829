"""Bottleneck adapter (Houlsby-style) for the output of a feed-forward block.

``h + W_up f(W_down h)`` with ``W_up`` zero-initialised, so the adapter starts
as the identity.

Authors
 * speechbrain-peft-ser developers 2026
"""

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


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
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown bottleneck activation {activation!r}; "
                f"choose one of {sorted(ACTIVATIONS)}"
            )
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
