"""tools/translate.py, tools/publish_model.py and the inference API, on a
tiny checkpoint made here (the mmagic inferencer: test_inferencer_contract)."""
import os
import os.path as osp
import subprocess
import sys
import tempfile
from unittest import TestCase, mock

import numpy as np
import torch
from mmengine.registry import init_default_scope
from PIL import Image

import uagit_mm  # noqa: F401
from mmagic.registry import MODELS
from uagit_mm.apis import (ImageReadError, find_images, init_model, read_rgb,
                           resolve_direction, translate_arrays)
from uagit_mm.checkpoint import UnsafeCheckpointError
from uagit_mm.utils import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'uagit_cpu_1xb1-2500iters_synthetic64.py')
TINY = {
    'model.generator.base_channels': 8,
    'model.generator.num_blocks': 1,
    'model.discriminator.base_channels': 8,
    'model.attention.base_channels': 4
}
TINY_ARGS = [f'{k}={v}' for k, v in TINY.items()]


def make_checkpoint(path):
    init_default_scope('mmagic')
    cfg = load_config(CONFIG, dict(TINY))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(),
                'meta': {'cfg': cfg.pretty_text, 'iter': 7},
                'optimizer': {'state': {}, 'param_groups': []}}, path)
    return model


class Evil:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


class ToolTestCase(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.ckpt = osp.join(cls.tmp.name, 'tiny.pth')
        cls.model = make_checkpoint(cls.ckpt)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_tool(self, *args, preexec_fn=None):
        env = dict(os.environ, OMP_NUM_THREADS='1')
        proc = subprocess.run([sys.executable, '-W', 'ignore', *args],
                              cwd=ROOT, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=600, env=env,
                              preexec_fn=preexec_fn)
        return proc.returncode, proc.stdout


class TestImageIO(TestCase):

    def test_modes_become_rgb(self):
        with tempfile.TemporaryDirectory() as d:
            rgb = np.random.RandomState(0).randint(0, 256, (5, 7, 3),
                                                   dtype=np.uint8)
            cases = {
                'gray.png': Image.fromarray(rgb[..., 0]),
                'rgba.png': Image.fromarray(np.dstack([rgb, rgb[..., :1]])),
                'pal.png': Image.fromarray(rgb).convert('P'),
                'g16.png': Image.fromarray(
                    rgb[..., 0].astype(np.uint16) * 257),
                'x.bmp': Image.fromarray(rgb),
                'x.tiff': Image.fromarray(rgb),
                'x.webp': Image.fromarray(rgb),
                'x.jpg': Image.fromarray(rgb),
            }
            for name, img in cases.items():
                img.save(osp.join(d, name))
                out = read_rgb(osp.join(d, name))
                self.assertEqual(out.shape, (5, 7, 3), name)
                self.assertEqual(out.dtype, np.uint8, name)
            g16 = read_rgb(osp.join(d, 'g16.png'))
            self.assertTrue(np.array_equal(g16[..., 1], rgb[..., 0]))
            self.assertTrue(np.array_equal(read_rgb(osp.join(d, 'rgba.png')),
                                           rgb))

    def test_bad_files_are_named(self):
        with tempfile.TemporaryDirectory() as d:
            empty = osp.join(d, 'empty.png')
            open(empty, 'w').close()
            junk = osp.join(d, 'junk.jpg')
            with open(junk, 'w') as f:
                f.write('not an image')
            for path in (empty, junk):
                with self.assertRaisesRegex(ImageReadError,
                                            osp.basename(path)):
                    read_rgb(path)
            os.makedirs(osp.join(d, 'sub'))
            Image.new('RGB', (3, 3)).save(osp.join(d, 'sub', 'a.png'))
            with open(osp.join(d, 'notes.txt'), 'w') as f:
                f.write('x')
            rels = [r for _, r in find_images(d)]
            self.assertEqual(rels, ['empty.png', 'junk.jpg',
                                    osp.join('sub', 'a.png')])


class TestInference(ToolTestCase):

    def test_any_size_output_matches_input(self):
        model = init_model(CONFIG, self.ckpt, cfg_options=dict(TINY))
        for h, w in [(1, 1), (13, 37), (64, 64), (65, 30)]:
            img = np.random.RandomState(h).randint(0, 256, (h, w, 3),
                                                   dtype=np.uint8)
            (fake, mask), = translate_arrays(model, [img], 'striped')
            self.assertEqual(fake.shape, (h, w, 3))
            self.assertEqual(mask.shape, (h, w))
        # --max-side: worked at 32 px, returned at the input size
        img = np.zeros((100, 50, 3), np.uint8)
        (fake, mask), = translate_arrays(model, [img], 'smooth', max_side=32)
        self.assertEqual(fake.shape, (100, 50, 3))

    def test_weights_match_the_model(self):
        model = init_model(CONFIG, self.ckpt, cfg_options=dict(TINY))
        for k, v in self.model.state_dict().items():
            self.assertTrue(torch.equal(model.state_dict()[k], v), k)
        self.assertEqual(resolve_direction(model, 'a2b'), 'striped')
        self.assertEqual(resolve_direction(model, 'b2a'), 'smooth')
        with self.assertRaises(ValueError):
            resolve_direction(model, target_domain='zebra')

    def test_wrapped_keys_and_missing_weights(self):
        """DDP's ``.module.`` segments are removed; discriminators may be
        missing, generator and attention weights may not."""
        state = self.model.state_dict()
        wrapped = {k.replace('generators.', 'generators.module.', 1): v
                   for k, v in state.items()
                   if not k.startswith('discriminators.')}
        path = osp.join(self.tmp.name, 'wrapped.pth')
        torch.save({'state_dict': wrapped}, path)
        model = init_model(CONFIG, path, cfg_options=dict(TINY))
        for k, v in state.items():
            if not k.startswith('discriminators.'):
                self.assertTrue(torch.equal(model.state_dict()[k], v), k)
        lost = next(k for k in state if k.startswith('attentions.'))
        del wrapped[lost]
        torch.save({'state_dict': wrapped}, path)
        with self.assertRaisesRegex(ValueError,
                                    f'does not fit .*missing.*{lost}'):
            init_model(CONFIG, path, cfg_options=dict(TINY))

    def test_mismatched_config_is_an_error(self):
        with self.assertRaisesRegex(ValueError, 'does not fit'):
            init_model(CONFIG, self.ckpt)  # full-size config

    def test_crafted_checkpoint_is_refused(self):
        marker = osp.join(self.tmp.name, 'pwned')
        evil = osp.join(self.tmp.name, 'evil.pth')
        torch.save({'state_dict': {}, 'x': Evil(marker)}, evil)
        with self.assertRaisesRegex(UnsafeCheckpointError, 'evil.pth'):
            init_model(CONFIG, evil, cfg_options=dict(TINY))
        self.assertFalse(osp.exists(marker))
        # the command says so in one line, without a traceback
        rc, log = self.run_tool('tools/translate.py', CONFIG, evil,
                                self.tmp.name, '--out-dir',
                                osp.join(self.tmp.name, 'evil_out'),
                                '--cfg-options', *TINY_ARGS)
        self.assertEqual(rc, 2, log)
        self.assertIn(f'Refusing to load {evil}', log)
        self.assertNotIn('Traceback', log)
        self.assertFalse(osp.exists(marker))


class TestTranslateTool(ToolTestCase):

    def test_folder_with_good_and_bad_files(self):
        src = osp.join(self.tmp.name, 'in')
        os.makedirs(osp.join(src, 'sub'))
        rng = np.random.RandomState(0)
        Image.fromarray(rng.randint(0, 256, (30, 41, 3), dtype=np.uint8)
                        ).save(osp.join(src, 'a.png'))
        Image.fromarray(rng.randint(0, 256, (30, 41), dtype=np.uint8)
                        ).save(osp.join(src, 'sub', 'b.jpg'))
        Image.fromarray(rng.randint(0, 256, (9, 9, 4), dtype=np.uint8)
                        ).save(osp.join(src, 'sub', 'c.png'))
        open(osp.join(src, 'zero.png'), 'w').close()
        with open(osp.join(src, 'broken.png'), 'wb') as f:
            f.write(b'\x89PNG\r\n\x1a\n' + b'\0' * 20)
        out = osp.join(self.tmp.name, 'out')
        rc, log = self.run_tool('tools/translate.py', CONFIG, self.ckpt, src,
                                '--out-dir', out, '--direction', 'b2a',
                                '--side-by-side', '--batch-size', '2',
                                '--cfg-options', *TINY_ARGS)
        self.assertEqual(rc, 1, log)
        self.assertIn('zero.png', log)
        self.assertIn('broken.png', log)
        self.assertIn('translated 3', log)
        for stem, size in (('a', (41, 30)), (osp.join('sub', 'b'), (41, 30)),
                           (osp.join('sub', 'c'), (9, 9))):
            img = Image.open(osp.join(out, stem + '.png'))
            mask = Image.open(osp.join(out, stem + '_mask.png'))
            self.assertEqual(img.size, size)
            self.assertEqual(img.mode, 'RGB')
            self.assertEqual(mask.mode, 'L')
            self.assertTrue(osp.isfile(osp.join(out, stem + '_side.png')))
        self.assertFalse(osp.exists(osp.join(out, 'zero.png')))
        leftovers = [f for _, _, fs in os.walk(out) for f in fs
                     if '.part' in f]
        self.assertEqual(leftovers, [])

        # existing outputs are kept unless --overwrite
        before = os.stat(osp.join(out, 'a.png')).st_mtime_ns
        rc, log = self.run_tool('tools/translate.py', CONFIG, self.ckpt,
                                osp.join(src, 'a.png'), '--out-dir', out,
                                '--cfg-options', *TINY_ARGS)
        self.assertEqual(rc, 0, log)
        self.assertIn('skipped 1', log)
        self.assertEqual(os.stat(osp.join(out, 'a.png')).st_mtime_ns, before)


class TestPublish(ToolTestCase):

    def test_slim_hashed_weights_only(self):
        out = osp.join(self.tmp.name, 'pub', 'uagit_tiny.pth')
        rc, log = self.run_tool('tools/publish_model.py', self.ckpt, out)
        self.assertEqual(rc, 0, log)
        final = log.strip().split()[-1]
        self.assertRegex(osp.basename(final), r'^uagit_tiny-[0-9a-f]{8}\.pth$')
        import hashlib
        with open(final, 'rb') as f:
            self.assertTrue(hashlib.sha256(f.read()).hexdigest().startswith(
                osp.basename(final)[len('uagit_tiny-'):-4]))
        state = torch.load(final, weights_only=True)
        self.assertEqual(set(state), {'state_dict', 'meta'})
        self.assertFalse(any(k.startswith('discriminators.')
                             for k in state['state_dict']))
        self.assertTrue(any(k.startswith('attentions.')
                            for k in state['state_dict']))
        # and it translates
        model = init_model(CONFIG, final, cfg_options=dict(TINY))
        (fake, _), = translate_arrays(model, [np.zeros((8, 8, 3), np.uint8)],
                                      'smooth')
        self.assertEqual(fake.shape, (8, 8, 3))

    def test_crafted_input_is_refused(self):
        marker = osp.join(self.tmp.name, 'pwned2')
        evil = osp.join(self.tmp.name, 'evil2.pth')
        torch.save({'state_dict': {'w': torch.zeros(1)}, 'x': Evil(marker)},
                   evil)
        rc, log = self.run_tool('tools/publish_model.py', evil,
                                osp.join(self.tmp.name, 'x.pth'))
        self.assertEqual(rc, 1)
        self.assertIn('Refusing to load', log)
        self.assertFalse(osp.exists(marker))


class TestConsoleScript(TestCase):

    def test_uagit_translate_is_installed(self):
        script = osp.join(osp.dirname(sys.executable), 'uagit-translate')
        self.assertTrue(osp.isfile(script), script)
        proc = subprocess.run([script, '--help'], text=True,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertIn('--direction', proc.stdout)

    def test_missing_checkpoint_is_one_line(self):
        script = osp.join(osp.dirname(sys.executable), 'uagit-translate')
        with tempfile.TemporaryDirectory() as tmp:
            missing = osp.join(tmp, 'no_such.pth')
            proc = subprocess.run(
                [script, CONFIG, missing, tmp, '--out-dir',
                 osp.join(tmp, 'out')], text=True, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(f'checkpoint {missing} does not exist', proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)


def write_large_png(path, width, height):
    """A valid black RGB PNG of any size, written row by row: large on
    decoding, small on disk."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

    comp = zlib.compressobj(9)
    row = b'\0' * (1 + 3 * width)  # filter byte + pixels
    parts = [comp.compress(row) for _ in range(height)] + [comp.flush()]
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n')
        f.write(chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2,
                                           0, 0, 0)))
        f.write(chunk(b'IDAT', b''.join(parts)))
        f.write(chunk(b'IEND', b''))


def drop_root_file_access():
    """In the child: give up root's right to read any file, so that file
    permissions apply (as for any other user)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), 'prctl(PR_CAPBSET_DROP)')


class TestHardInputs(ToolTestCase):
    """A folder of huge, tiny, fake, unreadable and good images."""

    def test_huge_tiny_fake_and_unreadable(self):
        src = osp.join(self.tmp.name, 'hard')
        os.makedirs(osp.join(src, 'locked'))
        rng = np.random.RandomState(1)
        Image.fromarray(rng.randint(0, 256, (24, 32, 3), dtype=np.uint8)
                        ).save(osp.join(src, 'good.png'))
        Image.fromarray(rng.randint(0, 256, (1, 1, 3), dtype=np.uint8)
                        ).save(osp.join(src, 'one_pixel.png'))
        # 80 megapixels: 240 MB decoded, a quarter of a MB on disk
        write_large_png(osp.join(src, 'huge.png'), 10000, 8000)
        with open(osp.join(src, 'notes.jpg'), 'w') as f:
            f.write('not an image')
        Image.fromarray(rng.randint(0, 256, (8, 8, 3), dtype=np.uint8)
                        ).save(osp.join(src, 'secret.png'))
        Image.fromarray(rng.randint(0, 256, (8, 8, 3), dtype=np.uint8)
                        ).save(osp.join(src, 'locked', 'inside.png'))
        os.chmod(osp.join(src, 'secret.png'), 0)
        os.chmod(osp.join(src, 'locked'), 0)
        out = osp.join(self.tmp.name, 'hard_out')
        try:
            rc, log = self.run_tool(
                'tools/translate.py', CONFIG, self.ckpt, src, '--out-dir',
                out, '--cfg-options', *TINY_ARGS,
                preexec_fn=drop_root_file_access if os.geteuid() == 0
                else None)
        finally:
            os.chmod(osp.join(src, 'locked'), 0o755)
            os.chmod(osp.join(src, 'secret.png'), 0o644)
        self.assertEqual(rc, 1, log)
        self.assertIn('translated 2', log)
        failures = [ln for ln in log.splitlines() if ln.startswith('failed:')]
        self.assertEqual(len(failures), 4, log)

        def failure(name):
            return next(ln for ln in failures if name in ln)

        self.assertIn('10000x8000', failure('huge.png'))
        self.assertIn('--max-pixels', failure('huge.png'))
        self.assertIn('notes.jpg', log)
        self.assertIn('Permission denied', failure('secret.png'))
        self.assertIn('cannot list the folder', failure('locked'))
        # good and 1x1 translated at their size; nothing else written
        self.assertEqual(Image.open(osp.join(out, 'good.png')).size, (32, 24))
        self.assertEqual(Image.open(osp.join(out, 'one_pixel.png')).size,
                         (1, 1))
        self.assertEqual(
            sorted(f for _, _, fs in os.walk(out) for f in fs),
            ['good.png', 'good_mask.png', 'one_pixel.png',
             'one_pixel_mask.png'])

    def test_max_pixels_is_checked_before_decoding(self):
        path = osp.join(self.tmp.name, 'wide.png')
        Image.fromarray(np.zeros((20, 300, 3), np.uint8)).save(path)
        with self.assertRaisesRegex(ImageReadError, r'300x20 is 6,000 '
                                    r'pixels.*5,999 \(--max-pixels\)'):
            read_rgb(path, max_pixels=5999)
        self.assertEqual(read_rgb(path, max_pixels=6000).shape, (20, 300, 3))
        self.assertEqual(read_rgb(path, max_pixels=None).shape, (20, 300, 3))

    def test_unlistable_folder_is_reported(self):
        root = osp.join(self.tmp.name, 'listing')
        os.makedirs(osp.join(root, 'sub'))
        errors = []
        with mock.patch('os.scandir', side_effect=PermissionError(
                13, 'Permission denied', root)):
            self.assertEqual(find_images(root, errors=errors), [])
        self.assertEqual(len(errors), 1)
        self.assertIn('cannot list the folder', errors[0])
        with mock.patch('os.scandir', side_effect=PermissionError(
                13, 'Permission denied', root)):
            with self.assertRaises(PermissionError):
                find_images(root)
