"""Disk caches of what the frozen part of an encoder computes: the first
epoch computes and stores each utterance's entry, later epochs (and dev and
test evaluation) read it instead of running that part.

Which entry is decided from the model, not from the configuration's name:

* **pooled** (:class:`PooledFeatureCache`): when the head pools first (a
  parameter-free, linear mean over the valid frames, before anything that
  trains: ``head.pools_first``), nothing between the frames and the pooled
  vector trains, and the layers' combination is linear, so ``mean_t(sum_l
  w_l h_l[t]) = sum_l w_l mean_t(h_l[t])``: one mean vector per layer and
  utterance gives the same outputs, losses and gradients as the frames.
  ``(L + 1) x d`` numbers per utterance instead of ``T x (L + 1) x d``;
  entries are read into memory once per run.
* **frames** (:class:`FeatureCache`): for a head with something trainable
  acting on frames, every frame of the hidden states is stored.
* **lower** (:class:`LowerLayerCache`): when adaptors train inside the
  encoder, but only in its layers (e.g. LoRA in the top layers with
  ``adapter_layers``), the part below the lowest trained layer (front-end
  and the layers under it) gives the same output every epoch: its output,
  the input of that layer (with a layer combination, also the states below
  it), is stored frame by frame, and each epoch runs the layers from there
  on. The stored part is computed in eval mode: unlike in an uncached
  run, dropout does not act below the lowest trained layer (outputs equal
  an uncached run whose lower part is in eval mode).

The first two serve configurations with no trainable parameter inside the
encoder (``frozen``, ``weighted_sum``).

Enabled from the YAML with ``cache_features: True`` (``cache_dtype:
float16`` halves the space). Entries can never be stale:

* the cache folder is named by a fingerprint of the encoder (its source,
  architecture and a hash of every frozen weight), of the audio reading
  settings (sample rate, ``max_duration``), of the storage dtype, of the
  kind of entry and of where the lower part ends, so another encoder or
  setting uses another folder; entries are computed in float32 whatever
  the run's ``--precision``;
* each utterance's file is named by a hash of its audio file's path, size
  and modification time, so a replaced or edited file, or a manifest that
  points an ID at another file, misses the cache and is recomputed.

Several runs, and the processes of a DDP run, may share one folder: an
entry is created once (an exclusive link of a finished file), never
written twice, and read by every process.

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

from speechbrain_peft.utils.errors import ConfigError
from speechbrain_peft.utils.files import honour_umask

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float16": torch.float16}


def encoder_fingerprint(encoder, **settings):
    """A short hash of everything that determines what the frozen part of
    the encoder computes: its configuration, every frozen weight (base
    weights and frozen adaptors) and ``settings``.

    Arguments
    ---------
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
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
    model = encoder.ssl.model
    training = {n for n, p in model.named_parameters() if p.requires_grad}
    for name, tensor in sorted(model.state_dict().items()):
        if name in training:  # changes every step; never read by a cache
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def full_precision(wav):
    """Autocast off on ``wav``'s device: entries are computed in float32
    whatever the run's ``--precision``, so one cache serves every run."""
    return torch.autocast(wav.device.type, enabled=False)


def make_feature_cache(folder, encoder, head, dtype="float32", **settings):
    """The cache that fits the model: the lower part's states when adaptors
    train inside the encoder, else pooled vectors when the head pools
    first, else every frame (see the module's description).

    Arguments
    ---------
    folder : str or pathlib.Path
        Cache root.
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        The lobe.
    head : torch.nn.Module
        The head; ``pools_first`` and ``pool`` make the pooled cache fit.
    dtype : str
        Storage dtype, ``float32`` or ``float16``.
    **settings
        Audio reading settings, part of the fingerprint.

    Returns
    -------
    FeatureCache, PooledFeatureCache or LowerLayerCache
    """
    if encoder.encoder_trains:
        return LowerLayerCache(folder, encoder, dtype, **settings)
    if getattr(head, "pools_first", False):
        return PooledFeatureCache(folder, encoder, head.pool, dtype, **settings)
    return FeatureCache(folder, encoder, dtype, **settings)


class _DiskCache:
    """What both caches share: the fingerprinted folder, one file per audio
    file, created once, and the counts of computed and read entries."""

    kind = None

    def __init__(self, folder, encoder, dtype, **settings):
        self.check(encoder)
        if dtype not in DTYPES:
            raise ConfigError(
                f"cache_dtype {dtype!r} is not one of {sorted(DTYPES)}"
            )
        self.encoder = encoder
        self.dtype = DTYPES[dtype]
        # The stored precision changes the features read back, and the kind
        # of entry what they are: both are part of the key.
        self.folder = Path(folder) / encoder_fingerprint(
            encoder, cache_dtype=dtype, cache_kind=self.kind, **settings
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.computed = self.read = 0

    @staticmethod
    def check(encoder):
        """Refuse an encoder whose cached part would change as it trains."""
        if encoder.encoder_trains:
            raise ConfigError(
                "This feature cache needs a configuration with no trainable "
                "parameter inside the encoder (frozen, weighted_sum); this "
                f"one has adaptors {encoder.adapters} or full fine-tuning, "
                "whose hidden states change as it trains. Set "
                "cache_features: False"
            )

    def entry(self, path):
        """The cache file of the audio file ``path``."""
        stat = os.stat(path)
        key = f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.folder / f"{name}.safetensors"

    def _store(self, entry, tensor):
        """Write an entry once: finished beside it, then linked into place
        only if no other process or run created it meanwhile."""
        partial = entry.with_suffix(f".{os.getpid()}.part")
        save_file({"value": tensor.to(self.dtype).cpu().contiguous()}, partial)
        honour_umask(partial)
        try:
            os.link(partial, entry)
        except FileExistsError:
            pass  # the same content, computed by another process
        finally:
            partial.unlink()

    @staticmethod
    def _load(entry):
        return load_file(entry)["value"].float()


class FeatureCache(_DiskCache):
    """Hidden states of ``encoder`` per utterance, every frame, on disk: for
    heads with something trainable acting on frames.

    Arguments
    ---------
    folder : str or pathlib.Path
        Cache root; entries go into a subfolder named by
        :func:`encoder_fingerprint`.
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        A lobe with no trainable parameter inside the encoder.
    dtype : str
        ``float32`` or ``float16`` (storage only; features are returned in
        float32).
    **settings
        Audio reading settings, part of the fingerprint.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.model.encoder import PEFTEncoder
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
    >>> first.shape  # every state, every frame
    torch.Size([3, 2, 24, 64])
    """

    kind = "frames"

    def __init__(self, folder, encoder, dtype="float32", **settings):
        super().__init__(folder, encoder, dtype, **settings)
        logger.info(
            "Feature cache (%s) in %s (%d utterances cached so far)",
            self.kind,
            self.folder,
            sum(1 for _ in self.folder.glob("*.safetensors")),
        )

    def __call__(self, paths, wav, wav_lens):
        """Hidden states and relative lengths, as
        ``encoder.hidden_states(wav, wav_lens)``.

        Arguments
        ---------
        paths : list of str
            The audio file of each batch row.
        wav, wav_lens : torch.Tensor
            The padded batch read from ``paths``.

        Returns
        -------
        hidden : torch.Tensor
        feat_lens : torch.Tensor
        """
        entries = [self.entry(path) for path in paths]
        if not all(entry.is_file() for entry in entries):
            return self._compute(entries, wav, wav_lens)
        self.read += len(entries)
        stored = [self._load(entry) for entry in entries]
        n_frames = torch.tensor([h.shape[1] for h in stored])
        # Padded frames are zeros: the attention mask keeps them out of the
        # valid frames' features, and the head pools the valid ones only.
        hidden = torch.zeros(
            stored[0].shape[0],
            len(stored),
            int(n_frames.max()),
            stored[0].shape[2],
        )
        for row, states in enumerate(stored):
            hidden[:, row, : states.shape[1]] = states
        hidden = hidden.to(wav.device)
        return hidden, (n_frames / hidden.shape[2]).to(wav.device)

    def predict(self, paths, wav, wav_lens, encoder, head):
        """The head's outputs on the cached hidden states, combined by
        ``encoder`` (the lobe, or its DDP wrapper)."""
        hidden, feat_lens = self(paths, wav, wav_lens)
        return head(encoder(states=hidden), feat_lens)

    def _encode(self, wav, wav_lens):
        """What an entry holds, for the batch (all frames)."""
        return self.encoder.hidden_states(wav, wav_lens)

    def _compute(self, entries, wav, wav_lens):
        with full_precision(wav), torch.no_grad():
            hidden, feat_lens = self._encode(wav, wav_lens)
        n_frames = torch.round(feat_lens * hidden.shape[2]).long()
        for row, entry in enumerate(entries):
            self._store(entry, hidden[:, row, : n_frames[row]])
        self.computed += len(entries)
        return hidden, feat_lens


class PooledFeatureCache(_DiskCache):
    """Each layer's pooled vector per utterance: ``[L + 1, d]`` with a
    layer combination, ``[1, d]`` otherwise. On disk, one file per
    utterance; in memory once read, so each entry is read once per run.

    Arguments
    ---------
    folder : str or pathlib.Path
        Cache root (see :class:`FeatureCache`).
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        A lobe with no trainable parameter inside the encoder, whose layer
        combination (if any) is linear.
    pool : callable
        ``pool(feats [B, T, d], lengths [B]) -> [B, d]``: the head's own
        pooling, linear and parameter-free.
    dtype : str
        ``float32`` or ``float16`` (storage and memory).
    **settings
        Audio reading settings, part of the fingerprint.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.model.encoder import PEFTEncoder
    >>> from speechbrain_peft.model.heads import EmotionHead
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> tmp = Path(tempfile.mkdtemp())
    >>> encoder = PEFTEncoder(str(save_tiny_encoder("wavlm", tmp / "m")),
    ...                       adapters=["weighted_sum"]).eval()
    >>> head = EmotionHead(encoder.output_size, 4).eval()
    >>> cache = make_feature_cache(tmp / "cache", encoder, head)
    >>> paths = []
    >>> for index in range(2):
    ...     paths.append(str(tmp / f"{index}.wav"))
    ...     _ = Path(paths[-1]).write_bytes(bytes([index]))  # stands in
    >>> wav, lens = torch.randn(2, 8000), torch.tensor([1.0, 0.7])
    >>> first = cache.predict(paths, wav, lens, encoder, head)
    >>> again = cache.predict(paths, wav, lens, encoder, head)
    >>> direct = head(*encoder(wav, lens))
    >>> cache.computed, cache.read, torch.allclose(again, direct, atol=1e-5)
    (2, 2, True)
    """

    kind = "pooled"

    def __init__(self, folder, encoder, pool, dtype="float32", **settings):
        super().__init__(folder, encoder, dtype, **settings)
        self.pool = pool
        self.memory = {}
        states = encoder.ssl.model.config.num_hidden_layers + 1
        states = states if encoder.combiner is not None else 1
        self.entry_bytes = states * encoder.output_size * self.dtype.itemsize
        logger.info(
            "Feature cache (pooled) in %s (%d utterances cached so far): "
            "%d x %d %s per utterance = %.1f KB",
            self.folder,
            sum(1 for _ in self.folder.glob("*.safetensors")),
            states,
            encoder.output_size,
            dtype,
            self.entry_bytes / 1000,
        )

    def __call__(self, paths, wav, wav_lens):
        """The pooled vectors ``[states, batch, d]`` of the batch's files."""
        entries = [self.entry(path) for path in paths]
        missing = [e for e in entries if e not in self.memory]
        if any(not entry.is_file() for entry in missing):
            return self._compute(entries, wav, wav_lens)
        for entry in missing:
            self.memory[entry] = self._load(entry).to(self.dtype)
        self.read += len(entries)
        pooled = torch.stack([self.memory[entry] for entry in entries], 1)
        return pooled.float().to(wav.device)

    def predict(self, paths, wav, wav_lens, encoder, head):
        """The head's outputs from the pooled vectors combined by
        ``encoder`` (the lobe, or its DDP wrapper)."""
        return head(encoder(states=self(paths, wav, wav_lens)))

    def _compute(self, entries, wav, wav_lens):
        with full_precision(wav), torch.no_grad():
            hidden, feat_lens = self.encoder.hidden_states(wav, wav_lens)
            states, batch = hidden.shape[:2]
            pooled = self.pool(
                hidden.flatten(0, 1), feat_lens.repeat(states)
            ).view(states, batch, -1)
        for row, entry in enumerate(entries):
            self._store(entry, pooled[:, row])
            self.memory[entry] = pooled[:, row].to(self.dtype).cpu()
        self.computed += len(entries)
        return pooled


class LowerLayerCache(FeatureCache):
    """The lower part of an encoder whose trainable parameters all lie in
    its layers (see the module's description): per utterance, every frame
    of the input of the lowest trained layer, and with a layer combination
    of the inputs of the layers below it too.

    Arguments
    ---------
    folder : str or pathlib.Path
        Cache root (see :class:`FeatureCache`).
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        A lobe whose trainable encoder parameters all lie in its layers,
        with LayerDrop off.
    dtype : str
        ``float32`` or ``float16`` (storage only).
    **settings
        Audio reading settings, part of the fingerprint.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.model.encoder import PEFTEncoder
    >>> from speechbrain_peft.model.heads import EmotionHead
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> tmp = Path(tempfile.mkdtemp())
    >>> source = str(save_tiny_encoder("wavlm", tmp / "m"))
    >>> encoder = PEFTEncoder(source, adapters=["lora"], adapter_layers=[1],
    ...                       layerdrop=0.0).eval()
    >>> head = EmotionHead(encoder.output_size, 4).eval()
    >>> cache = make_feature_cache(tmp / "cache", encoder, head)
    >>> cache.kind, cache.split
    ('lower', 1)
    >>> paths = []
    >>> for index in range(2):
    ...     paths.append(str(tmp / f"{index}.wav"))
    ...     _ = Path(paths[-1]).write_bytes(bytes([index]))  # stands in
    >>> wav, lens = torch.randn(2, 8000), torch.tensor([1.0, 0.7])
    >>> first = cache.predict(paths, wav, lens, encoder, head)
    >>> again = cache.predict(paths, wav, lens, encoder, head)
    >>> direct = head(*encoder(wav, lens))
    >>> cache.computed, cache.read, torch.allclose(again, direct, atol=1e-5)
    (2, 2, True)
    """

    kind = "lower"

    def __init__(self, folder, encoder, dtype="float32", **settings):
        self.check(encoder)
        self.split = encoder.lowest_trained_layer
        super().__init__(folder, encoder, dtype, split=self.split, **settings)

    @staticmethod
    def check(encoder):
        """Refuse an encoder with something trainable below its layers, or
        with LayerDrop (the upper part runs every layer)."""
        if encoder.lowest_trained_layer is None:
            raise ConfigError(
                "cache_features with adaptors inside the encoder needs every "
                "trainable encoder parameter in its layers; this "
                "configuration also trains the front-end (full fine-tuning). "
                "Set cache_features: False"
            )
        if encoder.ssl.model.config.layerdrop > 0:
            raise ConfigError(
                "cache_features runs every layer above the cached part; set "
                "layerdrop: 0"
            )

    def _encode(self, wav, wav_lens):
        return self.encoder.lower_states(wav, wav_lens)

    def predict(self, paths, wav, wav_lens, encoder, head):
        """The head's outputs from the cached lower part and the layers
        above it in ``encoder`` (the lobe, or its DDP wrapper)."""
        lower, feat_lens = self(paths, wav, wav_lens)
        return head(*encoder(lower=lower, wav_lens=feat_lens))
