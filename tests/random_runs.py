"""Runs built without training: a run artifact whose trained tensors are
random, for tests of loading, exporting and inference.

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch

from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.runs.artifact import save_run_artifact

LABELS = ["neu", "hap", "ang", "sad"]
# Shorter than most synthetic utterances (1-4 s): evaluation crops them,
# so reproducing its predictions also checks the long-file rule.
MAX_DURATION = 2.0


def randomize_trainables(module, seed=0):
    """Give every trainable tensor random values (LoRA B starts at zero,
    which would make merging trivially exact)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.requires_grad:
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))


def make_run(run_dir, source, adapters, task="categorical", seed=0):
    """A run artifact with random trained tensors (no training)."""
    encoder = PEFTEncoder(str(source), adapters=adapters)
    head = EmotionHead(
        encoder.output_size, len(LABELS) if task == "categorical" else 3
    )
    randomize_trainables(torch.nn.ModuleDict({"e": encoder, "h": head}), seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_run_artifact(
        run_dir,
        encoder,
        head,
        task=task,
        label_set=LABELS if task == "categorical" else None,
        dimension_scale=[1.0, 5.0],
        sample_rate=16000,
        max_duration=MAX_DURATION,
        run_info={"config": "+".join(adapters)},
    )
    return run_dir
