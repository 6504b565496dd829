"""Losses for dimensional emotion regression, masked for missing targets.

Both losses take ``[batch, dims]`` predictions and targets; a NaN target marks
a missing value and is left out of its dimension (corpora do not always rate
every dimension). Each dimension's loss is computed over its valid entries
and the result is the mean over the dimensions that have at least one.

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch


def _masked(predictions, targets):
    """``[N, D]`` predictions, NaN-free targets, the mask and counts."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions {tuple(predictions.shape)} and targets "
            f"{tuple(targets.shape)} differ in shape"
        )
    # At least float32: under fp16 autocast the moments (and eps) underflow.
    dtype = torch.promote_types(predictions.dtype, torch.float32)
    predictions, targets = predictions.to(dtype), targets.to(dtype)
    if predictions.dim() == 1:
        predictions, targets = predictions[:, None], targets[:, None]
    mask = ~torch.isnan(targets)
    targets = torch.where(mask, targets, torch.zeros_like(targets))
    mask = mask.to(predictions.dtype)
    return predictions, targets, mask, mask.sum(dim=0)


def _mean_over_valid_dims(per_dim, counts, predictions):
    """Mean of ``per_dim`` over dimensions with data (0 if there are none)."""
    has_data = counts > 0
    if not has_data.any():
        # Keep the graph so that ``backward()`` still works on empty batches.
        return predictions.sum() * 0.0
    return per_dim[has_data].mean()


def ccc_loss(predictions, targets, eps=1e-8):
    """Mean over dimensions of ``1 - CCC``, ignoring NaN targets.

    The CCC uses population moments over each dimension's valid entries,
    like :func:`speechbrain_peft.training.metrics.ccc`; ``eps`` is added to the
    denominator so that constant, equal series give a finite loss.

    Arguments
    ---------
    predictions : torch.Tensor
        ``[N, D]`` (or ``[N]``) predicted values.
    targets : torch.Tensor
        Same shape; NaN marks a missing value.
    eps : float
        Added to the CCC denominator.

    Returns
    -------
    torch.Tensor
        Scalar loss in ``[0, 2]`` (approximately, because of ``eps``), in
        float32 or wider.

    Example
    -------
    >>> target = torch.tensor([[-1.0, 1.0], [0.0, float("nan")], [1.0, -1.0]])
    >>> ccc_loss(target.nan_to_num(5.0), target).item() < 1e-6
    True
    >>> round(ccc_loss(-target.nan_to_num(), target).item(), 4)
    2.0
    """
    predictions, targets, mask, counts = _masked(predictions, targets)
    denom = counts.clamp(min=1)
    mean_p = (predictions * mask).sum(dim=0) / denom
    mean_t = (targets * mask).sum(dim=0) / denom
    centred_p = (predictions - mean_p) * mask
    centred_t = (targets - mean_t) * mask
    var_p = (centred_p**2).sum(dim=0) / denom
    var_t = (centred_t**2).sum(dim=0) / denom
    covariance = (centred_p * centred_t).sum(dim=0) / denom
    concordance = (
        2 * covariance / (var_p + var_t + (mean_p - mean_t) ** 2 + eps)
    )
    return _mean_over_valid_dims(1 - concordance, counts, predictions)


def mse_loss(predictions, targets):
    """Mean over dimensions of the mean squared error, ignoring NaN targets.

    Arguments
    ---------
    predictions : torch.Tensor
        ``[N, D]`` (or ``[N]``) predicted values.
    targets : torch.Tensor
        Same shape; NaN marks a missing value.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> target = torch.tensor([[0.0, 1.0], [1.0, float("nan")]])
    >>> mse_loss(torch.tensor([[1.0, 3.0], [1.0, 9.0]]), target)
    tensor(2.2500)
    """
    predictions, targets, mask, counts = _masked(predictions, targets)
    squared = ((predictions - targets) * mask) ** 2
    per_dim = squared.sum(dim=0) / counts.clamp(min=1)
    return _mean_over_valid_dims(per_dim, counts, predictions)
