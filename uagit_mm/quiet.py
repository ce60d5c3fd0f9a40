"""Narrow filters for the warnings of packages mmagic imports.

Importing mmagic imports diffusers, transformers, timm and controlnet_aux,
which warn about their own deprecations and registry overwrites (a screen
of text before a tool prints anything of its own), and mmagic's generators
make mmcv warn about conv biases before instance norm. None of these is
about anything a user of this package can change. Each filter names the
category, the start of the message and the module that warns; every other
warning stays visible. Standard library only: it runs before mmagic is
imported.
"""
import warnings
from contextlib import contextmanager
from typing import Iterator

#: (category, message regex, module regex) of the warnings raised while
#: mmagic and its dependencies are imported.
IMPORT_NOISE = (
    (FutureWarning, r'`torch\.utils\._pytree\._register_pytree_node` is '
     r'deprecated', r'(transformers|diffusers)\.'),
    (FutureWarning, r'`torch\.jit\.script` is deprecated',
     r'torch\.jit\._script'),
    (FutureWarning, r'Importing from timm\.models\.\w+ is deprecated',
     r'timm\.models\.'),
    (UserWarning, r'Overwriting \w+ in registry with controlnet_aux\.',
     r'controlnet_aux\.'),
    (UserWarning, r"The module 'mediapipe' is not installed",
     r'controlnet_aux\.'),
    (UserWarning, r'pkg_resources is deprecated as an API',
     r'(mmengine\.utils\.package_utils|importlib)'),
)

#: Warnings of the host's code when a tool builds and runs a model.
TOOL_NOISE = (
    (UserWarning, r'Unnecessary conv bias before batch/instance norm',
     r'mmcv\.cnn\.bricks\.conv_module'),
)


def _ignore(entries) -> None:
    for category, message, module in entries:
        warnings.filterwarnings('ignore', message=message,
                                category=category, module=module)


@contextmanager
def quiet_imports() -> Iterator[None]:
    """Ignore :data:`IMPORT_NOISE` inside the block only (the filters are
    restored after it)."""
    with warnings.catch_warnings():
        _ignore(IMPORT_NOISE)
        yield


def quiet_tool() -> None:
    """For a command-line tool's process: ignore :data:`IMPORT_NOISE` and
    :data:`TOOL_NOISE` from now on."""
    _ignore(IMPORT_NOISE + TOOL_NOISE)
