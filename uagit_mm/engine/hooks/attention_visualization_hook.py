"""Show where the model looks: mask grids during training and testing."""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook

from mmagic.registry import HOOKS
from mmagic.utils import tensor2img
from uagit_mm.errors import ConfigError
from uagit_mm.utils.rng import get_rng_state, set_rng_state
from ...utils import unwrap_model


def _to_rgb_uint8(x: torch.Tensor, bgr: bool) -> np.ndarray:
    """(C, H, W) in [-1, 1] (or (1, H, W) in [0, 1] for masks) -> RGB HWC.

    tensor2img gets copies: it clamps its input in place.
    """
    if x.shape[0] == 1:
        return tensor2img(x.repeat(3, 1, 1), min_max=(0, 1))
    # tensor2img swaps the channel order (it expects RGB and gives BGR)
    img = tensor2img(x.clone(), min_max=(-1, 1))
    return img if bgr else np.ascontiguousarray(img[..., ::-1])


@HOOKS.register_module()
class AttentionVisualizationHook(Hook):
    """Grids of input | attention | translated | reconstruction.

    For both directions, on a fixed set of samples, every ``interval``
    training iterations (and after the last one) and once per test run. The
    grids go through the runner's visualizer, so they land in every
    configured backend: ``<log_dir>/vis_data/vis_image/`` for the local
    backend (the default), TensorBoard when its backend is configured. mmagic's
    ``VisualizationHook`` cannot show the attention or the reconstruction,
    which is why this hook exists.

    Args:
        interval (int): Training iterations between grids. Defaults to 500.
        num_samples (int): Rows per grid. Defaults to 4.
        bgr (bool): Whether model inputs are BGR (mmagic loads images as
            BGR); grids are written as RGB. Defaults to True.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, num_samples: int = 4,
                 bgr: bool = True) -> None:
        if interval < 1 or num_samples < 1:
            raise ConfigError('AttentionVisualizationHook: interval and '
                              'num_samples must be >= 1')
        self.interval = interval
        self.num_samples = num_samples
        self.bgr = bgr

    def _fixed_batch(self, dataset) -> dict:
        # the unpaired dataset draws the B image at random in training:
        # draw with a fixed seed, leaving the training generators untouched
        state = get_rng_state()
        np.random.seed(0)
        random.seed(0)
        try:
            n = min(self.num_samples, len(dataset))
            return pseudo_collate([dataset[i] for i in range(n)])
        finally:
            set_rng_state(state)

    @torch.no_grad()
    def draw(self, runner, dataset, tag: str, step: int) -> List[str]:
        """Add one grid per direction to the visualizer; return their
        names."""
        model = unwrap_model(runner.model)
        was_training = model.training
        model.eval()
        try:
            data = model.data_preprocessor(self._fixed_batch(dataset), False)
            names = []
            for src in model._reachable_domains:
                tgt = model.other_domain(src)
                real = data['inputs'][f'img_{src}']
                fake, attn = model.translate(real, tgt)
                rec, _ = model.translate(fake, src)
                rows = [
                    np.concatenate([
                        _to_rgb_uint8(t[i], self.bgr)
                        for t in (real, attn, fake, rec)
                    ], axis=1) for i in range(real.shape[0])
                ]
                name = f'{tag}_{src}2{tgt}'
                runner.visualizer.add_image(
                    name, np.concatenate(rows, axis=0), step=step)
                names.append(name)
            return names
        finally:
            model.train(was_training)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self.draw(runner, runner.train_dataloader.dataset, 'train',
                      runner.iter + 1)

    def after_test(self, runner) -> None:
        self.draw(runner, runner.test_dataloader.dataset, 'test', runner.iter)
