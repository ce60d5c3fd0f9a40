"""mmengine's Runner with safe checkpoint loading and a resume that survives
an interrupted or corrupt checkpoint; selected by ``runner_type`` in
``configs/_base_/uagit_runtime.py``."""
import glob
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mmagic.registry import RUNNERS
from ..checkpoint import (UnsafeCheckpointError, load_checkpoint_file,
                          trusted_loading)
from ..utils import unwrap_model

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

    Everything else is mmengine's ``Runner``; other models keep using it.
    """

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """mmengine's ``load_checkpoint`` with the safe loader."""
        checkpoint = load_checkpoint_file(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        _load_checkpoint_to_model(unwrap_model(self.model), checkpoint,
                                  strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        """Resume from ``filename``, or from the newest intact checkpoint
        of the work dir when it is older or corrupt (see the class doc)."""
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
                           f'{self.work_dir} ({filename} is corrupt).')

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
