"""Utterance pooling and the classification / regression head.

SpeechBrain's ``StatisticsPooling`` adds Gaussian noise in training and is
not used here: pooling is a plain mean over the valid (non-padded) frames.

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch
from torch import nn

from speechbrain_peft.utils.errors import ConfigError


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
    """Masked mean pooling, then ``Linear(d, hidden)-ReLU-Linear(hidden, n)``,
    or a single ``Linear(d, n)`` with ``hidden_size`` None: the head that
    transformers' stock ``*ForSequenceClassification`` classes can hold.

    Arguments
    ---------
    input_size : int
        Feature width ``d``.
    n_outputs : int
        Classes (categorical) or 3 (arousal, valence, dominance).
    hidden_size : int or None
        Width of the hidden layer (256 in the paper); None for a linear
        head.
    dropout : float
        Dropout on the pooled features.

    Example
    -------
    >>> head = EmotionHead(8, 4)
    >>> head(torch.randn(2, 10, 8), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 4])
    >>> EmotionHead(8, 4, hidden_size=None).mlp
    Sequential(
      (0): Dropout(p=0.0, inplace=False)
      (1): Linear(in_features=8, out_features=4, bias=True)
    )
    """

    def __init__(self, input_size, n_outputs, hidden_size=256, dropout=0.0):
        super().__init__()
        self.init_kwargs = {
            "input_size": input_size,
            "n_outputs": n_outputs,
            "hidden_size": hidden_size,
            "dropout": dropout,
        }
        hidden = (
            []
            if hidden_size is None
            else [nn.Linear(input_size, hidden_size), nn.ReLU()]
        )
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            *hidden,
            nn.Linear(hidden_size or input_size, n_outputs),
        )

    # Nothing trains before the (linear, parameter-free) pooling, so a
    # feature cache may store pooled vectors (see feature_cache).
    pools_first = True

    @staticmethod
    def pool(feats, lengths):
        """The head's pooling: the mean over the valid frames."""
        return masked_mean(feats, lengths)

    def forward(self, feats, lengths=None):
        """Utterance-level outputs (logits or dimension values) of frames
        ``[batch, frames, d]`` with their relative lengths, or of pooled
        vectors ``[batch, d]`` (``lengths`` None)."""
        if lengths is not None:
            feats = self.pool(feats, lengths)
        return self.mlp(feats)

    @property
    def output_layer(self):
        """The last linear layer: one row per class or dimension."""
        return self.mlp[-1]

    @property
    def is_linear(self):
        """Whether the head is one linear map of the pooled features."""
        return self.init_kwargs["hidden_size"] is None

    @torch.no_grad()
    def load_stage_one(
        self, weights, source_labels=None, target_labels=None, label_map=None
    ):
        """Load a stage-one head's weights into this (stage-two) head.

        Everything but the output layer is loaded as is. The output layer
        is loaded whole for a dimensional task (``source_labels`` None);
        for a categorical one the row of each class ``label_map`` reaches
        is the stage-one row of its source class, and the other rows keep
        their fresh initialisation.

        Arguments
        ---------
        weights : dict
            The stage-one head's state dict.
        source_labels, target_labels : list of str, optional
            Stage one's and this head's labels, in output order.
        label_map : dict, optional
            Stage-one label -> this head's label.

        Example
        -------
        >>> one = EmotionHead(4, 2, hidden_size=3)
        >>> two = EmotionHead(4, 3, hidden_size=3)
        >>> two.load_stage_one(one.state_dict(), ["a", "b"], ["b", "x", "a"],
        ...                    {"a": "a", "b": "b"})
        >>> torch.equal(two.output_layer.weight[2], one.output_layer.weight[0])
        True
        """
        prefix = f"mlp.{len(self.mlp) - 1}."
        hidden = {k: v for k, v in weights.items() if not k.startswith(prefix)}
        self.load_state_dict(hidden, strict=False)
        output = {
            k.removeprefix(prefix): v
            for k, v in weights.items()
            if k.startswith(prefix)
        }
        if source_labels is None:
            self.output_layer.load_state_dict(output)
            return
        unknown = sorted(set(label_map) - set(source_labels))
        unknown += sorted(set(label_map.values()) - set(target_labels))
        if unknown:
            raise ConfigError(
                f"label_map names {unknown}, which are not in the stage-one "
                f"labels {source_labels} or this run's labels {target_labels}"
            )
        for source, target in label_map.items():
            row = source_labels.index(source)
            self.output_layer.weight[target_labels.index(target)] = output[
                "weight"
            ][row]
            self.output_layer.bias[target_labels.index(target)] = output[
                "bias"
            ][row]
