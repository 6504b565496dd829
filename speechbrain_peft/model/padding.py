"""What keeps padding out of a file's features: the mask of its valid
samples, normalisation over them only, and a group-norm front-end that
normalises each row over its valid frames.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib

import torch

from speechbrain_peft.utils.errors import ConfigTypeError


def valid_sample_mask(wav, wav_lens):
    """Boolean ``[batch, samples]`` mask of the non-padded samples.

    Arguments
    ---------
    wav : torch.Tensor
        ``[batch, samples]`` padded waveforms.
    wav_lens : torch.Tensor
        Relative lengths in ``(0, 1]`` (SpeechBrain convention).

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> valid_sample_mask(torch.zeros(2, 4), torch.tensor([1.0, 0.5]))
    tensor([[ True,  True,  True,  True],
            [ True,  True, False, False]])
    """
    n_valid = torch.round(wav_lens * wav.shape[1]).long()
    positions = torch.arange(wav.shape[1], device=wav.device)
    return positions[None, :] < n_valid[:, None]


def normalize_valid(wav, mask, eps=1e-7):
    """Zero-mean unit-variance per utterance over its valid samples, as the
    HF feature extractor does on unpadded audio; padding stays zero.

    Example
    -------
    >>> wav = torch.tensor([[1.0, 3.0, 0.0]])
    >>> normalize_valid(wav, torch.tensor([[True, True, False]]))
    tensor([[-1.,  1.,  0.]])
    """
    weights = mask.to(wav.dtype)
    n = weights.sum(dim=1, keepdim=True).clamp(min=1)
    mean = (wav * weights).sum(dim=1, keepdim=True) / n
    var = (((wav - mean) * weights) ** 2).sum(dim=1, keepdim=True) / n
    normalized = (wav - mean) / torch.sqrt(var + eps)
    return torch.where(mask, normalized, torch.zeros_like(wav))


def masked_group_norm(norm, frames, valid):
    """``norm`` (a ``GroupNorm`` with one channel per group) over the valid
    frames of each row only: what it gives the row's file alone.

    Arguments
    ---------
    norm : torch.nn.GroupNorm
        The front-end's normalisation (``num_groups == num_channels``).
    frames : torch.Tensor
        ``[batch, channels, frames]``.
    valid : torch.Tensor
        ``[batch, frames]`` boolean mask of the valid frames.

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> norm = torch.nn.GroupNorm(3, 3)
    >>> alone = torch.randn(1, 3, 5)
    >>> padded = torch.cat([alone, torch.randn(1, 3, 2)], dim=2)
    >>> valid = torch.arange(7)[None] < 5
    >>> torch.allclose(
    ...     masked_group_norm(norm, padded, valid)[..., :5], norm(alone),
    ...     atol=1e-6)
    True
    """
    weights = valid[:, None, :].to(frames.dtype)
    n = weights.sum(dim=2, keepdim=True).clamp(min=1)
    mean = (frames * weights).sum(dim=2, keepdim=True) / n
    var = (((frames - mean) * weights) ** 2).sum(dim=2, keepdim=True) / n
    normalized = (frames - mean) / torch.sqrt(var + norm.eps)
    return normalized * norm.weight[:, None] + norm.bias[:, None]


@contextlib.contextmanager
def masked_front_end(cnn, n_samples):
    """Make a group-norm convolutional front-end (wav2vec 2.0's base
    checkpoints) give each row of a padded batch the features of its file
    alone: the first layer's group norm, the only step that mixes frames
    over the whole row, sees the row's valid frames only. The unpadded
    convolutions need nothing: a valid output frame only reads valid
    samples. The batch stays one tensor (a traced or ONNX graph keeps its
    dynamic batch and length).

    Arguments
    ---------
    cnn : torch.nn.Module
        The model's ``feature_extractor`` (``conv_layers[0]`` holds the
        convolution ``conv`` and the group norm ``layer_norm``).
    n_samples : torch.Tensor
        Valid samples per row.
    """
    first = cnn.conv_layers[0]
    norm = first.layer_norm
    if norm.num_groups != norm.num_channels:
        raise ConfigTypeError(
            f"The front-end's GroupNorm has {norm.num_groups} groups for "
            f"{norm.num_channels} channels; only one channel per group (as "
            "in wav2vec 2.0 checkpoints) is supported"
        )
    kernel, stride = first.conv.kernel_size[0], first.conv.stride[0]
    n_frames = torch.div(n_samples - kernel, stride, rounding_mode="floor") + 1

    def forward(frames):
        positions = torch.arange(frames.shape[2], device=frames.device)
        valid = positions[None, :] < n_frames[:, None]
        return masked_group_norm(norm, frames, valid)

    norm.forward = forward
    try:
        yield
    finally:
        del norm.forward
