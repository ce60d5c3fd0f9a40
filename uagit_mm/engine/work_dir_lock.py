"""One training run per work dir.

Two runs writing into one work dir overwrite each other's checkpoints and
``last_checkpoint``. A training run therefore holds an exclusive
``fcntl.flock`` on ``<work_dir>/.uagit.lock`` for as long as it runs (rank 0
of a distributed run holds it for all). The kernel releases a flock when
its process ends, however it ends (also ``SIGKILL``), so a lock file left by
a killed run never blocks: only a live holder does. The file records the
holder (pid, host, command) for the message a second run prints.

Where ``flock`` is not supported (some network file systems) the run goes
on with a warning rather than failing.
"""
import errno
import os
import os.path as osp
import socket
import sys
from typing import Optional

from mmengine.logging import print_log

from ..errors import UserError

LOCK_NAME = '.uagit.lock'


class WorkDirBusyError(UserError, RuntimeError):
    """Another live training run holds the work dir."""


def _holder(path: str) -> str:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        text = ''
    return text or 'another process'


class WorkDirLock:
    """An exclusive, non-blocking lock on a work dir.

    Args:
        work_dir (str): The run's work dir (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> 'WorkDirLock':
        """Take the lock, or raise :class:`WorkDirBusyError` naming the
        process that holds it."""
        import fcntl
        if self._fd is not None:
            return self
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise WorkDirBusyError(
                    f'work dir {self.work_dir} is in use by a running '
                    f'training ({_holder(self.path)}). Wait for it to end, '
                    'stop it, or train into another --work-dir.') from None
            print_log(
                f'Cannot lock work dir {self.work_dir} ({err.strerror}); '
                'going on without protection against a second run writing '
                'into it.', logger='current', level=30)
            return self
        os.ftruncate(fd, 0)
        os.write(fd, (f'pid {os.getpid()} on {socket.gethostname()}: '
                      f'{" ".join(sys.argv)}\n').encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (closing the file releases the flock); the
        file stays, empty, for the next run."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_work_dir_free(work_dir: str) -> None:
    """Raise :class:`WorkDirBusyError` when a live run holds ``work_dir``;
    touch nothing otherwise (a missing work dir is free)."""
    if not osp.isfile(osp.join(work_dir, LOCK_NAME)):
        return
    WorkDirLock(work_dir).acquire().release()
