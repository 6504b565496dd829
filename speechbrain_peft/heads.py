"""Utterance pooling and the classification / regression head.

SpeechBrain's ``StatisticsPooling`` adds Gaussian noise in training and is
not used here: pooling is a plain mean over the valid (non-padded) frames.

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch
from torch import nn


def masked_mean(feats, lengths):
    """Mean over the valid frames of each sequence.

    Arguments
    ---------
    feats : torch.Tensor
        ``[batch, frames, dim]``.
    lengths : torch.Tensor
        Relative lengths in ``(0, 1]``.

    Returns
    -------
    torch.Tensor
        ``[batch, dim]``.

    Example
    -------
    >>> x = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> masked_mean(x, torch.tensor([2 / 3]))
    tensor([[2.]])
    """
    n_valid = torch.round(lengths * feats.shape[1]).clamp(min=1)
    positions = torch.arange(feats.shape[1], device=feats.device)
    mask = (positions[None, :] < n_valid[:, None]).to(feats.dtype)
    summed = (feats * mask.unsqueeze(-1)).sum(dim=1)
    return summed / n_valid.unsqueeze(-1).to(feats.dtype)


class EmotionHead(nn.Module):
    """Masked mean pooling, then ``Linear(d, hidden)-ReLU-Linear(hidden, n)``.

    Arguments
    ---------
    input_size : int
        Feature width ``d``.
    n_outputs : int
        Classes (categorical) or 3 (arousal, valence, dominance).
    hidden_size : int
        Width of the hidden layer (256 in the paper).
    dropout : float
        Dropout on the pooled features.

    Example
    -------
    >>> head = EmotionHead(8, 4)
    >>> head(torch.randn(2, 10, 8), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 4])
    """

    def __init__(self, input_size, n_outputs, hidden_size=256, dropout=0.0):
        super().__init__()
        self.init_kwargs = {
            "input_size": input_size,
            "n_outputs": n_outputs,
            "hidden_size": hidden_size,
            "dropout": dropout,
        }
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(input_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, n_outputs),
        )

    def forward(self, feats, lengths):
        """Utterance-level outputs (logits or dimension values)."""
        return self.mlp(masked_mean(feats, lengths))
