"""Make transformers' WavLM attention call its projection modules.

``WavLMAttention`` hands ``q_proj.weight``, ``k_proj.weight``,
``v_proj.weight`` and ``out_proj.weight`` straight to
``F.multi_head_attention_forward`` (pitfall 2 of the design notes): a tuner
that wraps those modules' ``forward`` (peft's included) is silently skipped,
and one that rewrites the weight pays a dense weight gradient per
projection in the backward, as full fine-tuning does. Rerouted, the
attention computes the same thing from ``q_proj(x)``, ``k_proj(x)``,
``v_proj(x)`` and ``out_proj(...)`` with ``F.scaled_dot_product_attention``,
the gated relative position bias and the padding mask forming its additive
mask. transformers discards the attention weights of this call, so none are
computed.

Authors
 * speechbrain-peft-ser developers 2026
"""

import types

import torch.nn.functional as F

ROUTED = "torch_multi_head_self_attention"


def is_wavlm_attention(module):
    """Whether ``module`` is a transformers WavLM attention block."""
    return type(module).__name__.startswith("WavLMAttention") and hasattr(
        module, ROUTED
    )


def call_projections(attention):
    """Reroute one ``WavLMAttention`` through its projection modules (in
    place; calling it twice is harmless).

    Example
    -------
    >>> import torch
    >>> from transformers import WavLMConfig, WavLMModel
    >>> config = WavLMConfig(hidden_size=16, num_attention_heads=2,
    ...     num_hidden_layers=1, intermediate_size=8,
    ...     conv_dim=(8,), conv_stride=(5,), conv_kernel=(10,))
    >>> model = WavLMModel(config).eval()
    >>> wav = torch.randn(2, 800)
    >>> stock = model(wav).last_hidden_state
    >>> attention = model.encoder.layers[0].attention
    >>> call_projections(attention)
    >>> torch.allclose(model(wav).last_hidden_state, stock, atol=1e-5)
    True
    >>> restore_attention(attention)
    >>> torch.equal(model(wav).last_hidden_state, stock)
    True
    """
    setattr(attention, ROUTED, types.MethodType(_attend, attention))


def restore_attention(attention):
    """Undo :func:`call_projections` (no-op when it was not applied)."""
    attention.__dict__.pop(ROUTED, None)


def _attend(self, hidden_states, attention_mask, gated_position_bias):
    """Drop-in for ``WavLMAttention.torch_multi_head_self_attention``:
    ``[batch, time, width]`` in, the attention output and no weights out."""
    batch, length, width = hidden_states.shape

    def split_heads(x):
        return x.view(batch, length, self.num_heads, -1).transpose(1, 2)

    query, key, value = (
        split_heads(projection(hidden_states))
        for projection in (self.q_proj, self.k_proj, self.v_proj)
    )
    # The bias comes as [batch * heads, time, time], batch-major.
    mask = gated_position_bias.view(batch, self.num_heads, length, length)
    if attention_mask is not None:
        padded = attention_mask.ne(1)[:, None, None, :]
        mask = mask.masked_fill(padded, float("-inf"))
    context = F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=mask,
        dropout_p=self.dropout if self.training else 0.0,
    )
    context = context.transpose(1, 2).reshape(batch, length, width)
    return self.out_proj(context), None
