"""A disk cache of frozen-encoder hidden states, for configurations with no
adaptor inside the encoder (``frozen``, ``weighted_sum``): the first epoch
computes and stores each utterance's hidden states, later epochs (and dev
and test evaluation) read them instead of running the encoder.

Enabled from the YAML with ``cache_features: True`` (``cache_dtype:
float16`` halves the disk space). Entries can never be stale:

* the cache folder is named by a fingerprint of the encoder (its source,
  architecture and a hash of every base weight), of the audio reading
  settings (sample rate, ``max_duration``) and of the storage dtype, so
  another encoder or setting uses another folder;
* each utterance's file is named by a hash of its audio file's path, size
  and modification time, so a replaced or edited file, or a manifest that
  points an ID at another file, misses the cache and is recomputed.

Several runs may share one folder (same encoder, same audio settings):
they then share the work.

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from speechbrain_peft.errors import ConfigError
from speechbrain_peft.files import honour_umask

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float16": torch.float16}


def encoder_fingerprint(encoder, **settings):
    """A short hash of everything that determines the encoder's hidden
    states: its configuration, every base weight and ``settings``.

    Arguments
    ---------
    encoder : speechbrain_peft.encoder.PEFTEncoder
        The lobe.
    **settings
        Audio reading settings that change the input (sample rate...).

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    digest = hashlib.sha256()
    described = {**encoder.config_summary, **settings}
    digest.update(json.dumps(described, sort_keys=True, default=str).encode())
    for name, tensor in sorted(encoder.ssl.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class FeatureCache:
    """Hidden states of ``encoder`` per utterance, on disk.

    Arguments
    ---------
    folder : str or pathlib.Path
        Cache root; entries go into a subfolder named by
        :func:`encoder_fingerprint`.
    encoder : speechbrain_peft.encoder.PEFTEncoder
        A lobe with no trainable parameter inside the encoder.
    dtype : str
        ``float32`` or ``float16`` (storage only; features are returned in
        float32).
    **settings
        Audio reading settings, part of the fingerprint.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.encoder import PEFTEncoder
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> tmp = Path(tempfile.mkdtemp())
    >>> encoder = PEFTEncoder(str(save_tiny_encoder("wavlm", tmp / "m")),
    ...                       adapters=["weighted_sum"])
    >>> cache = FeatureCache(tmp / "cache", encoder)
    >>> wav = torch.randn(2, 8000)
    >>> paths = []
    >>> for index in range(2):
    ...     paths.append(str(tmp / f"{index}.wav"))
    ...     _ = Path(paths[-1]).write_bytes(bytes([index]))  # stands in
    >>> first, lens = cache(paths, wav, torch.ones(2))
    >>> again, _ = cache(paths, wav, torch.ones(2))
    >>> cache.computed, cache.read, torch.allclose(first, again, atol=1e-6)
    (2, 2, True)
    """

    def __init__(self, folder, encoder, dtype="float32", **settings):
        if encoder.encoder_trains:
            raise ConfigError(
                "cache_features needs a configuration with no trainable "
                "parameter inside the encoder (frozen, weighted_sum); this "
                f"one has adaptors {encoder.adapters} or "
                "full fine-tuning, whose hidden states change as it trains. "
                "Set cache_features: False"
            )
        if dtype not in DTYPES:
            raise ConfigError(
                f"cache_dtype {dtype!r} is not one of {sorted(DTYPES)}"
            )
        self.encoder = encoder
        self.dtype = DTYPES[dtype]
        # The stored precision changes the features read back: part of the
        # key, so a float32 run never reads float16 entries.
        self.folder = Path(folder) / encoder_fingerprint(
            encoder, cache_dtype=dtype, **settings
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.computed = self.read = 0
        logger.info(
            "Feature cache in %s (%d utterances cached so far)",
            self.folder,
            sum(1 for _ in self.folder.glob("*.safetensors")),
        )

    def entry(self, path):
        """The cache file of the audio file ``path``."""
        stat = os.stat(path)
        key = f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.folder / f"{name}.safetensors"

    def __call__(self, paths, wav, wav_lens):
        """Features and relative lengths, as ``encoder(wav, wav_lens)``.

        Arguments
        ---------
        paths : list of str
            The audio file of each batch row.
        wav, wav_lens : torch.Tensor
            The padded batch read from ``paths``.

        Returns
        -------
        feats : torch.Tensor
        feat_lens : torch.Tensor
        """
        entries = [self.entry(path) for path in paths]
        if not all(entry.is_file() for entry in entries):
            return self._compute(entries, wav, wav_lens)
        self.read += len(entries)
        stored = [load_file(entry)["hidden"] for entry in entries]
        n_frames = torch.tensor([h.shape[1] for h in stored])
        hidden = torch.zeros(
            stored[0].shape[0],
            len(stored),
            int(n_frames.max()),
            stored[0].shape[2],
        )
        for row, states in enumerate(stored):
            hidden[:, row, : states.shape[1]] = states
        hidden = hidden.to(wav.device)
        return self.encoder.combine(hidden), (n_frames / hidden.shape[2]).to(
            wav.device
        )

    def _compute(self, entries, wav, wav_lens):
        with torch.no_grad():
            hidden, feat_lens = self.encoder.hidden_states(wav, wav_lens)
        n_frames = torch.round(feat_lens * hidden.shape[2]).long()
        for row, entry in enumerate(entries):
            states = hidden[:, row, : n_frames[row]].to(self.dtype).cpu()
            # Written beside, then renamed: a killed run leaves no torn file.
            partial = entry.with_suffix(f".{os.getpid()}.part")
            save_file({"hidden": states.contiguous()}, partial)
            honour_umask(partial)
            os.replace(partial, entry)
        self.computed += len(entries)
        return self.encoder.combine(hidden), feat_lens
