"""Files we write get the permissions a plain ``open`` gives them.

Writers that go through a temporary file (``tempfile.mkstemp``, and the
safetensors writer that transformers' ``save_pretrained`` uses too) create
it with mode 0600, which the final rename keeps: colleagues sharing the
results could not read them. Here the mode is set from the umask, as for
any file created with ``open``.

Authors
 * speechbrain-peft-ser developers 2026
"""

import os
import tempfile
from pathlib import Path


def open_mode():
    """``0o666`` less the process umask: the mode ``open`` creates files
    with.

    Example
    -------
    >>> old = os.umask(0o022)
    >>> oct(open_mode())
    '0o644'
    >>> _ = os.umask(old)
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def honour_umask(*paths):
    """Give every file of ``paths`` (files, or folders walked recursively)
    the mode of :func:`open_mode`."""
    mode = open_mode()
    for path in map(Path, paths):
        files = path.rglob("*") if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                os.chmod(file, mode)


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``,
    so a crash never leaves half a file; the mode is a plain ``open``'s.

    Example
    -------
    >>> folder = Path(tempfile.mkdtemp())
    >>> old = os.umask(0o022)
    >>> atomic_write_text(folder / "a.csv", "ID\\n")
    >>> oct((folder / "a.csv").stat().st_mode & 0o777)
    '0o644'
    >>> _ = os.umask(old)
    """
    path = Path(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        honour_umask(temp)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
