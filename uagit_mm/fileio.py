"""Atomic local writes, as an mmengine file backend.

Every file uagit_mm writes (checkpoints, ``last_checkpoint``, PNGs, metrics,
published models) goes through :class:`AtomicLocalBackend`: the bytes are
written to a temporary file in the target's folder, flushed to disk and
renamed over the target. A run killed mid-write, or a full disk, leaves the
previous file intact and never a truncated one under the final name.

mmengine's ``LocalBackend.put`` opens the final path for writing directly,
so it is extended here (registered as ``'atomic_local'``) rather than
replaced: checkpoints reach it through ``CheckpointHook(backend_args=
dict(backend='atomic_local'))``, which :class:`SafeCheckpointHook` sets.
"""
import io
import os
import os.path as osp
from pathlib import Path
from typing import Union

import numpy as np
from mmengine.fileio import LocalBackend, get_file_backend, register_backend

from .errors import WriteError

BACKEND_ARGS = dict(backend='atomic_local')


def temp_name(filepath: str) -> str:
    """Where :meth:`AtomicLocalBackend.put` writes before renaming:
    ``<folder>/.<name>.tmp<pid>`` (hidden, so globs for ``*.pth`` or
    ``*.png`` never pick up a partial file)."""
    folder, name = osp.split(osp.abspath(filepath))
    return osp.join(folder, f'.{name}.tmp{os.getpid()}')


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose writes are all-or-nothing."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` to ``filepath`` through a temporary file that is
        renamed into place; on any error the old file stays and the
        temporary file is removed.

        Raises:
            WriteError: The file could not be written (e.g. the disk is
                full); it names ``filepath``.
        """
        filepath = str(filepath)
        tmp = temp_name(filepath)
        try:
            os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
            with open(tmp, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except OSError as err:
            # name the file the caller asked for, not the temporary one
            raise WriteError(filepath, err) from err
        finally:
            if osp.exists(tmp):
                os.remove(tmp)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """:meth:`put` for text."""
        self.put(obj.encode(encoding), filepath)


def atomic_backend() -> AtomicLocalBackend:
    """The shared backend instance."""
    return get_file_backend(backend_args=BACKEND_ARGS,
                            enable_singleton=True)


def save_png(path: str, image: np.ndarray) -> None:
    """Write an (H, W, 3) RGB or (H, W) gray uint8 array as a PNG,
    atomically."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format='PNG')
    atomic_backend().put(buf.getvalue(), path)
