"""Per-layer weight-gating (WG): scale each encoder layer's output
channel-wise by a learned gate. YAML: ``adapters: {gating: {init:
identity}}``.

Authors
 * speechbrain-peft-ser developers 2026
"""

import dataclasses

import torch
from torch import nn

from speechbrain_peft.adapters.inject import (
    attach_output_adapter,
    select_layers,
)
from speechbrain_peft.adapters.registry import Method, register
from speechbrain_peft.utils.errors import ConfigError

GATE_INITS = ("identity", "paper")
# The child module name, which also names the adaptor in state dicts.
ATTR = "adapter_gate"


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
        check_init(init)
        self.init = init
        start = 0.0 if init == "identity" else 1.0
        self.gate = nn.Parameter(torch.full((input_size,), start))

    def forward(self, hidden_states):
        """Scale ``hidden_states`` channel-wise by the gate."""
        scale = torch.sigmoid(self.gate)
        if self.init == "identity":
            scale = 2 * scale
        return hidden_states * scale


def check_init(init):
    """Refuse an unknown gate initialisation."""
    if init not in GATE_INITS:
        raise ConfigError(
            f"Unknown gating init {init!r}; choose one of {GATE_INITS}"
        )


def inject_gating(model, init="identity", layers=None):
    """Gate the output of each chosen encoder layer.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The encoder (modified in place).
    init : str
        See :class:`LayerGate`.
    layers : list of int, optional
        Encoder layers to gate (all when None).
    """
    width = model.config.hidden_size
    for _, layer in select_layers(model, layers):
        attach_output_adapter(layer, ATTR, LayerGate(width, init))


@dataclasses.dataclass
class GatingSettings:
    """The gates' settings (see :class:`LayerGate`)."""

    init: str = "identity"

    def __post_init__(self):
        check_init(self.init)


class Gating(Method):
    """Weight-gating as a registered method."""

    name = "gating"
    config_class = GatingSettings
    legacy_fields = {"gating_init": "init"}

    def inject(self, model, config, layers=None):
        """One gate on each chosen layer's output."""
        inject_gating(model, config.init, layers)

    def owns(self, parameter_name):
        """The gate vectors."""
        return f".{ATTR}." in parameter_name


register(Gating())
