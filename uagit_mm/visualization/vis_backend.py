"""mmagic's local visualisation backend, with image writes that fail loudly
and never leave a partial file."""
import os.path as osp

import numpy as np
from mmengine.visualization.vis_backend import force_init_env

from mmagic.registry import VISBACKENDS
from mmagic.visualization import VisBackend
from ..errors import WriteError
from ..fileio import save_png


@VISBACKENDS.register_module()
class AtomicVisBackend(VisBackend):
    """``VisBackend`` whose still images go through
    :func:`uagit_mm.fileio.save_png`.

    mmagic's ``add_image`` writes with ``cv2.imwrite``, which returns False
    instead of raising when the disk is full, so a training run would go on
    with missing or truncated grids and no word of it. Here the PNG is
    written atomically and a failed write raises
    :class:`~uagit_mm.errors.WriteError` naming the file. Scalars (appended
    to ``scalars.json``) keep mmagic's writer; a failed append there raises
    an ``OSError`` that names the file.
    """

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0,
                  **kwargs) -> None:
        """Write an RGB uint8 image (H, W, 3) as ``<name>_<step>.png``;
        other shapes (GIF frames) go to mmagic's writer."""
        if image.ndim != 3:
            return super().add_image(name, image, step, **kwargs)
        assert image.dtype == np.uint8
        save_png(osp.join(self._img_save_dir, f'{name}_{step}.png'), image)

    def _dump(self, value_dict: dict, file_path: str,
              file_format: str) -> None:
        try:
            super()._dump(value_dict, file_path, file_format)
        except OSError as err:
            if isinstance(err, WriteError):
                raise
            raise WriteError(file_path, err) from err
