"""The versions of the libraries a result was made with, recorded in
every ``results.json`` and export.

Authors
 * speechbrain-peft-ser developers 2026
"""

from importlib import metadata

# The distributions whose versions change numbers or loading.
RECORDED = (
    "speechbrain-peft-ser",
    "torch",
    "torchaudio",
    "transformers",
    "speechbrain",
    "peft",
)


def software_versions():
    """``{distribution: version}`` of :data:`RECORDED` (None when one is
    not installed).

    Example
    -------
    >>> versions = software_versions()
    >>> sorted(versions) == sorted(RECORDED), versions["torch"] is not None
    (True, True)
    """
    versions = {}
    for name in RECORDED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
