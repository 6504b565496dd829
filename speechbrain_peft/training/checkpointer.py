"""SpeechBrain's checkpointing made crash-safe, with the global random state
as one more recoverable.

Authors
 * speechbrain-peft-ser developers 2026
"""

import os
import random
from pathlib import Path

import numpy as np
import torch
from speechbrain.utils.checkpoints import (
    METAFNAME,
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import main_process_only


class CrashSafeCheckpointer(Checkpointer):
    """SpeechBrain's Checkpointer, but a checkpoint only counts once all its
    files are on disk.

    SpeechBrain writes ``CKPT.yaml`` (what marks a folder as a checkpoint)
    before the parameter files, so a run killed during a save leaves a
    checkpoint with a truncated file, and it is the newest one the next
    run tries to resume from. Here the meta file is written under another
    name, the other files are flushed to disk, and only then is it renamed
    into place; a folder left by an interrupted save is ignored.

    Example
    -------
    >>> import tempfile
    >>> layer = torch.nn.Linear(2, 2)
    >>> folder = Path(tempfile.mkdtemp())
    >>> checkpointer = CrashSafeCheckpointer(folder, {"layer": layer})
    >>> saved = checkpointer.save_checkpoint()
    >>> sorted(p.name for p in saved.path.iterdir())
    ['CKPT.yaml', 'layer.ckpt']
    >>> (folder / "CKPT+interrupted").mkdir()  # a save killed midway
    >>> [c.path for c in checkpointer.list_checkpoints()] == [saved.path]
    True
    """

    PENDING_META = METAFNAME + ".pending"

    def _save_checkpoint_metafile(
        self, fpath, meta_to_include=None, end_of_epoch=True
    ):
        pending = Path(fpath).with_name(self.PENDING_META)
        return super()._save_checkpoint_metafile(
            pending, meta_to_include or {}, end_of_epoch
        )

    def save_checkpoint(self, *args, **kwargs):
        """As ``Checkpointer.save_checkpoint``; the checkpoint becomes
        visible only after its last file is written, to every process
        (under DDP the others wait for it: they then list the same
        checkpoints, so their collective calls keep matching)."""
        checkpoint = super().save_checkpoint(*args, **kwargs)
        self._publish(checkpoint)
        return checkpoint

    @main_process_only
    def _publish(self, checkpoint):
        """Flush the checkpoint's files, then rename its meta file into
        place."""
        for path in checkpoint.path.iterdir():
            with open(path, "rb") as written:
                os.fsync(written.fileno())
        os.replace(
            checkpoint.path / self.PENDING_META,
            checkpoint.path / METAFNAME,
        )


@register_checkpoint_hooks
class RandomState:
    """Makes the global random state of torch, numpy and ``random`` part of
    a checkpoint, so that a resumed run draws the same dropout masks and
    the same time masks (transformers draws those with numpy) as an
    uninterrupted one.

    Example
    -------
    >>> import random, tempfile
    >>> state = RandomState()
    >>> path = Path(tempfile.mkdtemp()) / "rng.ckpt"
    >>> state.save(path)
    >>> first = torch.rand(1), np.random.rand(), random.random()
    >>> state.load(path)
    >>> second = torch.rand(1), np.random.rand(), random.random()
    >>> torch.equal(first[0], second[0]) and first[1:] == second[1:]
    True
    """

    @mark_as_saver
    def save(self, path):
        """Store the three generators' states (plain tensors and numbers,
        so that loading needs no unpickling)."""
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        version, internal, gauss_next = random.getstate()
        torch.save(
            {
                "torch": torch.get_rng_state(),
                "numpy": [kind, torch.from_numpy(keys.astype(np.int64))]
                + [pos, has_gauss, gauss],
                "random": [version, list(internal), gauss_next],
            },
            path,
        )

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Restore the three generators' states."""
        del end_of_epoch  # the state is restored as it was saved either way
        state = torch.load(path, weights_only=True)
        torch.set_rng_state(state["torch"])
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state(
            (kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss)
        )
        version, internal, gauss_next = state["random"]
        random.setstate((version, tuple(internal), gauss_next))
