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
