"""mmengine's Runner with safe checkpoint loading, a resume that survives
an interrupted or corrupt checkpoint or a moved work dir, one training run
per work dir and a clear stop when a file cannot be written; selected by
``runner_type`` in ``configs/_base_/uagit_runtime.py``."""
import errno
import glob
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import List, Optional, Tuple

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mmagic.registry import RUNNERS
from ..checkpoint import (UnsafeCheckpointError, check_weights_fit,
                          load_checkpoint_file, trusted_loading)
from ..errors import MissingFileError, UserError, WriteError
from ..utils import unwrap_model
from .work_dir_lock import WorkDirLock

#: errors of writing that no retry fixes: the run stops with a WriteError
WRITE_ERRNOS = {
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO,
    errno.EACCES, errno.EPERM
}

_NAME = re.compile(r'(iter|epoch)_(\d+)\.pth')


def _step(path: str) -> Optional[Tuple[str, int]]:
    match = _NAME.fullmatch(osp.basename(path))
    return (match.group(1), int(match.group(2))) if match else None


def checkpoints_newest_first(work_dir: str) -> List[str]:
    """``iter_N.pth`` / ``epoch_N.pth`` files of a work dir, newest first."""
    found = [(_step(p)[1], osp.getmtime(p), p)
             for p in glob.glob(osp.join(work_dir, '*.pth')) if _step(p)]
    return [p for _, _, p in sorted(found, reverse=True)]


def is_corrupt_error(err: Exception) -> bool:
    """Whether ``err`` is what loading a truncated or corrupt file raises."""
    if isinstance(err, UnsafeCheckpointError):
        return False
    if isinstance(err, (EOFError, zipfile.BadZipFile, FileNotFoundError)):
        return True
    return isinstance(err, (RuntimeError, pickle.UnpicklingError)) and any(
        s in str(err) for s in ('PytorchStreamReader', 'central directory',
                                'unexpected EOF', 'truncated',
                                'invalid header', 'Ran out of input'))


def _is_within(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return osp.commonpath([path, folder]) == folder


@RUNNERS.register_module()
class UAGITRunner(Runner):
    """Runner whose checkpoint loading never unpickles arbitrary objects
    and whose resume takes the newest intact checkpoint.

    - :meth:`load_checkpoint` (``load_from``, testing, resume) reads local
      files with ``torch.load(weights_only=True)``
      (:func:`uagit_mm.checkpoint.load_from_local`); a file whose pickle would
      run code is refused with :class:`UnsafeCheckpointError` naming it.
      Only a resume from a checkpoint in the run's own work dir may fall back
      to full unpickling, with a warning (checkpoints written by other
      tools).
    - :meth:`resume` takes a complete checkpoint newer than the one
      ``last_checkpoint`` names (a run killed between writing the checkpoint
      and updating that file), removes temporary files of interrupted writes
      (:mod:`uagit_mm.fileio`) and, when a checkpoint in the work dir is
      truncated or corrupt, falls back to the newest intact one.

    - A ``last_checkpoint`` naming a file that no longer exists (the work
      dir was moved or copied) or missing altogether falls back to the
      newest checkpoint in the work dir, with a log line.
    - :meth:`train` holds a lock on the work dir
      (:class:`~uagit_mm.engine.work_dir_lock.WorkDirLock`, rank 0): a
      second training run into it stops, naming the running one.
    - A file that cannot be written (full disk, quota, read-only folder)
      stops training with one :class:`~uagit_mm.errors.WriteError` naming
      the file, the error and the last good checkpoint; the tools print it
      without a traceback and exit with status 2.

    Everything else is mmengine's ``Runner``; other models keep using it.
    """

    def train(self):
        """mmengine's ``train`` under the work dir lock, with write errors
        turned into one :class:`WriteError` (see the class doc)."""
        lock = WorkDirLock(self.work_dir)
        refusal = None
        if is_main_process():
            try:
                lock.acquire()
            except UserError as err:
                refusal = err
        if self.distributed:  # every process stops, not only rank 0
            shared = [None if refusal is None else str(refusal)]
            broadcast_object_list(shared, src=0)
            if shared[0] is not None and refusal is None:
                refusal = UserError(shared[0])
        if refusal is not None:
            raise refusal
        try:
            return super().train()
        except WriteError as err:
            raise err.with_context(self._last_good()) from err
        except OSError as err:
            if err.errno not in WRITE_ERRNOS:
                raise
            raise WriteError(err.filename or 'a file', err,
                             self._last_good()) from err
        finally:
            lock.release()

    def _last_good(self) -> str:
        """Where the run can continue from, for a write error's message."""
        found = checkpoints_newest_first(self.work_dir)
        where = f'the last good checkpoint is {found[0]}' if found else \
            'no checkpoint was written yet'
        return (f'Training stopped; {where}. Free space (or choose another '
                '--work-dir, moving this one there) and continue with '
                'tools/train.py CONFIG --resume')

    _resuming = False  # set while resume() loads (load_checkpoint checks)

    def load_or_resume(self) -> None:
        """mmengine's, except that ``--resume`` with no (usable)
        ``last_checkpoint`` file takes the newest checkpoint of the work
        dir instead of starting afresh over it."""
        if self._resume and self._load_from is None and \
                find_latest_checkpoint(self.work_dir) is None:
            found = checkpoints_newest_first(self.work_dir)
            if found:
                self.logger.warning(
                    f'{self.work_dir} has no last_checkpoint file; resuming '
                    f'from its newest checkpoint, {found[0]}.')
                self._load_from = found[0]
        super().load_or_resume()

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """mmengine's ``load_checkpoint`` with the safe loader; outside a
        resume (``load_from``, testing) a checkpoint that does not fit the
        model is refused (:func:`uagit_mm.checkpoint.check_weights_fit`)
        instead of being loaded in part with a log line per key."""
        checkpoint = load_checkpoint_file(filename, map_location)
        if not self._resuming:
            check_weights_fit(unwrap_model(self.model), checkpoint, filename,
                              self.cfg.get('filename') or 'the config')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        _load_checkpoint_to_model(unwrap_model(self.model), checkpoint,
                                  strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        """Resume from ``filename``, or from the newest intact checkpoint
        of the work dir when it is older or corrupt (see the class doc)."""
        if self._load_from is None and filename and \
                not osp.exists(filename):
            found = checkpoints_newest_first(self.work_dir)
            if not found:
                raise MissingFileError(
                    f'cannot resume: last_checkpoint in {self.work_dir} '
                    f'names {filename}, which does not exist, and the work '
                    'dir holds no iter_*.pth or epoch_*.pth checkpoint.')
            self.logger.warning(
                f'last_checkpoint names {filename}, which does not exist '
                '(was the work dir moved or copied?); resuming from the '
                f'newest checkpoint in {self.work_dir}: {found[0]}.')
            filename = found[0]
        own = bool(filename) and _is_within(filename, self.work_dir)
        if self._load_from is None and own:
            filename = self._newest_complete(filename)
        self._remove_partial_writes()
        # a corrupt checkpoint of the work dir (or an empty last_checkpoint)
        # falls back to the others there; one given from elsewhere does not
        fallback = own or not filename
        tried = [filename] + [
            c for c in checkpoints_newest_first(self.work_dir)
            if not filename or osp.realpath(c) != osp.realpath(filename)
        ] if fallback else [filename]
        self._resuming = True
        try:
            self._resume_first_intact(tried, fallback, *args, **kwargs)
        finally:
            self._resuming = False

    def _resume_first_intact(self, tried, fallback, *args, **kwargs):
        for num, candidate in enumerate(tried):
            try:
                if candidate and _is_within(candidate, self.work_dir):
                    with trusted_loading('it is this run\'s own checkpoint '
                                         f'(in work_dir {self.work_dir})'):
                        super().resume(candidate, *args, **kwargs)
                else:
                    super().resume(candidate, *args, **kwargs)
            except Exception as err:  # noqa: BLE001 (re-raised unless corrupt)
                if not (fallback and is_corrupt_error(err)):
                    raise
                self.logger.warning(
                    f'Cannot resume from {candidate}: it is truncated or '
                    f'corrupt ({type(err).__name__}: '
                    f'{str(err).splitlines()[0][:200] if str(err) else ""}).')
                continue
            if num:
                self.logger.warning(f'Resumed from {candidate} instead.')
            return
        raise RuntimeError(f'No intact checkpoint to resume from in '
                           f'{self.work_dir} ({tried[0]} is corrupt).')

    def _newest_complete(self, filename: str) -> str:
        """``filename``, or a newer checkpoint of the same kind written
        after it (complete, as every write is atomic). A higher-numbered
        file older than ``filename`` (an earlier run's) is not taken."""
        named = _step(filename)
        if named is None or not osp.isfile(filename):
            return filename
        same = [c for c in checkpoints_newest_first(self.work_dir)
                if _step(c)[0] == named[0]]
        if same and _step(same[0])[1] > named[1] and \
                osp.getmtime(same[0]) >= osp.getmtime(filename):
            self.logger.warning(
                f'{same[0]} is newer than {filename}, which last_checkpoint '
                'names (the run stopped after writing the checkpoint, before '
                f'updating last_checkpoint); resuming from {same[0]}.')
            return same[0]
        return filename

    def _remove_partial_writes(self) -> None:
        """Delete the temporary files that interrupted checkpoint writes
        left (``.iter_N.pth.tmp<pid>``, :func:`uagit_mm.fileio.temp_name`)."""
        if not is_main_process():
            return
        for path in glob.glob(osp.join(self.work_dir, '.*.pth.tmp*')):
            try:
                os.remove(path)
                self.logger.info(
                    f'Removed {path}, an interrupted checkpoint write.')
            except OSError:
                pass
