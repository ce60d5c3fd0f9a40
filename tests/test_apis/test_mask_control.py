"""Mask control at inference: UAGIT.translate(mask=...), MaskOptions, the
user's masks, and the --mask-* flags of tools/translate.py."""
import contextlib
import io
import os
import os.path as osp
import tempfile
from unittest import TestCase

import numpy as np
import torch
from PIL import Image
from test_translate_tools import CONFIG, TINY, TINY_ARGS, ToolTestCase

from uagit_mm.apis import init_model, translate_arrays, translate_tensors
from uagit_mm.apis.mask_control import (MaskOptions, apply_mask_options,
                                        find_mask, read_mask)
from uagit_mm.apis.translate_cli import parse_args

RNG = np.random.RandomState(0)
IMG = RNG.randint(0, 256, (32, 40, 3), dtype=np.uint8)


def generator_output(model, img, target, mask=None):
    """G_target(mask * img) as RGB floats in [0, 255], computed by hand (the
    configs feed the generator ``mask * image``, normalised)."""
    pre = model.data_preprocessor
    x = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)[None]
    x = (x.float() - pre.mean) / pre.std
    if mask is not None:
        x = x * torch.as_tensor(mask, dtype=torch.float32)
    with torch.no_grad():
        g = model.generators[target](x) * pre.std + pre.mean
    return g[0].permute(1, 2, 0).numpy()[..., ::-1].clip(0, 255)


class TestApplyMaskOptions(TestCase):

    def test_each_option(self):
        m = torch.zeros(1, 1, 9, 9)
        m[0, 0, 4, 4] = 0.7
        m[0, 0, 0, 0] = 0.2
        self.assertTrue(torch.equal(apply_mask_options(m, None), m))
        self.assertTrue(torch.equal(apply_mask_options(m, MaskOptions()), m))
        thr = apply_mask_options(m, MaskOptions(threshold=0.5))
        self.assertEqual(thr.sum().item(), 1.0)
        self.assertEqual(thr[0, 0, 4, 4].item(), 1.0)
        # dilation by 2 pixels: a 5x5 square around the centre
        dil = apply_mask_options(m, MaskOptions(threshold=0.5, dilate=2))
        self.assertEqual(dil.sum().item(), 25.0)
        self.assertEqual(dil[0, 0, 2:7, 2:7].min().item(), 1.0)
        # at half the output size, 2 output pixels are 1 mask pixel
        half = apply_mask_options(m, MaskOptions(threshold=0.5, dilate=2),
                                  scale=0.5)
        self.assertEqual(half.sum().item(), 9.0)
        # inversion comes last: the complement of the dilated square
        inv = apply_mask_options(
            m, MaskOptions(threshold=0.5, dilate=2, invert=True))
        self.assertTrue(torch.equal(inv, 1 - dil))
        self.assertTrue(torch.allclose(
            apply_mask_options(m, MaskOptions(invert=True)), 1 - m))

    def test_bad_options_name_the_flag(self):
        with self.assertRaisesRegex(ValueError, '--mask-threshold'):
            MaskOptions(threshold=1.5)
        with self.assertRaisesRegex(ValueError, '--mask-dilate'):
            MaskOptions(dilate=-1)


class TestMaskedTranslation(TestCase):

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.model = init_model(CONFIG, None, cfg_options=dict(TINY))

    def test_zero_full_and_inverted_masks(self):
        model = self.model
        zero = np.zeros((32, 40), np.float32)
        full = np.ones((32, 40), np.float32)
        (f0, m0), = translate_arrays(model, [IMG], 'striped', masks=[zero])
        self.assertTrue(np.array_equal(f0, IMG))  # the input, unchanged
        self.assertEqual(m0.max(), 0)
        (f1, m1), = translate_arrays(model, [IMG], 'striped', masks=[full])
        gen = generator_output(model, IMG, 'striped')
        self.assertLessEqual(np.abs(f1 - gen).max(), 0.5 + 1e-3)
        self.assertEqual(m1.min(), 255)
        # inversion swaps them
        (fi0, _), = translate_arrays(model, [IMG], 'striped', masks=[zero],
                                     mask_options=MaskOptions(invert=True))
        (fi1, _), = translate_arrays(model, [IMG], 'striped', masks=[full],
                                     mask_options=MaskOptions(invert=True))
        self.assertTrue(np.array_equal(fi0, f1))
        self.assertTrue(np.array_equal(fi1, IMG))

    def test_half_mask_composes_both(self):
        half = np.zeros((32, 40), np.uint8)
        half[:, 20:] = 255  # uint8 masks: 255 = translate
        (f, m), = translate_arrays(self.model, [IMG], 'striped',
                                   masks=[half])
        gen = generator_output(self.model, IMG, 'striped', half / 255.)
        self.assertTrue(np.array_equal(f[:, :20], IMG[:, :20]))
        self.assertLessEqual(np.abs(f[:, 20:] - gen[:, 20:]).max(),
                             0.5 + 1e-3)
        self.assertTrue(np.array_equal(m, half))

    def test_masks_of_any_size_are_resized(self):
        small = np.ones((4, 5), np.float32)
        (f, m), = translate_arrays(self.model, [IMG], 'striped',
                                   masks=[small])
        self.assertEqual(m.shape, (32, 40))
        self.assertEqual(m.min(), 255)

    def test_threshold_uses_the_binarised_attention(self):
        model = self.model
        fake, attn = translate_tensors(model, [IMG], 'striped')
        t = float(attn.median())
        fake_t, used = translate_tensors(model, [IMG], 'striped',
                                         mask_options=MaskOptions(
                                             threshold=t))
        want = (attn > t).float()
        self.assertTrue(torch.equal(used, want))
        # the same as giving that binary mask by hand
        fake_m, _ = translate_tensors(model, [IMG], 'striped',
                                      masks=[want[0, 0].numpy()])
        self.assertTrue(torch.allclose(fake_t, fake_m))
        self.assertFalse(torch.allclose(fake_t, fake))

    def test_thresholded_mask_stays_binary_with_max_side(self):
        big = np.asarray(Image.fromarray(IMG).resize((123, 97),
                                                     Image.BICUBIC))
        _, attn = translate_tensors(self.model, [big], 'striped',
                                    max_side=40)
        t = float(attn.median())
        opts = MaskOptions(threshold=t)
        (f, m), = translate_arrays(self.model, [big], 'striped',
                                   max_side=40, mask_options=opts)
        self.assertEqual(m.shape, (97, 123))
        self.assertEqual(set(np.unique(m)), {0, 255})
        _, used = translate_tensors(self.model, [big], 'striped',
                                    max_side=40, mask_options=opts)
        self.assertEqual(used.shape[-2:], (97, 123))
        self.assertEqual(set(used.unique().tolist()), {0.0, 1.0})
        # without a threshold the mask is resized smoothly, as before
        (_, soft), = translate_arrays(self.model, [big], 'striped',
                                      max_side=40)
        self.assertGreater(len(np.unique(soft)), 2)

    def test_dilate_and_invert_the_attention(self):
        model = self.model
        _, attn = translate_tensors(model, [IMG], 'striped')
        opts = MaskOptions(threshold=float(attn.median()), dilate=1,
                           invert=True)
        _, used = translate_tensors(model, [IMG], 'striped',
                                    mask_options=opts)
        self.assertTrue(torch.equal(used, apply_mask_options(attn, opts)))
        # a dilated binary mask covers more, its inversion less
        binary = MaskOptions(threshold=opts.threshold)
        self.assertLess(used.sum(),
                        (1 - apply_mask_options(attn, binary)).sum())

    def test_model_translate_checks_the_mask(self):
        x = torch.zeros(1, 3, 8, 8)
        with self.assertRaisesRegex(ValueError, r'mask must be \(N, 1, 8, '):
            self.model.translate(x, 'striped', mask=torch.ones(1, 1, 4, 4))
        out, used = self.model.translate(x, 'striped',
                                         mask=torch.ones(1, 1, 8, 8))
        self.assertTrue(torch.equal(used, torch.ones(1, 1, 8, 8)))
        att = self.model.attend(x, 'striped')
        self.assertTrue(torch.allclose(
            att, self.model.translate(x, 'striped')[1]))


class TestUserMasks(TestCase):

    def test_find_and_read(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(osp.join(d, 'sub'))
            Image.fromarray(np.full((4, 6), 255, np.uint8)).save(
                osp.join(d, 'sub', 'a.png'))
            Image.fromarray(np.zeros((4, 6), np.uint8)).save(
                osp.join(d, 'b.jpg'))
            self.assertEqual(find_mask(d, osp.join('sub', 'a.jpg')),
                             osp.join(d, 'sub', 'a.png'))
            self.assertEqual(find_mask(d, 'b.jpg'), osp.join(d, 'b.jpg'))
            self.assertIsNone(find_mask(d, 'c.jpg'))
            m = read_mask(osp.join(d, 'sub', 'a.png'), (8, 12))
            self.assertEqual(m.shape, (8, 12))
            self.assertEqual(m.dtype, np.float32)
            self.assertEqual(m.min(), 1.0)

    def test_exif_orientation_applies_to_masks(self):
        with tempfile.TemporaryDirectory() as d:
            stored = np.zeros((10, 20), np.uint8)  # 20 wide, 10 high
            stored[:, :5] = 255  # left strip
            exif = Image.Exif()
            exif[0x0112] = 6  # display rotated 90 degrees clockwise
            path = osp.join(d, 'm.png')
            Image.fromarray(stored).save(path, exif=exif.tobytes())
            m = read_mask(path, (20, 10))  # upright: 10 wide, 20 high
            # the stored left strip is the top after a clockwise turn
            self.assertEqual(m[:5].min(), 1.0)
            self.assertEqual(m[6:].max(), 0.0)


class TestMaskFlags(ToolTestCase):
    """The --mask-* flags of tools/translate.py."""

    def translate(self, src, out, *flags):
        return self.run_tool('tools/translate.py', CONFIG, self.ckpt, src,
                             '--out-dir', out, *flags, '--cfg-options',
                             *TINY_ARGS)

    def test_flags(self):
        src = osp.join(self.tmp.name, 'in')
        masks = osp.join(self.tmp.name, 'masks')
        os.makedirs(osp.join(src, 'sub'))
        os.makedirs(osp.join(masks, 'sub'))
        Image.fromarray(IMG).save(osp.join(src, 'sub', 'a.png'))
        Image.fromarray(IMG[::-1]).save(osp.join(src, 'b.png'))
        Image.fromarray(IMG[:, ::-1]).save(osp.join(src, 'c.png'))
        # a's mask: the right half, another suffix; b's: nothing, at
        # another size; c's is missing
        half = np.zeros((32, 40), np.uint8)
        half[:, 20:] = 255
        Image.fromarray(half).save(osp.join(masks, 'sub', 'a.bmp'))
        Image.fromarray(np.zeros((7, 9), np.uint8)).save(
            osp.join(masks, 'b.png'))
        model = init_model(CONFIG, self.ckpt, cfg_options=dict(TINY))

        def read(out, name):
            return np.asarray(Image.open(osp.join(out, name)))

        out = osp.join(self.tmp.name, 'm_dir')
        rc, log = self.translate(src, out, '--mask-dir', masks)
        self.assertEqual(rc, 1, log)
        self.assertIn('translated 2', log)
        missing = [ln for ln in log.splitlines() if ln.startswith('failed')]
        self.assertEqual(len(missing), 1, log)
        self.assertIn('c.png', missing[0])
        self.assertIn('no mask', missing[0])
        self.assertFalse(osp.exists(osp.join(out, 'c.png')))
        self.assertTrue(np.array_equal(read(out, 'b.png'), IMG[::-1]))
        a = read(out, osp.join('sub', 'a.png'))
        self.assertTrue(np.array_equal(a[:, :20], IMG[:, :20]))
        gen = generator_output(model, IMG, 'striped', half / 255.)
        self.assertLessEqual(np.abs(a[:, 20:] - gen[:, 20:]).max(), 0.51)
        self.assertTrue(np.array_equal(read(out, 'b_mask.png'),
                                       np.zeros((32, 40), np.uint8)))

        # --invert-mask with the same masks: b comes out translated
        out = osp.join(self.tmp.name, 'm_inv')
        rc, log = self.translate(src, out, '--mask-dir', masks,
                                 '--invert-mask')
        b = read(out, 'b.png')
        gen_b = generator_output(model, IMG[::-1], 'striped')
        self.assertLessEqual(np.abs(b - gen_b).max(), 0.51)
        a = read(out, osp.join('sub', 'a.png'))
        self.assertTrue(np.array_equal(a[:, 20:], IMG[:, 20:]))

        # --mask-threshold and --mask-dilate on the attention
        _, attn = translate_tensors(model, [IMG[:, ::-1]], 'striped')
        t = float(attn.median())
        out = osp.join(self.tmp.name, 'm_thr')
        rc, log = self.translate(osp.join(src, 'c.png'), out,
                                 '--mask-threshold', str(t),
                                 '--mask-dilate', '2')
        self.assertEqual(rc, 0, log)
        want = apply_mask_options(attn, MaskOptions(threshold=t, dilate=2))
        mask = read(out, 'c_mask.png')
        self.assertTrue(np.array_equal(mask > 127,
                                       want[0, 0].numpy() > 0.5))

    def test_bad_values_are_refused_naming_the_flag(self):
        for flags, name in ((['--mask-threshold', '2'], '--mask-threshold'),
                            (['--mask-dilate', '-3'], '--mask-dilate'),
                            (['--mask-dir', osp.join(self.tmp.name, 'no')],
                             '--mask-dir')):
            err = io.StringIO()
            with self.assertRaises(SystemExit) as exit_, \
                    contextlib.redirect_stderr(err):
                parse_args(['c.py', 'w.pth', 'in', '--out-dir', 'o', *flags])
            self.assertEqual(exit_.exception.code, 2)
            self.assertIn(name, err.getvalue())
        args = parse_args(['c.py', 'w.pth', 'in', '--out-dir', 'o',
                           '--mask-threshold', '0.3', '--invert-mask',
                           '--mask-dilate', '4'])
        self.assertEqual(args.mask_options,
                         MaskOptions(threshold=0.3, invert=True, dilate=4))


class TestInferencerMaskParameters(ToolTestCase):
    """The inferencer's extra_parameters for mask control."""

    def test_each_parameter(self):
        from mmengine.config import Config

        from uagit_mm.apis import AttentionTranslationInferencer
        from uagit_mm.utils import load_config
        cfg = osp.join(self.tmp.name, 'tiny_cfg.py')
        load_config(CONFIG, dict(TINY)).dump(cfg)
        editor = AttentionTranslationInferencer(
            Config.fromfile(cfg), self.ckpt, device='cpu',
            extra_parameters=dict(target_domain='striped'))
        model = init_model(CONFIG, self.ckpt, cfg_options=dict(TINY))
        pre = model.data_preprocessor

        def run(**params):
            result, _ = editor(img=IMG, extra_parameters=params)
            fake = result['infer_results'] * pre.std[0] + pre.mean[0]
            return fake[[2, 1, 0]].permute(1, 2, 0).numpy(), \
                result['attention']

        plain, attn = run()
        # a zero mask (a file, any size): the input unchanged
        path = osp.join(self.tmp.name, 'zero_mask.png')
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(path)
        fake, used = run(mask=path)
        self.assertLess(np.abs(fake - IMG).max(), 1e-3)
        self.assertEqual(used.max().item(), 0)
        # the mask stays for later calls; inverted it is a full mask
        fake, used = run(invert_mask=True)
        gen = generator_output(model, IMG, 'striped')
        self.assertLess(np.abs(fake.clip(0, 255) - gen).max(), 1e-2)
        self.assertEqual(used.min().item(), 1)
        # an array mask, then none: back to the attention
        fake, used = run(mask=np.ones((32, 40)), invert_mask=False)
        self.assertLess(np.abs(fake.clip(0, 255) - gen).max(), 1e-2)
        fake, used = run(mask=None)
        self.assertTrue(torch.allclose(used, attn))
        # threshold and dilation of the attention
        t = float(attn.median())
        _, used = run(mask_threshold=t)
        self.assertTrue(torch.equal(used, (attn > t).float()))
        _, used = run(mask_dilate=2)
        self.assertTrue(torch.equal(used, apply_mask_options(
            attn[None], MaskOptions(threshold=t, dilate=2))[0]))
