"""mmagic's inference API for attention-guided translation.

:class:`AttentionTranslationInferencer` is registered in mmengine's
``INFERENCERS`` registry under the task name ``'Attention-guided
Image2Image'``, and the model name ``'uagit'`` is added to mmagic's table of
inference models with that task, so ``MMagicInferencer(model_name='uagit',
model_config=CONFIG, model_ckpt=CHECKPOINT)`` builds it (mmagic 1.2 has no
way to reach a registered inferencer; see
``uagit_mm.compat._dispatch_registered_inferencers``). Every other model,
``'cyclegan'`` and ``'pix2pix'`` included, keeps mmagic's
``TranslationInferencer``.
"""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.registry import INFERENCERS

from mmagic.apis.inferencers.translation_inferencer import \
    TranslationInferencer
from mmagic.apis.mmagic_inferencer import MMagicInferencer
from mmagic.registry import MODELS
from mmagic.utils import tensor2img
from ..fileio import save_png
from .exported import exported_translator, is_exported
from .image_io import config_color_profiles, read_rgb
from .inference import (load_weights, mask_to_uint8, resolve_direction,
                        translate_tensors)
from .mask_control import MaskOptions, read_mask

#: The task of ``'uagit'`` in mmagic's model table, and the name the
#: inferencer is registered under (beside its class name).
TASK = 'Attention-guided Image2Image'

Preds = Tuple[torch.Tensor, torch.Tensor]


@INFERENCERS.register_module(
    name=['AttentionTranslationInferencer', 'attention_translation', TASK])
class AttentionTranslationInferencer(TranslationInferencer):
    """mmagic's translation inferencer for attention-guided models.

    Used as mmagic's ``TranslationInferencer`` is, with the same return
    value, plus what an attention model adds: a choice of direction, the
    attention mask, images of any size and mode.

    Inputs: ``img``, a path (any common image file; grayscale, RGBA, 16-bit
    are converted) or an RGB uint8 array (H, W, 3).

    Extra parameters (``extra_parameters={...}`` when building or calling;
    like mmagic's, a value given to a call stays for later calls):

    - ``target_domain``: the domain to translate into (default: the model's
      default domain, the second of ``model.domains``);
    - ``max_side``: translate larger images at this longer side and resize
      the result back to the input size (default: no bound);
    - ``mask_threshold``, ``invert_mask``, ``mask_dilate``: compose with
      the binarised ``[a > T]``, the complement (the background) or a mask
      grown by N pixels, as ``tools/translate.py``'s ``--mask-threshold``,
      ``--invert-mask`` and ``--mask-dilate``
      (:class:`~uagit_mm.apis.mask_control.MaskOptions`);
    - ``mask``: the user's own mask instead of the attention, a path (any
      image file, white = translate) or an (H, W) array (float in [0, 1]
      or uint8), of any size (resized to the image); like ``--mask-dir``
      for one image. It stays for later calls until set to None;
    - ``dtype``: 'bf16' runs the networks under bfloat16 autocast, as
      ``tools/translate.py --dtype bf16`` (default 'fp32').

    Returns ``(result, img)`` as mmagic's ``TranslationInferencer`` does:

    - ``result['infer_results']``: the translation (3, H, W) as the model
      gives it (BGR, in [-1, 1]);
    - ``result['attention']`` (the addition): the mask the composition
      used (1, H, W) in [0, 1], 1 = translated: the source image's
      attention, or what the mask parameters made of it;
    - ``img``: the translation for viewing, (1, 3, H, W) RGB in [0, 1].

    H and W are the input's size. With ``result_out_dir='out/x.png'`` it
    also writes ``out/x.png`` (the translation, RGB) and ``out/x_mask.png``
    (the mask, 8-bit, 255 = attended); both are PNG files, whatever the
    suffix of ``result_out_dir``.

    Examples:
        >>> from mmagic.apis import MMagicInferencer
        >>> import uagit_mm  # noqa
        >>> editor = MMagicInferencer(
        ...     model_name='uagit', model_config=CONFIG,
        ...     model_ckpt=CHECKPOINT,
        ...     extra_parameters=dict(target_domain='zebra'))
        >>> result, img = editor.infer(img='horse.jpg',
        ...                            result_out_dir='out/zebra.png')
        >>> mask = result['attention']  # (1, H, W) in [0, 1]
    """

    extra_parameters = dict(target_domain=None, max_side=None,
                            mask_threshold=None, invert_mask=False,
                            mask_dilate=0, mask=None, dtype='fp32')

    def __init__(self, config, ckpt: Optional[str] = None, *args,
                 **kwargs) -> None:
        if isinstance(config, str) and not osp.isfile(config):
            raise FileNotFoundError(
                f'config {config} not found: give the config the model was '
                "trained with, e.g. MMagicInferencer(model_name='uagit', "
                'model_config=CONFIG, model_ckpt=CHECKPOINT)')
        if not ckpt:
            warnings.warn('AttentionTranslationInferencer: no checkpoint '
                          'given, the model keeps its random weights')
        # an instance copy: mmagic keeps extra_parameters on the class
        self.extra_parameters = dict(type(self).extra_parameters)
        super().__init__(config, ckpt, *args, **kwargs)

    def _init_model(self, cfg, ckpt: Optional[str], device):
        """Build the model and load ``ckpt`` with :func:`load_weights`
        (``torch.load(weights_only=True)`` and a key check) in place of
        mmengine's ``load_checkpoint``; a file of ``tools/export.py``
        (ONNX, TorchScript) becomes an ``ExportedTranslator``."""
        if is_exported(ckpt):
            return exported_translator(cfg, ckpt, device)
        model = MODELS.build(cfg.model)
        if ckpt:
            load_weights(model, ckpt,
                         getattr(cfg, 'filename', None) or 'the config')
        model.cfg = cfg
        return model.to(device).eval()

    def preprocess(self, img: Union[str, np.ndarray]) -> np.ndarray:
        """Read ``img`` as RGB uint8 (upright: EXIF orientation applied,
        colour profiles as the model's config reads them),
        fix the target domain and the mask options, read a ``mask``."""
        params = self.extra_parameters
        self.target_domain = resolve_direction(
            self.model, target_domain=params['target_domain'])
        self.mask_options = MaskOptions(params['mask_threshold'],
                                        bool(params['invert_mask']),
                                        params['mask_dilate'] or 0)
        # read as the model's config reads its training images
        image = read_rgb(img, color_profiles=config_color_profiles(
            getattr(self.model, 'cfg', None))) if isinstance(
                img, str) else np.asarray(img)
        mask = params['mask']
        if isinstance(mask, str):
            mask = read_mask(mask, image.shape[:2])
        self.user_mask = None if mask is None else np.asarray(mask)
        return image

    def forward(self, inputs: np.ndarray) -> Preds:
        """The translation (1, 3, H, W) and the mask used (1, 1, H, W)."""
        return translate_tensors(
            self.model, [inputs], self.target_domain,
            max_side=self.extra_parameters['max_side'],
            mask_options=self.mask_options,
            masks=None if self.user_mask is None else [self.user_mask],
            dtype=self.extra_parameters['dtype'])

    def visualize(self, preds: Preds,
                  result_out_dir: Optional[str] = None) -> torch.Tensor:
        """The translation as (1, 3, H, W) RGB in [0, 1]; with
        ``result_out_dir``, the translation and mask PNGs written."""
        fake, attn = preds
        pre = self.model.data_preprocessor
        bgr = fake * pre.std.to(fake.device) + pre.mean.to(fake.device)
        imgs = (bgr[:, [2, 1, 0]] / 255.).clamp(0, 1)
        if result_out_dir:
            root, _ = osp.splitext(result_out_dir)
            # tensor2img swaps the channel order: BGR in, RGB out
            save_png(root + '.png',
                            tensor2img(bgr[0], min_max=(0, 255)))
            save_png(root + '_mask.png', mask_to_uint8(attn[0]))
        return imgs

    def postprocess(self, preds: Preds, imgs: Optional[torch.Tensor] = None,
                    is_batch: bool = False,
                    get_datasample: bool = False
                    ) -> Tuple[Union[Dict, List[Dict]], torch.Tensor]:
        """``(result, imgs)`` as mmagic's, ``result`` with the attention."""
        fake, attn = preds
        results = [
            dict(infer_results=f, attention=a) for f, a in zip(fake, attn)
        ]
        return (results if is_batch else results[0]), imgs


def add_to_model_table() -> None:
    """Add ``'uagit'`` to mmagic's table of inference models, once.

    The table is mmagic's own list of names ``MMagicInferencer`` accepts,
    read from its metafiles; its entry for ``'uagit'`` names no config or
    weights (give ``model_config`` and ``model_ckpt``) and the task
    :data:`TASK`.
    """
    if 'uagit' in MMagicInferencer.inference_supported_models:
        return
    # mmagic fills the table from its metafiles on first use; fill it first,
    # or that would look for configs/uagit/metafile.yml in mmagic
    MMagicInferencer.init_inference_supported_models_cfg()
    MMagicInferencer.inference_supported_models.append('uagit')
    MMagicInferencer.inference_supported_models_cfg['uagit'] = dict(
        task=TASK, settings=[dict(Name='uagit', Config='')])
