"""bfloat16 inference: translate_tensors/translate_arrays(dtype=...),
tools/translate.py --dtype and the inferencer's ``dtype`` parameter."""
import glob
import os
import os.path as osp
import sys
from types import SimpleNamespace
from unittest import TestCase

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from uagit_mm.apis import translate_arrays, translate_tensors
from uagit_mm.apis.precision import autocast_context, resolve_dtype

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_translate_tools import (CONFIG, TINY, TINY_ARGS,  # noqa: E402
                                  ToolTestCase)


def images(n=2, size=(37, 45), seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, (*size, 3), dtype=np.uint8)
            for _ in range(n)]


def record_generator_dtype(model, domain):
    """The dtypes the first conv of ``model.generators[domain]`` outputs,
    as a list filled by a forward hook, and the hook's handle."""
    seen = []

    def hook(module, inputs, output):
        seen.append(output.dtype)

    conv = next(m for m in model.generators[domain].modules()
                if isinstance(m, nn.Conv2d))
    return seen, conv.register_forward_hook(hook)


class TestPrecision(TestCase):

    def test_resolve(self):
        self.assertIsNone(resolve_dtype(None))
        self.assertIsNone(resolve_dtype('fp32'))
        self.assertIsNone(resolve_dtype(torch.float32))
        self.assertIs(resolve_dtype('bf16'), torch.bfloat16)
        self.assertIs(resolve_dtype('bfloat16'), torch.bfloat16)
        self.assertIs(resolve_dtype(torch.bfloat16), torch.bfloat16)
        for bad in ('fp16', torch.float16, 'int8'):
            with self.assertRaisesRegex(ValueError, 'dtype'):
                resolve_dtype(bad)

    def test_context(self):
        with autocast_context('cpu', 'bf16'):
            self.assertTrue(torch.is_autocast_enabled('cpu'))
        with autocast_context(torch.device('cpu'), 'fp32'):
            self.assertFalse(torch.is_autocast_enabled('cpu'))


class TestBF16Translate(ToolTestCase):

    def test_tensors_in_bf16_close_to_fp32(self):
        model = self.model.eval()
        imgs = images()
        ref_fake, ref_attn = translate_tensors(model, imgs, 'striped')
        seen, handle = record_generator_dtype(model, 'striped')
        fake, attn = translate_tensors(model, imgs, 'striped', dtype='bf16')
        handle.remove()
        self.assertEqual(seen, [torch.bfloat16])  # the networks ran in bf16
        self.assertEqual(fake.dtype, torch.float32)
        self.assertEqual(attn.dtype, torch.float32)
        self.assertEqual(fake.shape, ref_fake.shape)
        self.assertEqual(attn.shape, ref_attn.shape)
        self.assertFalse(torch.is_autocast_enabled('cpu'))
        # normalised [-1, 1]: 2/255 of the 0-255 range is 4/255 here
        self.assertLess((fake - ref_fake).abs().mean().item(), 4 / 255)
        self.assertLess((attn - ref_attn).abs().mean().item(), 2 / 255)

    def test_arrays_in_bf16_close_to_fp32(self):
        imgs = images(size=(64, 64))
        ref = translate_arrays(self.model.eval(), imgs, 'smooth')
        out = translate_arrays(self.model, imgs, 'smooth',
                               dtype=torch.bfloat16)
        for (f_ref, m_ref), (f, m) in zip(ref, out):
            self.assertEqual(f.dtype, np.uint8)
            diff = np.abs(f.astype(int) - f_ref.astype(int)).mean()
            self.assertLessEqual(diff, 2.0)
            self.assertLessEqual(
                np.abs(m.astype(int) - m_ref.astype(int)).mean(), 2.0)

    def test_bad_dtype_and_exported_models(self):
        with self.assertRaisesRegex(ValueError, "dtype.*'fp16'"):
            translate_arrays(self.model, images(1), 'smooth', dtype='fp16')
        # not a torch module (e.g. an ONNX file's translator): no autocast
        exported = SimpleNamespace(
            device='cpu', data_preprocessor=self.model.data_preprocessor,
            translate=self.model.translate)
        with self.assertRaisesRegex(ValueError, 'bf16.*checkpoint'):
            translate_arrays(exported, images(1), 'smooth', dtype='bf16')

    def test_translate_tool_dtype(self):
        src = osp.join(self.tmp.name, 'bf16_in')
        os.makedirs(src, exist_ok=True)
        for i, im in enumerate(images(3, size=(40, 52), seed=3)):
            Image.fromarray(im).save(osp.join(src, f'{i}.png'))
        outs = {}
        for dtype in ('fp32', 'bf16'):
            out = osp.join(self.tmp.name, f'out_{dtype}')
            rc, log = self.run_tool('tools/translate.py', CONFIG, self.ckpt,
                                    src, '--out-dir', out, '--dtype', dtype,
                                    '--cfg-options', *TINY_ARGS)
            self.assertEqual(rc, 0, log)
            outs[dtype] = sorted(glob.glob(osp.join(out, '*.png')))
        self.assertEqual([osp.basename(p) for p in outs['fp32']],
                         [osp.basename(p) for p in outs['bf16']])
        self.assertEqual(len(outs['fp32']), 6)  # image and mask each
        for a, b in zip(outs['fp32'], outs['bf16']):
            diff = np.abs(np.asarray(Image.open(a), dtype=int) -
                          np.asarray(Image.open(b), dtype=int)).mean()
            self.assertLessEqual(diff, 2.0, osp.basename(a))
        rc, log = self.run_tool('tools/translate.py', CONFIG, self.ckpt, src,
                                '--out-dir', out, '--dtype', 'fp16')
        self.assertEqual(rc, 2)
        self.assertIn('--dtype', log)


class TestBF16Inferencer(ToolTestCase):

    def test_dtype_parameter(self):
        from uagit_mm.apis.inferencer import AttentionTranslationInferencer
        from uagit_mm.utils import load_config

        # the inferencer builds the model from a config file: the tiny one
        cfg = osp.join(self.tmp.name, 'tiny_cfg.py')
        load_config(CONFIG, dict(TINY)).dump(cfg)
        img = images(1, size=(30, 42), seed=5)[0]
        editor = AttentionTranslationInferencer(cfg, self.ckpt, device='cpu')
        ref, _ = editor(img=img)
        seen, handle = record_generator_dtype(editor.model, 'striped')
        out, _ = editor(img=img, extra_parameters={'dtype': 'bf16'})
        handle.remove()
        self.assertEqual(seen, [torch.bfloat16])
        diff = (out['infer_results'] - ref['infer_results']).abs().mean()
        self.assertLess(diff.item(), 4 / 255)  # [-1, 1] range
