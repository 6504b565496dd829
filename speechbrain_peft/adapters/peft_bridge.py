"""Apply a Hugging Face ``peft`` config (IA3, LoHa, LoKr, LoRA, ...) to an
encoder. peft wraps the target modules' ``forward``, which WavLM's attention
never calls: a WavLM attention holding a target is rerouted through its
projection modules (:mod:`speechbrain_peft.adapters.wavlm_attention`) so the
tuner acts there too.

Authors
 * speechbrain-peft-ser developers 2026
"""

from peft import get_peft_config, inject_adapter_in_model
from peft.tuners.tuners_utils import check_target_module_exists

from speechbrain_peft.adapters.wavlm_attention import (
    call_projections,
    is_wavlm_attention,
)


def apply_peft_config(model, config):
    """Inject the tuner described by ``config`` into ``model``.

    Arguments
    ---------
    model : torch.nn.Module
        The encoder (modified in place). Base parameters must already be
        frozen; the injected tuner parameters are trainable.
    config : peft.PeftConfig or dict
        A peft config, or its dict form (e.g. ``{"peft_type": "IA3",
        "target_modules": ["feed_forward.output_dense"],
        "feedforward_modules": ["feed_forward.output_dense"]}``).

    Returns
    -------
    torch.nn.Module
        The same model, with the tuner injected.
    """
    if isinstance(config, dict):
        config = get_peft_config(dict(config))
    targeted = [
        name
        for name, _ in model.named_modules()
        if name and check_target_module_exists(config, name)
    ]
    if not targeted:
        raise ValueError(
            f"peft {config.peft_type} targets {config.target_modules} match "
            f"no module of {type(model).__name__}"
        )
    model = inject_adapter_in_model(config, model)
    for name in targeted:
        parent = model.get_submodule(name.rpartition(".")[0])
        if is_wavlm_attention(parent):
            call_projections(parent)
    return model
