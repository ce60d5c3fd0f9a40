"""Checkpoint loading that does not unpickle arbitrary objects.

torch >= 2.6 loads with ``weights_only=True``, which refuses mmengine's
checkpoints because the message hub is stored as ``HistoryBuffer`` objects
holding numpy arrays (see the README, "Compatibility", item 4). Allowing
those types is not enough (numpy reconstruction needs generic callables), and
``weights_only=False`` runs whatever code a file carries.

So instead of widening what may be unpickled, uagit_mm writes checkpoints
that need nothing beyond tensors and builtin containers:
:class:`uagit_mm.engine.SafeCheckpointHook` stores each ``HistoryBuffer`` as
a plain dict of tensors and turns it back on load. Every local load then
goes through :func:`load_from_local` with ``weights_only=True``. Only a
resume from the run's own work dir may fall back to full unpickling (for
checkpoints written without the hook), and it says so in the log.
"""
import os
import os.path as osp
import pickle
import threading
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine import print_log

_state = threading.local()


class UnsafeCheckpointError(RuntimeError):
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


def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint.
        map_location: As for :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file holds objects other than tensors and
            builtin containers, outside a trusted resume.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
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
                f'from it in its own work dir. (torch said: '
                f'{str(err).splitlines()[0]})') from None
        print_log(
            f'{filename} needs full unpickling; allowed because {reason}.',
            logger='current', level=30)
        return torch.load(filename, map_location=map_location,
                          weights_only=False)


def _is_within(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def install() -> None:
    """Route mmengine's local checkpoint loading through this module."""
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    if getattr(Runner.resume, '_uagit_wrapped', False):
        return
    original = Runner.resume

    def resume(self, filename, *args, **kwargs):
        if _is_within(filename, self.work_dir):
            with trusted_loading('it is this run\'s own checkpoint '
                                 f'(in work_dir {self.work_dir})'):
                return original(self, filename, *args, **kwargs)
        return original(self, filename, *args, **kwargs)

    resume._uagit_wrapped = True
    resume.__doc__ = original.__doc__
    Runner.resume = resume
