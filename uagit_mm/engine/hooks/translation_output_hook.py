"""Write test-time translations and attention masks to disk."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine import print_log
from mmengine.hooks import Hook

from mmagic.registry import HOOKS
from mmagic.utils import tensor2img
from uagit_mm.errors import ConfigError
from ...apis.inference import mask_to_uint8
from ...fileio import save_png
from ...utils import unwrap_model


def _image_to_rgb_uint8(img: torch.Tensor) -> np.ndarray:
    """(3, H, W) BGR float in [0, 255] -> (H, W, 3) RGB uint8 (tensor2img
    swaps the channel order; it clamps in place, so it gets a copy)."""
    return tensor2img(img.clone(), min_max=(0, 255))


@HOOKS.register_module()
class TranslationOutputHook(Hook):
    """Save, for every test image, its translation and attention mask.

    mmagic's ``BasicVisualizationHook`` saves one ``pred_img`` per sample,
    and its ``VisualizationHook`` samples fixed batches; neither writes the
    two translated directions and their masks for a whole test set, which
    is what a user inspecting an attention model needs, so this hook does.

    Files go to ``<log_dir>/<out_dir>/<src>2<tgt>/<stem>.png`` (translation,
    BGR as loaded) and ``<stem>_mask.png`` (8-bit, 255 = attended).

    Args:
        domains (Sequence[str], optional): The two domain names. Defaults to
            the model's domains.
        out_dir (str): Folder under the run's log dir. Defaults to
            'translations'.
        max_images (int, optional): Stop after this many per direction.
    """

    priority = 'LOW'

    def __init__(self,
                 domains: Optional[Sequence[str]] = None,
                 out_dir: str = 'translations',
                 max_images: Optional[int] = None) -> None:
        if domains is not None and len(domains) != 2:
            raise ConfigError('TranslationOutputHook: domains must name two '
                              f'domains, got {domains}')
        self.domains = list(domains) if domains is not None else None
        self.out_dir = out_dir
        self.max_images = max_images
        self._counts = {}

    def before_test(self, runner) -> None:
        if self.domains is None:
            self.domains = list(unwrap_model(runner.model)._reachable_domains)
        self._counts = {d: 0 for d in self.domains}
        # the test set repeats the shorter domain's images to the length of
        # the longer one: write (and count) each source image once
        self._written = set()
        self.root = osp.join(runner.log_dir, self.out_dir)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        for sample in outputs or []:
            for src in self.domains:
                tgt = [d for d in self.domains if d != src][0]
                if self.max_images is not None and \
                        self._counts[src] >= self.max_images:
                    continue
                if f'fake_{tgt}' not in sample:
                    continue
                path = sample.get(f'img_{src}_path', None)
                stem = osp.splitext(osp.basename(path))[0] if path else \
                    f'{self._counts[src]:06d}'
                folder = osp.join(self.root, f'{src}2{tgt}')
                if path is not None:
                    if (src, path) in self._written:
                        continue
                    self._written.add((src, path))
                # the translations are BGR, as mmagic loads images
                save_png(osp.join(folder, f'{stem}.png'),
                         _image_to_rgb_uint8(sample.get(f'fake_{tgt}')))
                if f'attention_{src}' in sample:
                    save_png(
                        osp.join(folder, f'{stem}_mask.png'),
                        mask_to_uint8(sample.get(f'attention_{src}')))
                self._counts[src] += 1

    def after_test(self, runner) -> None:
        written = ', '.join(f'{s}2{[d for d in self.domains if d != s][0]}: '
                            f'{n}' for s, n in self._counts.items())
        print_log(f'Translations and attention masks written to {self.root} '
                  f'({written})', logger='current')
