"""Runs made without training: a run artifact whose trained tensors are
random, to load, export, infer with and benchmark.

Authors
 * speechbrain-peft-ser developers 2026
"""

import torch

from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.runs.artifact import save_run_artifact


def randomize_trainables(module, seed=0):
    """Give every trainable tensor random values (LoRA B starts at zero,
    which would make merging trivially exact)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.requires_grad:
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))


def save_random_run(
    run_dir,
    source,
    adapters,
    label_set,
    task="categorical",
    seed=0,
    max_duration=10.0,
    head_hidden_size=256,
):
    """Save a run artifact with random trained tensors.

    Arguments
    ---------
    run_dir : pathlib.Path
        Folder to write ``run.json`` and ``adapters.safetensors`` to.
    source : str or pathlib.Path
        The encoder (a ``save_pretrained`` folder).
    adapters : dict or list
        The lobe's adaptors (see
        :class:`~speechbrain_peft.model.encoder.PEFTEncoder`).
    label_set : list of str
        The classes of a categorical run.
    task : str
        ``categorical`` or ``dimensional`` (on a 1-5 scale).
    seed : int
        Seed of the random tensors.
    max_duration : float
        The run's training crop, in seconds.
    head_hidden_size : int or None
        The head's hidden layer (None: a linear head).

    Returns
    -------
    pathlib.Path
        ``run_dir``.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from speechbrain_peft.inference import EmotionRecognizer
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> root = Path(tempfile.mkdtemp())
    >>> source = save_tiny_encoder("hubert", root / "enc")
    >>> run = save_random_run(root / "run", source, ["lora"], ["neu", "ang"])
    >>> EmotionRecognizer.from_run(run).encoder.adapters
    ['lora']
    """
    encoder = PEFTEncoder(str(source), adapters=adapters)
    categorical = task == "categorical"
    head = EmotionHead(
        encoder.output_size,
        len(label_set) if categorical else 3,
        hidden_size=head_hidden_size,
    )
    randomize_trainables(torch.nn.ModuleDict({"e": encoder, "h": head}), seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_run_artifact(
        run_dir,
        encoder,
        head,
        task=task,
        label_set=list(label_set) if categorical else None,
        dimension_scale=[1.0, 5.0],
        sample_rate=16000,
        max_duration=max_duration,
        run_info={"config": "+".join(adapters)},
    )
    return run_dir
