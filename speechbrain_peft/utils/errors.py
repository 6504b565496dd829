"""Errors the user can fix, and how every command ends with one.

Our own error types (a bad corpus folder or manifest, broken audio, a
configuration mistake, a checkpoint that does not fit, a stage two that
would leak speakers...) derive from :class:`UserError`; their message says
what is wrong, with which file, and what to do. Every command of the
project (the recipes' ``train.py``, the data prep scripts, ``evaluate``,
``infer``, ``export``, ``results``) ends such an error with one line,
``error: <message>``, and exit status 1; any other exception keeps its
traceback, since it is a bug to report. ``SPEECHBRAIN_PEFT_TRACEBACK=1``
shows the traceback of our own errors too.

Authors
 * speechbrain-peft-ser developers 2026
"""

import os
import sys
import traceback

TRACEBACK_VARIABLE = "SPEECHBRAIN_PEFT_TRACEBACK"


class UserError(Exception):
    """A mistake in the input or the configuration, explained in its
    message (what, which file, what to do)."""


class ConfigError(UserError, ValueError):
    """A setting of the configuration that cannot be used."""


class ConfigTypeError(UserError, TypeError):
    """A setting of the configuration given with the wrong type."""


def run_command(main, argv=None):
    """Run a command's ``main(argv)`` and exit: with its return code, or
    with 1 after printing a :class:`UserError` as one line.

    Arguments
    ---------
    main : callable
        Takes ``argv`` (or nothing) and returns an exit status (an int;
        anything else counts as success).
    argv : list of str, optional
        Passed to ``main`` when given.

    Example
    -------
    >>> def main():
    ...     raise ConfigError("lr must be positive; pass --lr 1e-4")
    >>> try:
    ...     run_command(main)
    ... except SystemExit as stop:
    ...     print("exit", stop.code)
    exit 1
    """
    try:
        status = main() if argv is None else main(argv)
    except UserError as error:
        if os.environ.get(TRACEBACK_VARIABLE):
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    # A main may return what it computed (a recipe: its results).
    sys.exit(status if isinstance(status, int) else 0)
