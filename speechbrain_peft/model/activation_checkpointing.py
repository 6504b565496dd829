"""Activation checkpointing of a transformers speech encoder's layers:
recompute a layer's activations in the backward instead of keeping them.

Two modes:

* ``full``: keep only each layer's input and recompute the whole layer.
  Least memory; the recompute costs one more forward of every layer.
* ``selective``: also keep the outputs of the two feed-forward
  projections (hidden -> intermediate -> hidden), which hold two thirds of
  a layer's matrix-product work, and the dropout masks the forward drew,
  at one byte per element; recompute the rest (attention, layer norms,
  activation). On CPU, dropout draws its masks with ``bernoulli_``, which
  costs about as much as the matrix products a recompute saves; on GPU
  dropout is a fused kernel and this path is not taken. On a base WavLM
  with LoRA: see ``benchmarks/RESULTS.md``, training step.

Both use PyTorch's non-reentrant checkpoint through transformers, so
hooks and adaptors behave as in the plain forward, and the recompute uses
the forward's dropout masks (``full`` replays the random state,
``selective`` keeps the masks).

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import functools

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.checkpoint import (
    CheckpointPolicy,
    create_selective_checkpoint_contexts,
)

from speechbrain_peft.utils.errors import ConfigError

MODES = ("full", "selective")

_MATRIX_PRODUCTS = (torch.ops.aten.mm.default, torch.ops.aten.addmm.default)
# How CPU dropout draws its masks: in place, so no checkpoint policy can
# keep them.
_IN_PLACE_DRAWS = (
    torch.ops.aten.bernoulli_.float,
    torch.ops.aten.bernoulli_.Tensor,
)


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


class _KeepDraws(TorchDispatchMode):
    """Appends what each in-place ``bernoulli_`` drew to ``draws``, as
    ``bool`` (the draws are 0 or 1)."""

    def __init__(self, draws):
        super().__init__()
        self.draws = draws

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in _IN_PLACE_DRAWS:
            self.draws.append(out.bool())
        return out


class _ReplayDraws(TorchDispatchMode):
    """Fills each in-place ``bernoulli_`` with the next of ``draws``, in
    the order :class:`_KeepDraws` kept them, instead of drawing."""

    def __init__(self, draws):
        super().__init__()
        self.draws = draws

    def __enter__(self):
        self.next_draw = iter(self.draws)
        return super().__enter__()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _IN_PLACE_DRAWS:
            return args[0].copy_(next(self.next_draw))
        return func(*args, **(kwargs or {}))


class _Nested:
    """Enters ``contexts`` in order and leaves them in reverse; unlike a
    generator-based context manager, it can be entered again."""

    def __init__(self, *contexts):
        self.contexts = contexts

    def __enter__(self):
        self.stack = contextlib.ExitStack()
        for context in self.contexts:
            self.stack.enter_context(context)

    def __exit__(self, *exc_info):
        return self.stack.__exit__(*exc_info)


def keeping_draws(policy):
    """``context_fn`` for a non-reentrant checkpoint: selective
    checkpointing with ``policy`` whose recompute reuses the forward's
    dropout masks instead of drawing them again.

    Example
    -------
    >>> from torch.utils.checkpoint import checkpoint
    >>> drop = torch.nn.Sequential(torch.nn.Linear(4, 4),
    ...                            torch.nn.Dropout(0.5))
    >>> x = torch.randn(3, 4, requires_grad=True)
    >>> _ = torch.manual_seed(0)
    >>> y = checkpoint(drop, x, use_reentrant=False,
    ...                context_fn=lambda: keeping_draws(
    ...                    feed_forward_policy(4, 4)))
    >>> y.sum().backward()
    >>> _ = torch.manual_seed(0)
    >>> torch.allclose(x.grad, torch.func.grad(lambda v: drop(v).sum())(x))
    True
    """
    forward, recompute = create_selective_checkpoint_contexts(policy)
    draws = []
    return (
        _Nested(forward, _KeepDraws(draws)),
        _Nested(recompute, _ReplayDraws(draws)),
    )


def enable_activation_checkpointing(model, mode):
    """Checkpoint every layer of the transformers ``model`` in ``mode``
    (see :data:`MODES`)."""
    kwargs = {"use_reentrant": False}
    if mode == "selective":
        policy = feed_forward_policy(
            model.config.hidden_size, model.config.intermediate_size
        )
        kwargs["context_fn"] = functools.partial(keeping_draws, policy)
    # transformers 5.24 renamed it; the old name warns until v6.
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs=kwargs
        )
    else:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=kwargs
        )
