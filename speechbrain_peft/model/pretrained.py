"""Where a pretrained encoder comes from, and which weights it holds.

``encoder_source`` is either a local ``save_pretrained`` folder or a
Hugging Face Hub id (``microsoft/wavlm-large``). :func:`check_source`
decides which before transformers is asked, so a mistyped path is refused
at once (naming it) instead of being sent to the hub, and an unreachable
hub ends in one message that says how to use a local copy.
:func:`encoder_identity` names the weights themselves, so that results and
exports can tell two encoders apart even when their folders share a name.

Authors
 * speechbrain-peft-ser developers 2026
"""

import hashlib
import re
from pathlib import Path

from transformers import AutoConfig

from speechbrain_peft.utils.errors import UserError

# Files holding a transformers model's weights (single or sharded).
WEIGHT_PREFIXES = ("model", "pytorch_model")
WEIGHT_SUFFIXES = (".safetensors", ".bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


class EncoderSourceError(UserError, FileNotFoundError):
    """The encoder cannot be found where ``encoder_source`` points."""


def check_source(source):
    """``source`` as a folder path or a hub id, or an error that names it.

    An existing folder is used as such. A string shaped like a hub id
    (``owner/name``) is left to the hub. Anything else (an absolute or
    ``./`` path, a path with more parts) is a folder that does not exist.

    Example
    -------
    >>> check_source("microsoft/wavlm-large")
    'microsoft/wavlm-large'
    >>> check_source("/no/such/wavlm")
    Traceback (most recent call last):
    ...
    speechbrain_peft.model.pretrained.EncoderSourceError: Encoder folder ...
    """
    source = str(source)
    path = Path(source).expanduser()
    if path.is_dir():
        return str(path)
    if HUB_ID.match(source) and not source.startswith("."):
        return source
    raise EncoderSourceError(
        f"Encoder folder {path.resolve()} does not exist (encoder_source="
        f"{source!r}). Pass an existing save_pretrained folder or a hub id "
        "such as microsoft/wavlm-large."
    )


def load_encoder_config(source, cache_dir=None):
    """The transformers config of ``source`` (see :func:`check_source`),
    with one clear error when a hub model cannot be had.

    Arguments
    ---------
    source : str
        A folder or a hub id.
    cache_dir : str, optional
        Download cache for hub models.

    Returns
    -------
    transformers.PretrainedConfig
    """
    source = check_source(source)
    try:
        return AutoConfig.from_pretrained(source, cache_dir=cache_dir)
    except (OSError, ValueError) as error:
        if Path(source).is_dir():
            raise EncoderSourceError(
                f"{source} is not a transformers model folder (save_pretrained"
                f" writes config.json and the weights): {error}"
            ) from error
        reason = str(error).strip().splitlines()[0]
        raise EncoderSourceError(
            f"Encoder {source!r} is not a folder here and the Hugging Face "
            f"Hub did not give it ({reason}). Download it where the hub is "
            f"reachable (huggingface-cli download {source} --local-dir DIR) "
            "and pass that folder as encoder_source; HF_HUB_OFFLINE=1 "
            "skips the network retries."
        ) from error


def file_sha256(path):
    """Hex SHA-256 of a file, read in 1 MiB blocks.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "f"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encoder_revision(source, config):
    """What identifies the weights of an encoder.

    Arguments
    ---------
    source : str
        The folder or hub id it was loaded from.
    config : transformers.PretrainedConfig
        Its config, as loaded (a hub config carries the commit hash).

    Returns
    -------
    dict
        ``{"sha256": {file: hash}}`` of the weight files of a local
        ``save_pretrained`` folder, or ``{"commit": hash}`` of a hub model
        (None when the hub did not report one).
    """
    folder = Path(source)
    if folder.is_dir():
        weights = sorted(
            path
            for path in folder.iterdir()
            if path.name.startswith(WEIGHT_PREFIXES)
            and path.name.endswith(WEIGHT_SUFFIXES)
        )
        return {"sha256": {path.name: file_sha256(path) for path in weights}}
    return {"commit": getattr(config, "_commit_hash", None)}


def encoder_identity(source, config):
    """The encoder's name and weights: ``{"id", "revision"}``, where the id
    of a local folder is its name (its path is machine-specific).

    Example
    -------
    >>> from transformers import WavLMConfig
    >>> encoder_identity("microsoft/wavlm-large", WavLMConfig())["id"]
    'microsoft/wavlm-large'
    """
    folder = Path(source)
    name = folder.name if folder.is_dir() else str(source)
    return {"id": name, "revision": encoder_revision(source, config)}
