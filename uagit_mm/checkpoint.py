"""Checkpoint loading that does not unpickle arbitrary objects.

torch >= 2.6 loads with ``weights_only=True``, which refuses mmengine's
checkpoints because the message hub is stored as ``HistoryBuffer`` objects
holding numpy arrays (docs/design.md, "The compatibility fixes", its
"Not patched" paragraph). Allowing those types is not enough (numpy
reconstruction needs generic callables), and
``weights_only=False`` runs whatever code a file carries.

So instead of widening what may be unpickled, uagit_mm writes checkpoints
that need nothing beyond tensors and builtin containers:
:class:`uagit_mm.engine.SafeCheckpointHook` stores each ``HistoryBuffer`` as
a plain dict of tensors and turns it back on load. Every local load of
:class:`uagit_mm.engine.UAGITRunner`, the inferencer and the tools then goes
through :func:`load_from_local` with ``weights_only=True``. Only a resume
from the run's own work dir may fall back to full unpickling (for
checkpoints written without the hook), and it says so in the log.
Nothing here changes mmengine's own loaders.
"""
import os.path as osp
import pickle
import re
import threading
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine import print_log

from uagit_mm.errors import ConfigError, MissingFileError, UserError

_state = threading.local()


class UnsafeCheckpointError(UserError, RuntimeError):
    """A checkpoint needs arbitrary unpickling, which is refused."""


@contextmanager
def trusted_loading(reason: str) -> Iterator[None]:
    """Allow full unpickling inside the block (the user's own checkpoints)."""
    previous = getattr(_state, 'trusted', None)
    _state.trusted = reason
    try:
        yield
    finally:
        _state.trusted = previous


def _unpickler_reason(err: Exception) -> str:
    """The line of torch's refusal that names what was refused."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for line in lines:
        if 'WeightsUnpickler error' in line or 'Unsupported' in line:
            return line.split(' Please use')[0]
    return re.sub(r'\x1b\[[0-9;]*m', '', lines[0]) if lines else repr(err)


def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint.
        map_location: As for :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        MissingFileError: The file does not exist (a ``FileNotFoundError``
            that the tools print as one line).
        UnsafeCheckpointError: The file holds objects other than tensors and
            builtin containers, outside a trusted resume.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise MissingFileError(f'checkpoint {filename} does not exist')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as err:
        reason = getattr(_state, 'trusted', None)
        if reason is None:
            raise UnsafeCheckpointError(
                f'Refusing to load {filename}: it contains pickled Python '
                'objects beyond tensors and plain containers, and unpickling '
                'them could run code the file carries. Checkpoints written by '
                'uagit_mm never need this. If you trust this file, convert it '
                'once with `python tools/publish_model.py IN OUT` or resume '
                'from it in its own work dir. (torch.load(weights_only=True) '
                f'said: {_unpickler_reason(err)})') from None
        print_log(
            f'{filename} needs full unpickling; allowed because {reason}.',
            logger='current', level=30)
        return torch.load(filename, map_location=map_location,
                          weights_only=False)


def load_checkpoint_file(filename: str, map_location=None):
    """Local files through :func:`load_from_local`; other schemes
    (``http://``, ``s3://``, ...) through mmengine's ``CheckpointLoader``
    unchanged."""
    if '://' in str(filename):
        from mmengine.runner.checkpoint import CheckpointLoader
        return CheckpointLoader.load_checkpoint(filename, map_location)
    return load_from_local(filename, map_location)


#: Checkpoints of distributed runs saved without SafeCheckpointHook carry
#: ``module.`` segments from the DDP wrappers, anywhere in a key.
MODULE_SEGMENT = (r'(^|\.)module\.', r'\1')


def check_weights_fit(model: torch.nn.Module, state: dict, checkpoint: str,
                      config: str = 'the config',
                      optional_prefixes=('discriminators.', )) -> None:
    """Refuse a checkpoint whose weights do not fit ``model``.

    mmengine's loader with ``strict=False`` (what ``load_from``, testing and
    mmagic's tools use) only logs what does not fit, so a checkpoint of
    another config would be scored as a partly random network. Every key
    of the model must be in the checkpoint with the model's shape (keys
    under ``optional_prefixes``, the discriminators that published
    checkpoints drop, may be missing) and no key may be left over.
    ``module.`` segments (DDP) are ignored.

    Raises:
        ConfigError: naming the missing, unexpected or mis-shaped keys.
    """
    weights = state.get('state_dict', state)
    revised = {re.sub(*MODULE_SEGMENT, k): v for k, v in weights.items()}
    own = model.state_dict()

    def unfit(reason: str) -> ConfigError:
        return ConfigError(f'checkpoint {checkpoint} does not fit config '
                           f'{config}: {reason}')

    shapes = [
        f'{k} (checkpoint {tuple(revised[k].shape)}, model '
        f'{tuple(v.shape)})' for k, v in own.items()
        if k in revised and hasattr(revised[k], 'shape')
        and revised[k].shape != v.shape
    ]
    if shapes:
        raise unfit(f'size mismatch for {len(shapes)} key(s): ' +
                    '; '.join(shapes[:5]) + (' ...' if len(shapes) > 5
                                             else ''))
    needed = [k for k in own if k not in revised
              and not k.startswith(tuple(optional_prefixes))]
    unexpected = [k for k in revised if k not in own]
    if needed or unexpected:
        raise unfit(f'missing {needed[:5]}{"..." if len(needed) > 5 else ""}'
                    f', unexpected {unexpected[:5]}'
                    f'{"..." if len(unexpected) > 5 else ""}')
