"""Errors about what the user gave: a setting, a file, a folder.

Their messages name the option or file at fault and what to do about it;
the tools print them without a traceback (``UAGIT_TRACEBACK=1`` shows it).
They also derive from the builtin a caller would expect (``ValueError``,
``FileNotFoundError``), so ``except ValueError`` keeps working.
"""


class UserError(Exception):
    """A setting or input the run cannot use."""


class ConfigError(UserError, ValueError):
    """A config key or command-line option with an unusable value."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder named by the config or the command line is missing
    or holds nothing usable."""


class WriteError(UserError, OSError):
    """A file could not be written (full disk, quota, read-only or vanished
    folder). Nothing was replaced: the previous file, if any, is intact.

    Args:
        path (str): The file that could not be written.
        err (OSError): What the system said.
        context (str): What to add, e.g. the last good checkpoint.
    """

    def __init__(self, path: str, err: OSError, context: str = '') -> None:
        self.path, self.cause = path, err
        self.context = context
        reason = err.strerror or str(err) or type(err).__name__
        msg = f'cannot write {path}: {reason}'
        if err.errno is not None:
            import errno
            msg += f' ({errno.errorcode.get(err.errno, err.errno)})'
        super().__init__(err.errno, msg + (f'. {context}' if context else ''))
        self.message = msg

    def __str__(self) -> str:
        return self.message + (f'. {self.context}' if self.context else '')

    def with_context(self, context: str) -> 'WriteError':
        """The same error with ``context`` added to its message."""
        return WriteError(self.path, self.cause, context)


def run_tool(main, *args, **kwargs):
    """Run a tool's ``main``; a :class:`UserError` ends it with its message
    and exit status 2 instead of a traceback (set ``UAGIT_TRACEBACK=1`` to
    see where it was raised)."""
    import os
    import sys
    try:
        return main(*args, **kwargs)
    except UserError as err:
        if os.environ.get('UAGIT_TRACEBACK'):
            raise
        print(f'error: {err}\n(set UAGIT_TRACEBACK=1 for the traceback)',
              file=sys.stderr)
        sys.exit(2)
