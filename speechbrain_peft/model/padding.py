"""What keeps padding out of a file's features: the mask of its valid
samples, normalisation over them only, and a group-norm front-end run file
by file.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib

import torch
from torch import nn


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


@contextlib.contextmanager
def per_file_front_end(cnn, n_samples):
    """Make a convolutional front-end encode each row of a padded batch on
    its own valid samples (its output zero-padded to the batch's frames),
    as it would the file alone.

    Arguments
    ---------
    cnn : torch.nn.Module
        The model's ``feature_extractor`` (called with ``[batch, samples]``,
        returning ``[batch, channels, frames]``).
    n_samples : torch.Tensor
        Valid samples per row.

    Example
    -------
    >>> cnn = torch.nn.Conv1d(1, 2, 4, stride=2)
    >>> cnn.forward = lambda x, conv=cnn.forward: conv(x[:, None] - x.mean())
    >>> wav = torch.cat([torch.randn(1, 10), torch.zeros(1, 10)], dim=1)
    >>> batch = torch.cat([torch.randn(1, 20), wav])
    >>> with per_file_front_end(cnn, torch.tensor([20, 10])):
    ...     frames = cnn(batch)
    >>> torch.allclose(frames[1, :, :4], cnn(wav[:, :10])[0])
    True
    """
    own_forward = cnn.__dict__.get("forward")
    batched = cnn.forward

    def forward(input_values):
        outputs = [
            batched(input_values[row : row + 1, : int(n)])
            for row, n in enumerate(n_samples)
        ]
        frames = max(output.shape[-1] for output in outputs)
        return torch.cat(
            [
                nn.functional.pad(output, (0, frames - output.shape[-1]))
                for output in outputs
            ]
        )

    cnn.forward = forward
    try:
        yield
    finally:
        if own_forward is None:
            del cnn.forward
        else:
            cnn.forward = own_forward
