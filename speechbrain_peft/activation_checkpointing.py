"""Activation checkpointing of a transformers speech encoder's layers:
recompute a layer's activations in the backward instead of keeping them.

Two modes:

* ``full``: keep only each layer's input and recompute the whole layer.
  Least memory; the recompute costs one more forward of every layer.
* ``selective``: also keep the outputs of the two feed-forward
  projections (hidden -> intermediate -> hidden), which hold two thirds of
  a layer's matrix-product work, and recompute the rest (attention, layer
  norms, activation, dropout). On a base WavLM with LoRA, three quarters
  of full checkpointing's memory saving for a little less time: the
  dropout masks it still regenerates are costly on CPU
  (``benchmarks/RESULTS.md``, training step).

Both use PyTorch's non-reentrant checkpoint through transformers, so
hooks, adaptors and dropout masks (the random state is replayed) behave as
in the plain forward.

Authors
 * speechbrain-peft-ser developers 2026
"""

import functools

import torch
from torch.utils.checkpoint import (
    CheckpointPolicy,
    create_selective_checkpoint_contexts,
)

from speechbrain_peft.errors import ConfigError

MODES = ("full", "selective")

_MATRIX_PRODUCTS = (torch.ops.aten.mm.default, torch.ops.aten.addmm.default)


def checkpointing_mode(value):
    """The mode a YAML value asks for: ``None`` (off), ``full`` or
    ``selective``; ``True`` means ``full``.

    Example
    -------
    >>> checkpointing_mode(True), checkpointing_mode("selective")
    ('full', 'selective')
    >>> checkpointing_mode(False) is None
    True
    """
    if value is False or value is None:
        return None
    if value is True:
        return "full"
    if value not in MODES:
        raise ConfigError(
            f"activation_checkpointing: {value!r} is not a mode; use False, "
            f"{' or '.join(MODES)} (True means full)"
        )
    return value


def feed_forward_policy(hidden_size, intermediate_size):
    """A selective-checkpointing policy that keeps the output of every
    matrix product of a ``hidden x intermediate`` or ``intermediate x
    hidden`` weight (the feed-forward projections) and recomputes all else.

    Example
    -------
    >>> from torch.utils.checkpoint import checkpoint
    >>> ffn = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(),
    ...                           torch.nn.Linear(8, 4))
    >>> context = functools.partial(create_selective_checkpoint_contexts,
    ...                             feed_forward_policy(4, 8))
    >>> x = torch.randn(3, 4, requires_grad=True)
    >>> y = checkpoint(ffn, x, use_reentrant=False, context_fn=context)
    >>> y.sum().backward()
    >>> torch.allclose(x.grad, torch.func.grad(lambda v: ffn(v).sum())(x))
    True
    """
    shapes = {
        (hidden_size, intermediate_size),
        (intermediate_size, hidden_size),
    }

    def policy(ctx, op, *args, **kwargs):
        if op in _MATRIX_PRODUCTS and tuple(args[-1].shape) in shapes:
            return CheckpointPolicy.MUST_SAVE
        return CheckpointPolicy.PREFER_RECOMPUTE

    return policy


def enable_activation_checkpointing(model, mode):
    """Checkpoint every layer of the transformers ``model`` in ``mode``
    (see :data:`MODES`)."""
    kwargs = {"use_reentrant": False}
    if mode == "selective":
        policy = feed_forward_policy(
            model.config.hidden_size, model.config.intermediate_size
        )
        kwargs["context_fn"] = functools.partial(
            create_selective_checkpoint_contexts, policy
        )
    # transformers 5.24 renamed it; the old name warns until v6.
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs=kwargs
        )
    else:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=kwargs
        )
