"""Apply a Hugging Face ``peft`` config (IA3, LoHa, LoKr, LoRA, ...) to an
encoder, refusing the combinations that would silently do nothing.

Authors
 * speechbrain-peft-ser developers 2026
"""

from peft import get_peft_config, inject_adapter_in_model
from peft.tuners.tuners_utils import check_target_module_exists

# transformers' WavLM attention passes these weights to
# F.multi_head_attention_forward without calling the modules, so any peft
# tuner that wraps their forward() has no effect there.
WAVLM_WEIGHT_READ = ("q_proj", "k_proj", "v_proj", "out_proj")


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
    for name in targeted:
        parent = model.get_submodule(name.rpartition(".")[0])
        if "WavLMAttention" in type(parent).__name__ and name.endswith(
            WAVLM_WEIGHT_READ
        ):
            raise ValueError(
                f"peft {config.peft_type} on {name} would have no effect: "
                "transformers' WavLM attention reads that weight directly "
                "instead of calling the module. Use the built-in `lora` "
                "adaptor (adapters: [lora]) for WavLM attention, or target "
                "other modules such as feed_forward.intermediate_dense."
            )
    return inject_adapter_in_model(config, model)
