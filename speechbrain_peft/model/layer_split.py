"""A transformers speech encoder (WavLM, HuBERT, wav2vec 2.0) in two parts,
split at one of its layers: the lower part (CNN front-end, projection,
positional convolution and the layers below the split) up to the input of
the split layer, and the layers from there on. An encoder whose adaptors
all sit at or above the split gives the same lower part every epoch; the
lower-layer cache (:mod:`speechbrain_peft.training.feature_cache`) stores it and
runs only the upper part.

The hidden states are transformers' own: state ``i`` is the input of layer
``i`` and state ``L`` the output of the last layer (before the final layer
norm of the stable-layer-norm encoders, the large checkpoints, which only
the last hidden state gets).

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch
from transformers.masking_utils import create_bidirectional_mask


class _SplitLayerReached(Exception):
    """Raised at the input of the split layer: the lower part is done."""


def lower_part(model, wav, attention_mask, split):
    """The inputs of layers ``0 .. split``: everything below ``split``.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        A WavLM, HuBERT or wav2vec 2.0 base model.
    wav : torch.Tensor
        ``[batch, samples]`` model input.
    attention_mask : torch.Tensor
        ``[batch, samples]`` mask of the valid samples.
    split : int
        The first layer of the upper part.

    Returns
    -------
    torch.Tensor
        ``[split + 1, batch, frames, dim]``.

    Example
    -------
    >>> from transformers import WavLMConfig, WavLMModel
    >>> config = WavLMConfig(hidden_size=16, num_attention_heads=2,
    ...     num_hidden_layers=3, intermediate_size=8, conv_dim=(8,),
    ...     conv_stride=(5,), conv_kernel=(10,))
    >>> model = WavLMModel(config).eval()
    >>> wav, mask = torch.randn(2, 800), torch.ones(2, 800, dtype=torch.long)
    >>> states = model(wav, attention_mask=mask,
    ...                output_hidden_states=True).hidden_states
    >>> lower = lower_part(model, wav, mask, split=2)
    >>> lower.shape, torch.equal(lower[2], states[2])
    (torch.Size([3, 2, 159, 16]), True)
    """
    layers = model.encoder.layers
    inputs = []

    def record(module, args, kwargs):
        inputs.append(args[0] if args else kwargs["hidden_states"])
        if module is layers[split]:
            raise _SplitLayerReached

    # Prepended: the input as transformers hands it over, before any
    # adaptor's own hook on the layer.
    handles = [
        layer.register_forward_pre_hook(record, prepend=True, with_kwargs=True)
        for layer in layers[: split + 1]
    ]
    try:
        model(wav, attention_mask=attention_mask)
    except _SplitLayerReached:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(inputs)


def upper_part(model, hidden, frame_mask, split):
    """Run layers ``split ..`` on the input of layer ``split``.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The model :func:`lower_part` ran.
    hidden : torch.Tensor
        ``[batch, frames, dim]``, the input of layer ``split``.
    frame_mask : torch.Tensor
        ``[batch, frames]`` boolean mask of the valid frames.
    split : int
        The first layer to run.

    Returns
    -------
    outputs : list of torch.Tensor
        The output of each layer from ``split`` on: hidden states
        ``split + 1 .. L``.
    last_hidden_state : torch.Tensor
        The model's ``last_hidden_state``.

    Example
    -------
    >>> from transformers import HubertConfig, HubertModel
    >>> config = HubertConfig(hidden_size=16, num_attention_heads=2,
    ...     num_hidden_layers=3, intermediate_size=8, conv_dim=(8,),
    ...     conv_stride=(5,), conv_kernel=(10,), do_stable_layer_norm=True,
    ...     feat_extract_norm="layer")
    >>> model = HubertModel(config).eval()
    >>> wav, mask = torch.randn(2, 800), torch.ones(2, 800, dtype=torch.long)
    >>> out = model(wav, attention_mask=mask, output_hidden_states=True)
    >>> lower = lower_part(model, wav, mask, split=1)
    >>> outputs, last = upper_part(model, lower[-1], mask[:, :159].bool(), 1)
    >>> torch.allclose(outputs[-1], out.hidden_states[-1], atol=1e-6)
    True
    >>> torch.allclose(last, out.last_hidden_state, atol=1e-6)
    True
    """
    layers = model.encoder.layers
    outputs = []
    if model.config.model_type == "wavlm":
        # Layer 0 computes the relative position bias every layer shares.
        position_bias = (
            None if split == 0 else _wavlm_position_bias(model, hidden)
        )
        for index in range(split, len(layers)):
            hidden, position_bias = layers[index](
                hidden,
                attention_mask=frame_mask,
                position_bias=position_bias,
                index=index,
            )
            outputs.append(hidden)
    else:
        mask = create_bidirectional_mask(
            config=model.config, inputs_embeds=hidden, attention_mask=frame_mask
        )
        for layer in layers[split:]:
            hidden = layer(hidden, attention_mask=mask)
            outputs.append(hidden)
    if model.config.do_stable_layer_norm:
        hidden = model.encoder.layer_norm(hidden)
    return outputs, hidden


def _wavlm_position_bias(model, hidden):
    """WavLM layer 0's relative position bias for ``hidden``'s batch and
    length, ``[batch * heads, frames, frames]``, as its attention builds
    it."""
    attention = model.encoder.layers[0].attention
    batch, frames = hidden.shape[:2]
    bias = attention.compute_bias(frames, frames)
    return bias.unsqueeze(0).repeat(batch, 1, 1, 1).view(-1, frames, frames)
