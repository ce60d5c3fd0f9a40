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
import glob
import os
import os.path as osp
import pickle
import re
import threading
import zipfile
from contextlib import contextmanager
from typing import Iterator, List

import torch
from mmengine import print_log

from uagit_mm.errors import UserError

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
                'from it in its own work dir. (torch.load(weights_only=True) '
                f'said: {_unpickler_reason(err)})') from None
        print_log(
            f'{filename} needs full unpickling; allowed because {reason}.',
            logger='current', level=30)
        return torch.load(filename, map_location=map_location,
                          weights_only=False)


def atomic_save(checkpoint: dict, filename: str) -> None:
    """``torch.save`` through a temporary file renamed into place, so that
    a run killed mid-write never leaves a truncated file under a checkpoint
    name."""
    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(filename)}.tmp{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def checkpoints_newest_first(work_dir: str) -> List[str]:
    """``iter_N.pth`` / ``epoch_N.pth`` files of a work dir, newest first."""
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(iter|epoch)_(\d+)\.pth', osp.basename(path))
        if match:
            found.append((int(match.group(2)), osp.getmtime(path), path))
    return [p for _, _, p in sorted(found, reverse=True)]


def _remove_partial_writes(work_dir: str) -> None:
    """Delete the temporary files of checkpoint writes that a killed run
    left behind (``.iter_N.pth.tmp<pid>``, see :func:`atomic_save`)."""
    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    for path in glob.glob(osp.join(work_dir, '.*.pth.tmp*')):
        try:
            os.remove(path)
            print_log(f'Removed {path}, an interrupted checkpoint write.',
                      logger='current')
        except OSError:
            pass


def _step(path: str):
    match = re.fullmatch(r'(iter|epoch)_(\d+)\.pth', osp.basename(path))
    return (match.group(1), int(match.group(2))) if match else None


def _newer_than_last_checkpoint(filename: str, work_dir: str) -> str:
    """The checkpoint to resume from automatically.

    mmengine names it in ``work_dir/last_checkpoint``, written just after
    the checkpoint itself: a run killed between the two leaves a complete
    (atomically renamed) newer checkpoint that the file does not name yet.
    Take that one; a higher-numbered file older than ``filename`` (left by
    an earlier run in the same work dir) is not taken.
    """
    if not (osp.isfile(filename) and _is_within(filename, work_dir)):
        return filename
    named = _step(filename)
    if named is None:
        return filename
    same_kind = [c for c in checkpoints_newest_first(work_dir)
                 if _step(c)[0] == named[0]]
    cand = same_kind[0] if same_kind else filename
    if _step(cand)[1] > named[1] and \
            osp.getmtime(cand) >= osp.getmtime(filename):
        print_log(
            f'{cand} is newer than {filename}, which last_checkpoint names '
            '(the run stopped after writing the checkpoint, before updating '
            f'last_checkpoint); resuming from {cand}.', logger='current',
            level=30)
        return cand
    return filename


# what a truncated or corrupt checkpoint raises on load
_CORRUPT = (EOFError, zipfile.BadZipFile, FileNotFoundError)


def _is_corrupt_error(err: Exception) -> bool:
    if isinstance(err, UnsafeCheckpointError):
        return False
    if isinstance(err, _CORRUPT):
        return True
    text = str(err)
    return isinstance(err, (RuntimeError, pickle.UnpicklingError)) and any(
        s in text for s in ('PytorchStreamReader', 'central directory',
                            'unexpected EOF', 'truncated', 'invalid header',
                            'Ran out of input'))


def _is_within(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def install() -> None:
    """Route mmengine's local checkpoint loading through this module, save
    checkpoints atomically and let resume fall back past a corrupt one."""
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmengine.runner import runner as runner_module

    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    if getattr(Runner.resume, '_uagit_wrapped', False):
        return
    original = Runner.resume
    original_save = runner_module.save_checkpoint

    def save_checkpoint(checkpoint, filename, file_client_args=None,
                        backend_args=None):
        if '://' in str(filename) or file_client_args or backend_args:
            return original_save(checkpoint, filename, file_client_args,
                                 backend_args)
        atomic_save(checkpoint, filename)

    runner_module.save_checkpoint = save_checkpoint

    def resume_one(self, filename, *args, **kwargs):
        if _is_within(filename, self.work_dir):
            with trusted_loading('it is this run\'s own checkpoint '
                                 f'(in work_dir {self.work_dir})'):
                return original(self, filename, *args, **kwargs)
        return original(self, filename, *args, **kwargs)

    def resume(self, filename, *args, **kwargs):
        """Resume; when the checkpoint is truncated or corrupt and lies in
        the work dir, fall back to the newest good one there."""
        if getattr(self, '_load_from', None) is None and filename:
            filename = _newer_than_last_checkpoint(filename, self.work_dir)
        _remove_partial_writes(self.work_dir)
        try:
            return resume_one(self, filename, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 (re-raised unless corrupt)
            if not (_is_corrupt_error(err) and _is_within(
                    filename or self.work_dir, self.work_dir)):
                raise
            print_log(
                f'Cannot resume from {filename}: it is truncated or corrupt '
                f'({type(err).__name__}: {str(err).splitlines()[0][:200]}). '
                'Trying the previous checkpoints in the work dir.',
                logger='current', level=30)
            bad = osp.realpath(filename) if filename else None
            for candidate in checkpoints_newest_first(self.work_dir):
                if osp.realpath(candidate) == bad:
                    continue
                try:
                    resume_one(self, candidate, *args, **kwargs)
                except Exception as err2:  # noqa: BLE001
                    if not _is_corrupt_error(err2):
                        raise
                    print_log(f'{candidate} is corrupt too, skipping it.',
                              logger='current', level=30)
                    continue
                print_log(f'Resumed from {candidate} instead.',
                          logger='current', level=30)
                return None
            raise RuntimeError(
                f'No intact checkpoint to resume from in {self.work_dir} '
                f'({filename} is corrupt).') from err

    resume._uagit_wrapped = True
    resume.__doc__ = original.__doc__
    Runner.resume = resume
