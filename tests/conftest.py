"""Shared fixtures: everything runs offline on tiny locally built models.

Authors
 * speechbrain-peft-ser developers 2026
"""

import os

import pytest
import torch

# Tests must never reach a model hub; fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from speechbrain_peft.synthetic.encoders import (  # noqa: E402
    KINDS,
    save_tiny_encoders,
)


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory):
    """``{kind: path}`` of tiny random-init WavLM, HuBERT and wav2vec2."""
    return save_tiny_encoders(tmp_path_factory.mktemp("encoders"))


@pytest.fixture(params=sorted(KINDS))
def encoder_kind(request):
    """Each supported encoder family in turn."""
    return request.param


@pytest.fixture
def wav_batch():
    """Two utterances of different lengths, padded, with relative lengths."""
    generator = torch.Generator().manual_seed(0)
    wav = torch.randn(2, 8000, generator=generator)
    wav[1, 5000:] = 0.0
    return wav, torch.tensor([1.0, 5000 / 8000])
