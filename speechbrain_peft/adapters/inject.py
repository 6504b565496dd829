"""Where adaptors go in a transformers speech encoder (wav2vec 2.0, HuBERT,
WavLM): its transformer layers, and adaptors attached to a host module.

An attached adaptor is a child module of its host (the feed-forward block,
the encoder layer) plus a forward hook that rewrites the host's output. A
hook, not a wrapper module, because transformers 5 records
``hidden_states`` with its own forward hooks on the encoder-layer
instances: a wrapper around a layer would let the unadapted output reach
the weighted sum. Our hooks are prepended so they run before any hook
transformers installs.

Authors
 * speechbrain-peft-ser developers 2026
"""

from torch import nn

from speechbrain_peft.utils.errors import ConfigError, ConfigTypeError

# The non-linearities an adaptor's bottleneck may use, by YAML name.
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


def check_activation(name):
    """Refuse an activation that is not in :data:`ACTIVATIONS`.

    Example
    -------
    >>> check_activation("tanh")
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: Unknown activation 'tanh'; ...
    """
    if name not in ACTIVATIONS:
        raise ConfigError(
            f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        )


def encoder_layers(model):
    """The transformer layers of a wav2vec2-family model.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        A ``Wav2Vec2Model``, ``HubertModel`` or ``WavLMModel``.

    Returns
    -------
    torch.nn.ModuleList
    """
    try:
        return model.encoder.layers
    except AttributeError:
        raise ConfigTypeError(
            f"{type(model).__name__} has no encoder.layers; only wav2vec 2.0, "
            "HuBERT and WavLM style encoders are supported"
        ) from None


def select_layers(model, layers=None):
    """``(index, layer)`` pairs for the chosen layer indices.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        The encoder.
    layers : list of int, optional
        Layer indices (negative counts from the top); all when None.

    Returns
    -------
    list of (int, torch.nn.Module)
    """
    all_layers = list(encoder_layers(model))
    if layers is None:
        return list(enumerate(all_layers))
    n = len(all_layers)
    chosen = []
    for index in layers:
        if not -n <= index < n:
            raise ConfigError(
                f"Adaptor layer index {index} is out of range for an encoder "
                f"with {n} layers"
            )
        chosen.append((index % n, all_layers[index]))
    return sorted(set(chosen), key=lambda pair: pair[0])


def _output_hook(attr, takes_input):
    def hook(module, args, output):
        adapter = getattr(module, attr)
        first = output[0] if isinstance(output, tuple) else output
        adapted = adapter(args[0], first) if takes_input else adapter(first)
        if isinstance(output, tuple):
            return (adapted,) + tuple(output[1:])
        return adapted

    return hook


def attach_output_adapter(host, attr, adapter, takes_input=False):
    """Register ``adapter`` as child ``attr`` of ``host`` and apply it to
    the host's output (first element when the output is a tuple).

    Arguments
    ---------
    host : torch.nn.Module
        The module whose output is adapted.
    attr : str
        The child name, which also names the adaptor in state dicts.
    adapter : torch.nn.Module
        Maps the host output to the adapted output, or with
        ``takes_input`` the host's (first) input and output to it.
    takes_input : bool
        Call ``adapter(input, output)`` (e.g. a parallel adapter).
    """
    if hasattr(host, attr):
        raise ValueError(f"{type(host).__name__} already has an {attr}")
    host.add_module(attr, adapter)
    host.register_forward_hook(_output_hook(attr, takes_input), prepend=True)
