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
# pytest-xdist workers share the cores rather than each taking all of
# them; the recipes they start in fresh interpreters get the same count, so
# a run in-process and its rerun in a subprocess reduce in the same order.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    _threads = max(1, (os.cpu_count() or 1) // _workers)
    os.environ["OMP_NUM_THREADS"] = str(_threads)
    torch.set_num_threads(_threads)

from speechbrain_peft.corpora.crema_d import (  # noqa: E402
    make_synthetic as make_crema_d,
)
from speechbrain_peft.corpora.iemocap import (  # noqa: E402
    make_synthetic as make_iemocap,
)
from speechbrain_peft.corpora.msp_podcast import (  # noqa: E402
    make_synthetic as make_msp_podcast,
)
from speechbrain_peft.synthetic.encoders import (  # noqa: E402
    KINDS,
    save_tiny_encoders,
)


def pytest_collection_modifyitems(items):
    """Start the long end-to-end runs first: xdist (``--dist load
    --maxschedchunk 1``) hands tests out one or two at a time in this
    order, so the long ones spread over the workers and the short ones
    fill the gaps."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


@pytest.fixture(scope="session")
def small_corpora(tmp_path_factory):
    """Small synthetic corpora: enough for every split to have data."""
    root = tmp_path_factory.mktemp("corpora")
    return {
        "IEMOCAP": make_iemocap(root / "IEMOCAP_full_release", 4)["root"],
        "MSP-Podcast": make_msp_podcast(
            root / "MSP-Podcast", utts_per_speaker=3, n_speakers=8, n_unknown=3
        )["root"],
        "CREMA-D": make_crema_d(
            root / "CREMA-D", n_actors=6, sentences=("IEO",)
        )["root"],
    }
