"""Tiny random-init speech encoders saved exactly like hub models.

Tests, the demo and benchmarks load these with the same code path a user's
``microsoft/wavlm-large`` takes (``save_pretrained`` folders with a
feature-extractor config), without any download.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
from pathlib import Path

import torch
from transformers import (
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)

KINDS = {
    "wavlm": (WavLMConfig, WavLMModel),
    "hubert": (HubertConfig, HubertModel),
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
}

# The real front-end geometry (7 convolutions, 400-sample receptive field,
# 320-sample hop) with narrow channels, so length handling is realistic.
# 64 channels is about the narrowest whose random features still let the
# synthetic corpora's emotion cues through to a small head.
TINY = dict(
    conv_dim=(64,) * 7,
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    num_attention_heads=2,
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    # Hub checkpoints ship with LayerDrop on; keep it so the lobe's override
    # is exercised.
    layerdrop=0.1,
)


def tiny_config(kind, hidden_size=64, num_layers=2, **overrides):
    """A small config of the given encoder family.

    Arguments
    ---------
    kind : str
        ``wavlm``, ``hubert`` or ``wav2vec2``.
    hidden_size : int
        Transformer width.
    num_layers : int
        Number of transformer layers.
    **overrides
        Any other config field.

    Returns
    -------
    transformers.PretrainedConfig

    Example
    -------
    >>> tiny_config("hubert", hidden_size=16).hidden_size
    16
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown encoder kind {kind!r}; choose {list(KINDS)}")
    config_class, _ = KINDS[kind]
    fields = dict(TINY)
    fields.update(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        intermediate_size=2 * hidden_size,
    )
    fields.update(overrides)
    return config_class(**fields)


def save_tiny_encoder(
    kind, out_dir, seed=0, return_attention_mask=True, **config_fields
):
    """Save a random-init encoder and its feature-extractor config.

    Arguments
    ---------
    kind : str
        ``wavlm``, ``hubert`` or ``wav2vec2``.
    out_dir : str or pathlib.Path
        Folder to write (``config.json``, weights, preprocessor config).
    seed : int
        Seed of the random init, so the same call gives the same weights.
    return_attention_mask : bool
        The feature extractor's setting: False as in the base checkpoints
        (trained without a padding mask), which with
        ``feat_extract_norm="group"`` gives a base-like encoder.
    **config_fields
        Passed to :func:`tiny_config`.

    Returns
    -------
    pathlib.Path
        ``out_dir``, usable as ``encoder_source``.

    Example
    -------
    >>> import tempfile
    >>> path = save_tiny_encoder("wav2vec2", tempfile.mkdtemp())
    >>> sorted(p.name for p in path.iterdir())[:2]
    ['config.json', 'model.safetensors']
    """
    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists():
        return out_dir
    config = tiny_config(kind, **config_fields)
    torch.manual_seed(seed)
    model = KINDS[kind][1](config)
    model.save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=return_attention_mask,
    ).save_pretrained(out_dir)
    return out_dir


def save_tiny_encoders(root, **config_fields):
    """Save one tiny encoder of every family under ``root/<kind>``.

    Arguments
    ---------
    root : str or pathlib.Path
        Parent folder.
    **config_fields
        Passed to :func:`tiny_config`.

    Returns
    -------
    dict
        ``{kind: path}``.
    """
    return {
        kind: save_tiny_encoder(kind, Path(root) / kind, **config_fields)
        for kind in KINDS
    }


def main(argv=None):
    """Command line: ``python -m speechbrain_peft.synthetic.encoders OUT``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="folder to write <kind>/ models into")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=2)
    args = parser.parse_args(argv)
    paths = save_tiny_encoders(
        args.out_dir, hidden_size=args.hidden_size, num_layers=args.num_layers
    )
    for kind, path in paths.items():
        print(f"{kind}: {path}")


if __name__ == "__main__":
    main()
