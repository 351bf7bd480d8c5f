"""Errors and exit codes shared by the library and the CLI.

Exit codes (STYLE.md): 0 all done, 1 error, 2 usage, 3 some items failed.
"""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ITEMS_FAILED = 3


class TheadError(Exception):
    """A user-facing error: its message is printed as one line and the command exits 1."""


class InputError(TheadError):
    """An input file is missing, empty, unreadable or of the wrong type."""


class ManifestError(TheadError):
    """A manifest is malformed, of the wrong kind, or of an unsupported schema version."""


class NoFaceError(TheadError):
    """No face was found where one was required."""


class Interrupted(TheadError):
    """Ctrl-C during a run: the message says what was kept and how to resume (the CLI exits 130)."""
