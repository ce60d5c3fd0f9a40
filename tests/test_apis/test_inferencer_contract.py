"""mmagic's inference API with uagit_mm imported: which class each model
gets, and what it returns (issue 13; issue 17 points 4 and 5).

Modelled on the public behaviour mmagic's own tests check for its
translation inferencer (build ``TranslationInferencer(config, ckpt)``, call
it with ``img`` and ``result_out_dir``, check the result's shape and type),
on tiny networks, with configs and checkpoints made here.
"""
import os.path as osp
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import INFERENCERS, init_default_scope
from PIL import Image
from test_translate_tools import CONFIG, TINY

import mmagic.apis.inferencers as mmagic_inferencers
import uagit_mm  # noqa: F401  (before mmagic: the compatibility fixes)
from mmagic.apis import MMagicInferencer, mmagic_inferencer
from mmagic.apis.inferencers.translation_inferencer import \
    TranslationInferencer
from mmagic.registry import MODELS
from uagit_mm.apis import (AttentionTranslationInferencer, init_model,
                           translate_arrays)
from uagit_mm.utils import load_config

# a tiny CycleGAN in mmagic's own config style (KeyMapper + PackInputs)
CYCLEGAN_CONFIG = """
default_scope = 'mmagic'
model = dict(
    type='CycleGAN',
    data_preprocessor=dict(
        type='DataPreprocessor', data_keys=['img_photo', 'img_paint']),
    generator=dict(
        type='ResnetGenerator', in_channels=3, out_channels=3,
        base_channels=8, norm_cfg=dict(type='IN'), use_dropout=False,
        num_blocks=1, padding_mode='reflect',
        init_cfg=dict(type='normal', gain=0.02)),
    discriminator=dict(
        type='PatchDiscriminator', in_channels=3, base_channels=8,
        num_conv=2, norm_cfg=dict(type='IN'),
        init_cfg=dict(type='normal', gain=0.02)),
    default_domain='photo',
    reachable_domains=['photo', 'paint'],
    related_domains=['photo', 'paint'])
test_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='KeyMapper',
         mapping=dict(img_photo='img_A', img_paint='img_B'),
         remapping=dict(img_photo='img_photo', img_paint='img_paint')),
    dict(type='PackInputs', keys=['img_photo', 'img_paint'],
         data_keys=['img_photo', 'img_paint']),
]
test_dataloader = dict(
    batch_size=1,
    dataset=dict(type='UnpairedImageDataset', data_root=None,
                 test_mode=True, pipeline=test_pipeline))
"""


def _save_weights(cfg: Config, path: str) -> None:
    init_default_scope('mmagic')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 7}}, path)


class TestInferencerContract(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        tmp = cls.tmp.name
        # UAGIT: the synthetic config, shrunk
        cls.cfg = osp.join(tmp, 'uagit_tiny.py')
        load_config(CONFIG, dict(TINY)).dump(cls.cfg)
        cls.ckpt = osp.join(tmp, 'uagit_tiny.pth')
        _save_weights(Config.fromfile(cls.cfg), cls.ckpt)
        # CycleGAN
        cls.cyc_cfg = osp.join(tmp, 'cyclegan_tiny.py')
        with open(cls.cyc_cfg, 'w') as f:
            f.write(CYCLEGAN_CONFIG)
        cls.cyc_ckpt = osp.join(tmp, 'cyclegan_tiny.pth')
        _save_weights(Config.fromfile(cls.cyc_cfg), cls.cyc_ckpt)
        # an input whose sides are not multiples of the generators' 4
        cls.img = osp.join(tmp, 'in.png')
        Image.fromarray(np.random.RandomState(1).randint(
            0, 256, (30, 42, 3), dtype=np.uint8)).save(cls.img)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def _uagit(self, **kwargs) -> MMagicInferencer:
        return MMagicInferencer(model_name='uagit', model_config=self.cfg,
                                model_ckpt=self.ckpt, device='cpu', **kwargs)

    # A: who gets which class -------------------------------------------
    def test_a_cyclegan_keeps_mmagics_translation_inferencer(self):
        # nothing of mmagic's was replaced
        self.assertIs(mmagic_inferencers.TranslationInferencer,
                      TranslationInferencer)
        editor = MMagicInferencer(
            model_name='cyclegan', model_config=self.cyc_cfg,
            model_ckpt=self.cyc_ckpt, device='cpu')
        self.assertIs(type(editor.inferencer.inferencer),
                      TranslationInferencer)
        result, img = editor.infer(img=self.img)
        stock_result, stock_img = TranslationInferencer(
            self.cyc_cfg, self.cyc_ckpt, device='cpu')(img=self.img)
        self.assertEqual(set(result), {'infer_results'})
        self.assertTrue(torch.equal(result['infer_results'],
                                    stock_result['infer_results']))
        self.assertTrue(torch.equal(img, stock_img))
        self.assertEqual(img.shape[:2], (1, 3))

    def test_a_uagit_gets_the_attention_inferencer(self):
        editor = self._uagit()
        self.assertIs(type(editor.inferencer.inferencer),
                      AttentionTranslationInferencer)
        self.assertIs(INFERENCERS.get('Attention-guided Image2Image'),
                      AttentionTranslationInferencer)
        self.assertIn('Attention-guided Image2Image',
                      MMagicInferencer.get_inference_supported_tasks())
        self.assertEqual(MMagicInferencer.get_task_supported_models(
            'Attention-guided Image2Image'), ['uagit'])
        # a task neither mmagic nor the registry knows: mmagic's error
        with self.assertRaisesRegex(ValueError,
                                    'Unknown inferencer task: no such'):
            mmagic_inferencer.Inferencers(task='no such', config=self.cfg)

    # B: mmagic's own inferencer runs on our config ---------------------
    def test_b_stock_translation_inferencer_on_a_uagit_config(self):
        out = osp.join(self.tmp.name, 'stock', 'out.png')
        result, img = TranslationInferencer(
            self.cfg, self.ckpt, device='cpu')(img=self.img,
                                               result_out_dir=out)
        fake = result['infer_results']
        self.assertEqual(tuple(fake.shape), (3, 30, 42))
        self.assertEqual(tuple(img.shape), (1, 3, 30, 42))
        self.assertTrue(osp.isfile(out))
        self.assertEqual(Image.open(out).size, (42, 30))
        # into the default domain, as ours translates without a direction
        ours, ours_img = AttentionTranslationInferencer(
            self.cfg, self.ckpt, device='cpu')(img=self.img)
        torch.testing.assert_close(ours['infer_results'], fake,
                                   atol=1e-5, rtol=0)
        torch.testing.assert_close(ours_img, img, atol=1e-5, rtol=0)

    # C: mmagic's return value, plus the mask ---------------------------
    def test_c_uagit_returns_mmagics_tuple_and_the_mask(self):
        editor = self._uagit(extra_parameters={'target_domain': 'smooth'})
        out = osp.join(self.tmp.name, 'ours', 'x.png')
        res = editor.infer(img=self.img, result_out_dir=out)
        self.assertIsInstance(res, tuple)
        self.assertEqual(len(res), 2)
        result, img = res
        self.assertEqual(set(result), {'infer_results', 'attention'})
        fake, mask = result['infer_results'], result['attention']
        self.assertEqual(tuple(fake.shape), (3, 30, 42))
        self.assertEqual(tuple(mask.shape), (1, 30, 42))
        self.assertTrue(0 <= mask.min() and mask.max() <= 1)
        # the second item: RGB in [0, 1], as TranslationInferencer.visualize
        self.assertEqual(tuple(img.shape), (1, 3, 30, 42))
        torch.testing.assert_close(img[0], (fake[[2, 1, 0]] + 1) / 2,
                                   atol=1e-5, rtol=0)
        # the files: what the translate tool writes for the same image
        model = init_model(self.cfg, self.ckpt)
        (want_fake, want_mask), = translate_arrays(
            model, [np.asarray(Image.open(self.img))], 'smooth')
        np.testing.assert_array_equal(np.asarray(Image.open(out)), want_fake)
        np.testing.assert_array_equal(
            np.asarray(Image.open(osp.join(self.tmp.name, 'ours',
                                           'x_mask.png'))), want_mask)

        # the direction is an extra parameter, and it matters
        other, _ = editor.infer(
            img=self.img, extra_parameters={'target_domain': 'striped'})
        self.assertFalse(torch.equal(other['infer_results'], fake))
        # max_side: worked at 16 pixels, returned at the input size
        small, small_img = editor.infer(
            img=self.img, extra_parameters={'max_side': 16})
        self.assertEqual(tuple(small['infer_results'].shape), (3, 30, 42))
        self.assertEqual(tuple(small['attention'].shape), (1, 30, 42))
        self.assertEqual(tuple(small_img.shape), (1, 3, 30, 42))
        # parameters belong to the instance, not to the class
        defaults = dict(target_domain=None, max_side=None,
                        mask_threshold=None, invert_mask=False,
                        mask_dilate=0, mask=None, dtype='fp32')
        self.assertEqual(AttentionTranslationInferencer.extra_parameters,
                         defaults)
        self.assertEqual(editor.inferencer.get_extra_parameters(),
                         list(defaults))

    def test_c_arrays_and_unknown_domains(self):
        editor = AttentionTranslationInferencer(self.cfg, self.ckpt,
                                                device='cpu')
        rgb = np.asarray(Image.open(self.img))
        from_path, _ = editor(img=self.img)
        from_array, _ = editor(img=rgb)
        self.assertTrue(torch.equal(from_path['infer_results'],
                                    from_array['infer_results']))
        with self.assertRaisesRegex(ValueError, 'zebra'):
            editor(img=rgb, extra_parameters={'target_domain': 'zebra'})
        with self.assertRaisesRegex(FileNotFoundError, 'model_config'):
            MMagicInferencer(model_name='uagit', model_ckpt=self.ckpt,
                             device='cpu')
