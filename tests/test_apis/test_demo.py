"""The web demo's callback (uagit_mm.apis.demo) on a tiny model: the same
translation as translate_arrays, clear messages for bad uploads; the page
builds (the browser test: tests/test_tools/test_demo_browser.py)."""
import io
import os
import os.path as osp
import socket
import tempfile
from contextlib import redirect_stderr
from unittest import TestCase

import numpy as np
import torch
from mmengine.registry import init_default_scope
from PIL import Image
from test_translate_tools import CONFIG, TINY  # the tiny model beside

from mmagic.registry import MODELS
from uagit_mm.apis import translate_arrays
from uagit_mm.apis.demo import TranslationDemo, builtin_examples, main
from uagit_mm.apis.mask_control import MaskOptions
from uagit_mm.utils import load_config


def tiny_model():
    init_default_scope('mmagic')
    torch.manual_seed(0)
    model = MODELS.build(load_config(CONFIG, dict(TINY)).model)
    model.init_weights()
    return model.eval()


class TestDemoCallback(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = tiny_model()
        cls.demo = TranslationDemo(cls.model, max_side=32, max_pixels=5000,
                                   out_dir=cls.tmp.name)
        rng = np.random.RandomState(0)
        cls.image = rng.randint(0, 256, (40, 27, 3), dtype=np.uint8)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_as_translate_arrays(self):
        cases = [('a2b', 0.0, False, 'striped', MaskOptions()),
                 ('b2a', 0.0, True, 'smooth', MaskOptions(invert=True)),
                 ('a2b', 0.5, False, 'striped', MaskOptions(threshold=0.5)),
                 ('b2a', 0.3, True, 'smooth',
                  MaskOptions(threshold=0.3, invert=True))]
        for direction, threshold, invert, target, options in cases:
            with self.subTest(direction=direction, threshold=threshold,
                              invert=invert):
                r = self.demo.run(self.image, direction, threshold, invert)
                (fake, mask), = translate_arrays(
                    self.model, [self.image], target, max_side=32,
                    mask_options=options)
                np.testing.assert_array_equal(r.translation, fake)
                np.testing.assert_array_equal(r.mask, mask)
                np.testing.assert_array_equal(r.image, self.image)
                self.assertEqual(fake.shape, (40, 27, 3))
                # the downloads hold exactly what the page shows
                self.assertTrue(osp.basename(r.translation_png).endswith(
                    f'2{target}.png'))
                self.assertTrue(r.mask_png.endswith(f'2{target}_mask.png'))
                np.testing.assert_array_equal(
                    np.asarray(Image.open(r.translation_png)), fake)
                np.testing.assert_array_equal(
                    np.asarray(Image.open(r.mask_png)), mask)
                self.assertIn(f'→ {target}, 27×40 px', r.message)
                self.assertIn('longer side 32', r.message)
                if threshold:
                    self.assertIn(f'threshold {threshold:g}', r.message)
                else:
                    self.assertIn('continuous mask', r.message)
                self.assertEqual('inverted' in r.message, invert)
        # at the input size (no --max-side resizing): the threshold gives a
        # binary mask, and invert flips it
        demo = TranslationDemo(self.model, out_dir=self.tmp.name)
        soft = demo.run(self.image, 'a2b', 0, False)
        plain = demo.run(self.image, 'a2b', 0.5, False)
        flipped = demo.run(self.image, 'a2b', 0.5, True)
        self.assertGreater(len(np.unique(soft.mask)), 2)
        self.assertEqual(set(np.unique(plain.mask)) | {0, 255}, {0, 255})
        np.testing.assert_array_equal(flipped.mask, 255 - plain.mask)
        np.testing.assert_array_equal(plain.mask,
                                      (soft.mask > 127.5) * 255)

    def test_upload_path_reads_like_the_cli(self):
        path = osp.join(self.tmp.name, 'photo.png')
        Image.fromarray(self.image).save(path)
        r = self.demo.run(path, 'a2b')
        (fake, mask), = translate_arrays(self.model, [self.image], 'striped',
                                         max_side=32,
                                         mask_options=MaskOptions())
        np.testing.assert_array_equal(r.translation, fake)
        self.assertEqual(osp.basename(r.translation_png),
                         'photo_smooth2striped.png')

    def test_broken_uploads_give_a_message(self):
        junk = osp.join(self.tmp.name, 'sub', 'broken.png')
        os.makedirs(osp.dirname(junk), exist_ok=True)
        with open(junk, 'w') as f:
            f.write('not an image')
        empty = osp.join(self.tmp.name, 'empty.jpg')
        open(empty, 'w').close()
        big = osp.join(self.tmp.name, 'big.png')
        Image.new('RGB', (100, 60)).save(big)  # 6000 > max_pixels 5000
        for path, why in ((junk, 'cannot identify'), (empty, 'empty file'),
                          (big, '--max-pixels')):
            r = self.demo.run(path, 'a2b')
            self.assertTrue(r.message.startswith('Cannot use this file: '
                                                 + osp.basename(path)),
                            r.message)
            self.assertIn(why, r.message)
            # the user's file name, not the server's copy
            self.assertNotIn(self.tmp.name, r.message)
            self.assertIsNone(r.translation)
            self.assertIsNone(r.mask)
            self.assertIsNone(r.translation_png)
        r = self.demo.run(np.zeros((100, 60, 3), np.uint8))
        self.assertIn('--max-pixels', r.message)
        r = self.demo.run(np.zeros((10, 10), np.float32))
        self.assertIn('expected RGB uint8', r.message)
        self.assertIn('Upload an image', self.demo.run(None).message)

    def test_builtin_examples_and_page(self):
        paths = builtin_examples(osp.join(self.tmp.name, 'ex'))
        self.assertEqual(len(paths), 4)
        for p in paths:
            self.assertEqual(Image.open(p).size, (64, 64))
        demo = TranslationDemo(self.model)
        try:
            self.assertEqual(len(demo.examples), 4)
            self.assertTrue(all(osp.isfile(p) for p in demo.examples))
            try:
                import gradio  # noqa: F401
            except ImportError:
                if os.environ.get('CI') == 'true':
                    raise
                self.skipTest('gradio is not installed '
                              '(pip install -e ".[demo]")')
            page = demo.build()
            ids = {getattr(b, 'elem_id', None)
                   for b in page.blocks.values()}
            for elem_id in ('upload', 'examples', 'direction', 'threshold',
                            'invert', 'status', 'input-image', 'mask-image',
                            'translation-image', 'download-translation',
                            'download-mask'):
                self.assertIn(elem_id, ids)
        finally:
            demo.close()
        self.assertFalse(osp.exists(demo.out_dir))


class TestDemoCommand(TestCase):

    def run_main(self, *argv):
        err = io.StringIO()
        with redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = exc.code
        return code, err.getvalue()

    def test_clear_errors(self):
        try:
            import gradio  # noqa: F401
        except ImportError:
            code, err = self.run_main(CONFIG, 'x.pth')
            self.assertEqual((code, 'needs Gradio' in err), (2, True))
            return
        code, err = self.run_main(CONFIG, '/nonexistent/x.pth')
        self.assertEqual(code, 2)
        self.assertIn('checkpoint /nonexistent/x.pth does not exist', err)
        self.assertNotIn('Traceback', err)
        with tempfile.NamedTemporaryFile(suffix='.pth') as ckpt, \
                socket.socket() as taken:
            taken.bind(('127.0.0.1', 0))
            taken.listen()
            port = taken.getsockname()[1]
            code, err = self.run_main(CONFIG, ckpt.name, '--port', str(port))
            self.assertEqual(code, 2)
            self.assertIn(f'cannot listen on 127.0.0.1:{port}', err)
            self.assertIn('choose another --port', err)
            code, err = self.run_main(CONFIG, ckpt.name, '--examples',
                                      '/nonexistent')
            self.assertEqual(code, 2)
            self.assertIn('--examples /nonexistent is not a folder', err)
