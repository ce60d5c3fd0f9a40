"""mmagic's inference API for attention-guided translation.

``MMagicInferencer(model_name='uagit', model_config=CONFIG,
model_ckpt=CHECKPOINT)`` builds :class:`AttentionTranslationInferencer`:
mmagic's ``TranslationInferencer`` always translates into the model's default
domain and returns no mask, so for UAGIT models this subclass lets
``extra_parameters={'target_domain': ...}`` choose the direction and returns
(and saves) the attention mask too. Other translation models go through
mmagic's code unchanged.
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np

from mmagic.apis import inferencers as _mmagic_inferencers
from mmagic.apis.inferencers.translation_inferencer import \
    TranslationInferencer
from mmagic.apis.mmagic_inferencer import MMagicInferencer
from .image_io import read_rgb, save_png_atomic
from .inference import resolve_direction, translate_arrays


class AttentionTranslationInferencer(TranslationInferencer):
    """Translation inferencer that knows about attention.

    Extra parameters: ``target_domain`` (default: the model's default
    domain) and ``max_side`` (bound on the working size). ``infer`` returns
    ``{'translation': RGB uint8 (H, W, 3), 'attention': uint8 (H, W)}``;
    with ``result_out_dir='out/x.png'`` it writes ``out/x.png`` and
    ``out/x_mask.png``.
    """

    def __init__(self, *args, **kwargs) -> None:
        # an instance copy: mmagic keeps extra_parameters on the class
        self.extra_parameters = dict(target_domain=None, max_side=None)
        super().__init__(*args, **kwargs)

    def _is_attention_model(self) -> bool:
        return hasattr(self.model, 'translate') and hasattr(
            self.model, 'attentions')

    def preprocess(self, img):
        if not self._is_attention_model():
            return super().preprocess(img)
        self.target_domain = resolve_direction(
            self.model, target_domain=self.extra_parameters['target_domain'])
        return read_rgb(img) if isinstance(img, str) else np.asarray(img)

    def forward(self, inputs):
        if not self._is_attention_model():
            return super().forward(inputs)
        fake, mask = translate_arrays(
            self.model, [inputs], self.target_domain,
            max_side=self.extra_parameters['max_side'])[0]
        return dict(translation=fake, attention=mask)

    def visualize(self, preds, result_out_dir: Optional[str] = None):
        if not self._is_attention_model():
            return super().visualize(preds, result_out_dir)
        if result_out_dir:
            root, _ = osp.splitext(result_out_dir)
            save_png_atomic(root + '.png', preds['translation'])
            save_png_atomic(root + '_mask.png', preds['attention'])
        return preds['translation']

    def postprocess(self, preds, imgs=None, is_batch: bool = False,
                    get_datasample: bool = False) -> Dict:
        if not self._is_attention_model():
            return super().postprocess(preds, imgs, is_batch, get_datasample)
        return preds


def register() -> None:
    """Make ``MMagicInferencer(model_name='uagit', ...)`` and the
    ``translation`` task use :class:`AttentionTranslationInferencer`."""
    _mmagic_inferencers.TranslationInferencer = \
        AttentionTranslationInferencer
    if 'uagit' not in MMagicInferencer.inference_supported_models:
        MMagicInferencer.init_inference_supported_models_cfg()
        MMagicInferencer.inference_supported_models.append('uagit')
        MMagicInferencer.inference_supported_models_cfg['uagit'] = dict(
            task='Image2Image', settings=[dict(Name='uagit', Config='')])
