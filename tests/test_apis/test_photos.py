"""Photos as people have them: EXIF orientation, CMYK, palette, animated,
16-bit and odd JPEG files (written here by Pillow; where Pillow cannot
write a kind, by OpenCV), real photographs (scikit-image's bundled
astronaut, coffee and chelsea), inputs whose names differ only in suffix,
a large image under a memory bound, and a tool that prints no import
noise."""
import contextlib
import io
import os
import os.path as osp
import re
import struct
import subprocess
import sys
import tempfile
from unittest import TestCase

import cv2
import numpy as np
import skimage.data
from PIL import Image
from test_translate_tools import (CONFIG, ROOT, TINY, TINY_ARGS, ToolTestCase,
                                  write_large_png)

from uagit_mm.apis import ImageReadError, init_model, read_rgb
from uagit_mm.apis.memory import MemoryPlanner
from uagit_mm.apis.translate_cli import output_names, plan_outputs

T = Image.Transpose
#: The transposition that, applied to an upright image, gives the pixels a
#: camera stores with each EXIF orientation (the inverse of what the
#: orientation asks a viewer to do).
STORED = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM,
          5: T.TRANSPOSE, 6: T.ROTATE_90, 7: T.TRANSVERSE, 8: T.ROTATE_270}


def photo(name: str = 'coffee', size=(60, 90)) -> np.ndarray:
    """A real photograph (scikit-image's bundled data), RGB (H, W, 3)."""
    img = Image.fromarray(getattr(skimage.data, name)())
    return np.asarray(img.resize(size[::-1], Image.LANCZOS))


def save_oriented(path: str, upright: np.ndarray, orientation: int,
                  **kwargs) -> None:
    """Save ``upright`` as a camera would with EXIF ``orientation``."""
    img = Image.fromarray(upright)
    if orientation != 1:
        img = img.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes(), **kwargs)


def _s15(x: float) -> bytes:
    return struct.pack('>i', int(round(x * 65536)))


def matrix_icc(red, green, blue, gamma: float = 2.2,
               name: str = 'test RGB') -> bytes:
    """A minimal ICC v2 RGB display profile (primaries as D50 XYZ columns,
    one gamma curve), written here byte by byte so that tests can embed a
    profile other than sRGB without shipping one."""
    def xyz(v):
        return b'XYZ ' + bytes(4) + b''.join(_s15(c) for c in v)
    text = name.encode('ascii') + b'\0'
    desc = (b'desc' + bytes(4) + struct.pack('>I', len(text)) + text +
            bytes(8) + bytes(3) + bytes(67))
    curve = b'curv' + bytes(4) + struct.pack('>IH', 1, round(gamma * 256))
    tags = [(b'desc', desc), (b'wtpt', xyz((0.9642, 1.0, 0.8249))),
            (b'rXYZ', xyz(red)), (b'gXYZ', xyz(green)),
            (b'bXYZ', xyz(blue)), (b'rTRC', curve), (b'gTRC', curve),
            (b'bTRC', curve), (b'cprt', b'text' + bytes(4) + b'none\0')]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack('>I', len(tags)), b''
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack('>II', offset + len(data), len(body))
        data += body
    header = (struct.pack('>I', offset + len(data)) + b'lcms' +
              struct.pack('>I', 0x02100000) + b'mntrRGB XYZ ' + bytes(12) +
              b'acspAPPL' + bytes(20) + struct.pack('>I', 0) +
              _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b'lcms' + bytes(44))
    return header + table + data


#: sRGB's primaries adapted to D50 (the ICC connection space)
SRGB_PRIMARIES = ((0.4360, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971),
                  (0.1431, 0.0606, 0.7141))


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


class TestReadPhotos(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name: str) -> str:
        return osp.join(self.tmp.name, name)

    def test_every_exif_orientation_comes_out_upright(self):
        upright = photo('coffee')  # 90 wide, 60 high
        for o in range(1, 9):
            path = self.path(f'o{o}.jpg')
            save_oriented(path, upright, o, quality=95, subsampling=0)
            got = read_rgb(path)
            self.assertEqual(got.shape, upright.shape, o)
            self.assertLess(diff(got, upright), 3, o)
            stored = np.asarray(Image.open(path).convert('RGB'))
            if o in (2, 3, 4):  # same shape: the content must differ
                self.assertGreater(diff(stored, upright), 20, o)
        # orientation in a PNG's eXIf chunk, lossless: exact
        save_oriented(self.path('o6.png'), upright, 6)
        self.assertTrue(np.array_equal(read_rgb(self.path('o6.png')),
                                       upright))

    def test_real_portrait_photographs(self):
        for name, o in (('astronaut', 6), ('coffee', 8), ('chelsea', 3)):
            upright = photo(name, (100, 70))  # a portrait: 70 wide
            path = self.path(f'{name}.jpg')
            save_oriented(path, upright, o, quality=95, subsampling=0)
            self.assertEqual(Image.open(path).size,
                             (100, 70) if o in (6, 8) else (70, 100))
            got = read_rgb(path)
            self.assertEqual(got.shape, (100, 70, 3), name)
            self.assertLess(diff(got, upright), 3, name)

    def test_cmyk_palette_16bit_and_other_modes(self):
        rgb = photo('chelsea')
        cases = {}
        Image.fromarray(rgb).convert('CMYK').save(self.path('cmyk.jpg'),
                                                  quality=95)
        cases['cmyk.jpg'] = (rgb, 4)
        pal = Image.fromarray(rgb).convert('P', palette=Image.ADAPTIVE,
                                           colors=32)
        pal.save(self.path('pal.png'))
        cases['pal.png'] = (np.asarray(pal.convert('RGB')), 0)
        pal.save(self.path('pal_transparent.png'), transparency=0)
        cases['pal_transparent.png'] = (np.asarray(pal.convert('RGB')), 0)
        pal.save(self.path('pal.gif'))
        cases['pal.gif'] = (np.asarray(pal.convert('RGB')), 0)
        gray = rgb[..., 1]
        Image.fromarray(gray.astype(np.uint16) * 257).save(
            self.path('gray16.png'))  # Pillow: mode I;16
        cases['gray16.png'] = (np.dstack([gray] * 3), 0)
        # Pillow cannot write 16-bit colour PNGs; OpenCV can
        cv2.imwrite(self.path('rgb16.png'),
                    rgb[..., ::-1].astype(np.uint16) * 257)
        cases['rgb16.png'] = (rgb, 0)
        Image.fromarray(rgb).convert('LA').save(self.path('la.png'))
        cases['la.png'] = (np.dstack([np.asarray(
            Image.fromarray(rgb).convert('L'))] * 3), 0)
        Image.fromarray(gray > 127).save(self.path('bits.png'))
        cases['bits.png'] = (np.dstack([(gray > 127) * 255] * 3), 0)
        Image.fromarray(gray.astype(np.float32) / 255).save(
            self.path('float.tif'))  # mode F in [0, 1]
        cases['float.tif'] = (np.dstack([gray] * 3), 0.5)
        Image.fromarray(rgb).save(self.path('progressive.jpg'), quality=95,
                                  progressive=True)
        cases['progressive.jpg'] = (rgb, 3)
        Image.fromarray(gray).save(self.path('gray.jpg'), quality=95)
        cases['gray.jpg'] = (np.dstack([gray] * 3), 2)
        for name, (want, tol) in cases.items():
            got = read_rgb(self.path(name))
            self.assertEqual(got.shape, rgb.shape, name)
            self.assertEqual(got.dtype, np.uint8, name)
            self.assertLessEqual(diff(got, want), tol, name)

    def test_colour_profiles_are_converted_to_srgb(self):
        from PIL import ImageCms
        red, green, blue = SRGB_PRIMARIES
        swapped = matrix_icc(green, red, blue, name='red-green swapped')
        like_srgb = matrix_icc(red, green, blue, name='gamma 2.2 RGB')
        pixels = np.zeros((8, 12, 3), np.uint8)
        pixels[..., 0], pixels[..., 1], pixels[..., 2] = 200, 30, 30
        for suffix in ('.png', '.jpg', '.tif'):
            with self.subTest(suffix=suffix):
                # a profile whose red is sRGB's green: red pixels show green
                path = self.path('swapped' + suffix)
                Image.fromarray(pixels).save(path, icc_profile=swapped,
                                             quality=95)
                got = read_rgb(path).astype(int)
                self.assertGreater(got[..., 1].mean(), 150, got[0, 0])
                self.assertLess(got[..., 0].mean(), 60, got[0, 0])
                # sRGB's primaries with a 2.2 curve: nearly unchanged (the
                # curves differ a little in the shadows)
                path = self.path('like_srgb' + suffix)
                Image.fromarray(pixels).save(path, icc_profile=like_srgb,
                                             quality=95)
                self.assertLess(diff(read_rgb(path), pixels), 8)
        # a real photograph with an Adobe RGB (1998) profile (scikit-image's
        # rocket.jpg): Adobe RGB values read as sRGB look dull, so the
        # converted pixels are more saturated; read without the conversion
        # they would be equal
        rocket = osp.join(osp.dirname(skimage.data.__file__), 'rocket.jpg')
        with Image.open(rocket) as img:
            self.assertIn('Adobe RGB', ImageCms.getProfileDescription(
                ImageCms.ImageCmsProfile(io.BytesIO(img.info['icc_profile']))))
            stored = np.asarray(img.convert('RGB')).astype(int)
        got = read_rgb(rocket).astype(int)

        def chroma(x):
            return float((x.max(2) - x.min(2)).mean())
        self.assertGreater(chroma(got), 1.2 * chroma(stored))
        # an sRGB profile, a broken profile and none leave the pixels alone
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB'))
        for name, icc in (('srgb', srgb.tobytes()), ('junk', b'not icc'),
                          ('none', None)):
            with self.subTest(profile=name):
                path = self.path(name + '.png')
                extra = {'icc_profile': icc} if icc else {}
                Image.fromarray(pixels).save(path, **extra)
                self.assertTrue(np.array_equal(read_rgb(path), pixels))

    def test_srgb_is_recognised_by_what_the_profile_does(self):
        from PIL import ImageCms

        from uagit_mm.apis.image_io import to_srgb
        red, green, blue = SRGB_PRIMARIES
        pixels = np.zeros((4, 6, 3), np.uint8)
        pixels[..., 0], pixels[..., 1], pixels[..., 2] = 200, 30, 30
        # Pillow's own sRGB profile: kept as it is
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB'))
        img = Image.fromarray(pixels)
        img.info['icc_profile'] = srgb.tobytes()
        self.assertIs(to_srgb(img), img)
        # a profile *named* sRGB whose red is sRGB's green: converted (the
        # old check by the description's words would have kept it)
        liar = Image.fromarray(pixels)
        liar.info['icc_profile'] = matrix_icc(green, red, blue,
                                              name='sRGB IEC61966-2.1')
        got = np.asarray(to_srgb(liar)).astype(int)
        self.assertGreater(got[..., 1].mean(), 150)
        self.assertLess(got[..., 0].mean(), 60)

    def test_animated_files_give_their_first_frame(self):
        first = photo('astronaut', (40, 40))
        second = 255 - first
        frames = [Image.fromarray(first), Image.fromarray(second)]
        for name, kwargs in (('anim.gif', {}), ('anim.png', {}),
                             ('anim.webp', dict(lossless=True))):
            frames[0].save(self.path(name), save_all=True,
                           append_images=frames[1:], duration=100, loop=0,
                           **kwargs)
            with Image.open(self.path(name)) as img:
                self.assertGreater(getattr(img, 'n_frames', 1), 1, name)
            got = read_rgb(self.path(name))
            tol = 8 if name.endswith('gif') else 0  # GIF: 256 colours
            self.assertLessEqual(diff(got, first), tol, name)
            self.assertGreater(diff(got, second), 60, name)

    def test_jpeg_subsampling_at_odd_sizes(self):
        rgb = photo('chelsea', (61, 91))
        for ss in ('4:4:4', '4:2:2', '4:2:0'):
            path = self.path(f'ss{ss.replace(":", "")}.jpg')
            Image.fromarray(rgb).save(path, quality=95, subsampling=ss)
            got = read_rgb(path)
            self.assertEqual(got.shape, rgb.shape, ss)
            self.assertLess(diff(got, rgb), 4, ss)
        # Pillow writes only these three; OpenCV writes 4:1:1 and 4:4:0
        for name, factor in (('411', cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411),
                             ('440', cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440)):
            path = self.path(f'ss{name}.jpg')
            cv2.imwrite(path, rgb[..., ::-1], [
                cv2.IMWRITE_JPEG_QUALITY, 95,
                cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor])
            got = read_rgb(path)
            self.assertEqual(got.shape, rgb.shape, name)
            self.assertLess(diff(got, rgb), 5, name)

    def test_size_check_comes_before_decoding(self):
        """A file whose header is fine and whose pixels are broken: the
        ``before_decode`` check answers first."""
        Image.fromarray(photo()).save(self.path('ok.png'))
        with open(self.path('ok.png'), 'rb') as f:
            data = f.read()
        with open(self.path('cut.png'), 'wb') as f:
            f.write(data[:len(data) // 2])
        with self.assertRaisesRegex(ImageReadError, 'cut.png: .*truncated'):
            read_rgb(self.path('cut.png'))
        seen = []

        def refuse(width, height):
            seen.append((width, height))
            raise ImageReadError('refused from the header')

        with self.assertRaisesRegex(ImageReadError, 'refused'):
            read_rgb(self.path('cut.png'), before_decode=refuse)
        self.assertEqual(seen, [(90, 60)])


class TestOutputNames(TestCase):

    def test_collisions_keep_the_suffix(self):
        rels = ['a.jpg', 'a.png', 'a_jpg.png', 'b.png', 'b_mask.png',
                'c.png', osp.join('sub', 'a.png')]
        names = plan_outputs(rels)
        self.assertEqual(names['a.jpg']['image'], 'a_jpg.png')
        self.assertEqual(names['a.png']['image'], 'a_png.png')
        # a_jpg.png the input would clash with a.jpg's new name
        self.assertEqual(names['a_jpg.png']['image'], 'a_jpg_png.png')
        self.assertEqual(names['b.png']['mask'], 'b_png_mask.png')
        self.assertEqual(names['b_mask.png']['image'], 'b_mask_png.png')
        # no clash: the short names
        self.assertEqual(names['c.png'], output_names('c.png'))
        self.assertEqual(names[osp.join('sub', 'a.png')]['image'],
                         osp.join('sub', 'a.png'))
        every = [n for outs in names.values() for n in outs.values()]
        self.assertEqual(len(every), len(set(every)))


class TestMemoryPlanner(TestCase):

    def test_refusal_names_the_need_and_a_max_side_that_fits(self):
        model = init_model(CONFIG, None, cfg_options=dict(TINY))
        planner = MemoryPlanner(model, 'striped', budget=None)
        self.assertGreater(planner.bytes_per_pixel, 0)
        self.assertLess(planner.need(100, 100), planner.need(1000, 1000))
        # 2 GiB of room: the composite at the input size (64 bytes per
        # pixel, 0.8 GiB at 4500x3000) leaves the working size most of it
        planner.budget = planner.base + 2 * 2**30
        self.assertIsNone(planner.refusal(1000, 1500))
        reason = planner.refusal(3000, 4500)
        self.assertRegex(reason, r'^4500x3000 needs about [\d.]+ GiB to '
                         r'translate at full resolution, more than')
        side = int(re.search(r'--max-side (\d+)', reason).group(1))
        planner.max_side = side
        self.assertIsNone(planner.refusal(3000, 4500))
        # the run that uses the suggestion starts from its own base memory
        # (a few MB more here): the suggested side still fits there
        planner.base += 16 * 2**20
        self.assertIsNone(planner.refusal(3000, 4500))
        planner.base -= 16 * 2**20
        planner.max_side = int(side * 1.1)
        self.assertIsNotNone(planner.refusal(3000, 4500))
        # batches of large images shrink to what fits
        planner.max_side = None
        self.assertEqual(planner.batch_limit(32, 32, 4), 4)
        self.assertEqual(planner.batch_limit(1000, 1500, 64), int(
            2 * 2**30 // planner._each(1000, 1500)))

    def test_plan_takes_the_largest_working_size_that_fits(self):
        model = init_model(CONFIG, None, cfg_options=dict(TINY))
        planner = MemoryPlanner(model, 'striped', budget=None)
        planner.budget = planner.base + 2 * 2**30
        self.assertEqual(planner.plan(1000, 1500), (None, None))
        side, note = planner.plan(3000, 4500)
        suggested = int(re.search(r'--max-side (\d+)',
                                  planner.refusal(3000, 4500)).group(1))
        self.assertEqual(side, suggested)
        self.assertIn(f'translated at working size {side}', note)
        self.assertLessEqual(planner.need(3000, 4500, max_side=side),
                             planner.budget)
        self.assertGreater(planner.need(3000, 4500, max_side=side + 64),
                           0.95 * planner.budget)
        # batches at the smaller working size are capped by its need
        self.assertEqual(
            planner.batch_limit(3000, 4500, 8, max_side=side), 1)
        # the full-size buffers alone (64 bytes a pixel) exceed the budget
        planner.budget = planner.base + 64 * 3000 * 4500
        with self.assertRaisesRegex(MemoryError, 'even a small --max-side'):
            planner.plan(3000, 4500)


def run_quietly(args):
    """Run python with ``args`` as a user would (no -W flag): (rc, stdout,
    stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONWARNINGS', None)
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=900)
    return proc.returncode, proc.stdout, proc.stderr


class TestToolOnPhotos(ToolTestCase):

    def test_collisions_exif_existing_outputs_and_no_noise(self):
        src = osp.join(self.tmp.name, 'photos')
        masks = osp.join(self.tmp.name, 'zero_masks')
        os.makedirs(osp.join(src, 'sub'))
        os.makedirs(masks)
        inputs = {
            'a.jpg': photo('coffee', (48, 64)),
            'a.png': photo('chelsea', (40, 52)),
            'a_jpg.png': photo('astronaut', (32, 32)),
            'b.png': photo('coffee', (20, 24)),
            'b_mask.png': photo('chelsea', (24, 20)),
            osp.join('sub', 'p.jpg'): photo('astronaut', (50, 30)),
        }
        for rel, img in inputs.items():
            if rel.endswith('.jpg'):  # portrait phone photos
                save_oriented(osp.join(src, rel), img, 6, quality=95)
            else:
                Image.fromarray(img).save(osp.join(src, rel))
        # zero masks: every output is its own input, unchanged
        for stem in ('a', 'a_jpg', 'b', 'b_mask'):
            Image.fromarray(np.zeros((3, 3), np.uint8)).save(
                osp.join(masks, stem + '.png'))
        os.makedirs(osp.join(masks, 'sub'))
        Image.fromarray(np.zeros((3, 3), np.uint8)).save(
            osp.join(masks, 'sub', 'p.png'))
        out = osp.join(src, 'out')  # inside the input folder
        args = ['tools/translate.py', CONFIG, self.ckpt, src, '--out-dir',
                out, '--mask-dir', masks, '--cfg-options', *TINY_ARGS]
        rc, stdout, stderr = run_quietly(args)
        self.assertEqual(rc, 0, stdout + stderr)
        # no third-party warnings: one progress bar and a summary
        self.assertNotRegex(stderr, r'\w*Warning\b', stderr)
        self.assertEqual(stderr.count('smooth->striped:   0%'), 1, stderr)
        self.assertIn('smooth->striped: 100%', stderr)
        self.assertRegex(stdout, r'translated 6 in .*skipped 0 existing')
        names = plan_outputs(list(inputs))
        self.assertEqual(
            sorted(osp.relpath(osp.join(dp, f), out)
                   for dp, _, fs in os.walk(out) for f in fs),
            sorted(n[k] for n in names.values() for k in ('image', 'mask')))
        for rel, img in inputs.items():
            got = np.asarray(Image.open(osp.join(out, names[rel]['image'])))
            self.assertEqual(got.shape, img.shape, rel)  # upright
            self.assertTrue(np.array_equal(got, read_rgb(osp.join(src,
                                                                  rel))))
            mask = Image.open(osp.join(out, names[rel]['mask']))
            self.assertEqual(mask.size, img.shape[1::-1], rel)
        self.assertEqual(names['a.jpg']['image'], 'a_jpg.png')

        # again: each input skipped for its own outputs only, and the
        # outputs (inside the input folder) are not taken as inputs
        os.remove(osp.join(out, names['a.png']['mask']))
        rc, stdout, stderr = run_quietly(args)
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertRegex(stdout, r'translated 1 in .*skipped 5 existing')
        self.assertTrue(osp.isfile(osp.join(out, names['a.png']['mask'])))

        # --out-dir the input folder itself is refused
        rc, stdout, stderr = run_quietly(args[:4] + ['--out-dir', src] +
                                         args[6:])
        self.assertEqual(rc, 2)
        self.assertIn('--out-dir', stderr)

    def test_large_image_within_a_memory_bound(self):
        """A 24-megapixel image with --max-memory 3 (GiB): judged before
        decoding, translated at the largest working size that fits, said
        in one line; the output has the full size and the process's peak
        RSS (getrusage of that process, in a subprocess) stays under the
        bound. With 1 GiB nothing fits: refused, naming what it needs."""
        src = osp.join(self.tmp.name, 'large')
        os.makedirs(src)
        write_large_png(osp.join(src, 'big.png'), 6000, 4000)
        out = osp.join(self.tmp.name, 'large_out')
        base = ['tools/translate.py', CONFIG, self.ckpt, src, '--out-dir',
                out, '--max-side', '0', '--cfg-options', *TINY_ARGS]
        args = base + ['--max-memory', '3']
        code = (
            'import resource, subprocess, sys\n'
            'rc = subprocess.call(sys.argv[1:])\n'
            'peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n'
            'print(f"peak_rss_kib {peak}")\n'
            'sys.exit(rc)\n')
        rc, stdout, stderr = run_quietly(['-c', code, sys.executable, *args])
        self.assertEqual(rc, 0, stdout + stderr)
        notes = [ln for ln in stdout.splitlines() if ln.startswith('note:')]
        self.assertEqual(len(notes), 1, stdout)
        self.assertRegex(notes[0], r'big\.png: 6000x4000 needs about '
                         r'[\d.]+ GiB to translate at full resolution, more '
                         r'than the 3\.0 GiB of the limit of --max-memory; '
                         r'translated at working size \d+ \(--max-side \d+, '
                         r'about [\d.]+ GiB\)')
        side, predicted = re.search(r'--max-side (\d+), about ([\d.]+) GiB',
                                    notes[0]).groups()
        self.assertLess(int(side), 6000)
        peak = int(re.search(r'peak_rss_kib (\d+)', stdout).group(1)) * 1024
        self.assertLess(peak, 3 * 2**30, stdout)
        self.assertLess(peak, float(predicted) * 2**30 * 1.05, stdout)
        with Image.open(osp.join(out, 'big.png')) as img:
            self.assertEqual(img.size, (6000, 4000))

        # the decoded photo and its composite alone exceed 1 GiB
        rc, stdout, stderr = run_quietly(base + ['--overwrite',
                                                 '--max-memory', '1'])
        self.assertEqual(rc, 1, stdout + stderr)
        refusal = next(ln for ln in stderr.splitlines()
                       if ln.startswith('failed:'))
        self.assertRegex(refusal, r'big\.png: 6000x4000 needs about [\d.]+ '
                         r'GiB to translate at full resolution, more than '
                         r'the 1\.0 GiB .*; even a small --max-side would '
                         r'not fit')


class TestPipeline(TestCase):
    """translate_files: reading and writing in threads change nothing."""

    def test_mixed_sizes_match_one_by_one(self):
        from unittest import mock

        from uagit_mm.apis import pipeline, translate_arrays
        from uagit_mm.apis.pipeline import Job, translate_files
        model = init_model(CONFIG, None, cfg_options=dict(TINY))
        with tempfile.TemporaryDirectory() as d:
            jobs, want = [], {}
            sizes = [(20, 30), (20, 30), (31, 17), (20, 30), (8, 8),
                     (31, 17), (20, 30)]
            for i, (h, w) in enumerate(sizes):
                path = osp.join(d, f'{i}.png')
                img = photo(('astronaut', 'coffee', 'chelsea')[i % 3], (h, w))
                Image.fromarray(img).save(path)
                outs = {k: osp.join(d, 'out', f'{i}_{k}.png')
                        for k in ('image', 'mask', 'side')}
                jobs.append(Job(path, outs))
                want[i] = translate_arrays(model, [img], 'striped')[0]
            jobs.append(Job(osp.join(d, 'missing.png'), {}))
            real_save = pipeline.save_png

            def full_disk(path, image):
                if path.endswith('4_image.png'):
                    raise OSError(28, 'No space left on device')
                real_save(path, image)

            done = []
            with mock.patch.object(pipeline, 'save_png', full_disk):
                outcome = translate_files(model, jobs, 'striped',
                                          batch_size=2, workers=2,
                                          on_progress=done.append)
            self.assertEqual(sum(done), len(jobs))
            self.assertEqual(outcome.done, len(sizes) - 1)
            failed = sorted(outcome.failed)  # write errors come later
            self.assertEqual(len(failed), 2, failed)
            self.assertIn('4.png: [Errno 28] No space left', failed[0])
            self.assertIn('missing.png', failed[1])
            for i, (fake, mask) in want.items():
                if i == 4:
                    continue
                got = np.asarray(Image.open(jobs[i].outs['image']))
                self.assertLessEqual(np.abs(got.astype(int) - fake).max(),
                                     1, i)
                side = np.asarray(Image.open(jobs[i].outs['side']))
                self.assertEqual(side.shape[1], 3 * sizes[i][1])


class TestWorkingSizeDefault(TestCase):
    """The tool runs the networks at a longer side of 1024 by default (as
    the demo), so a folder of phone photos stays within a few GiB; 0 asks
    for the image's own size."""

    def test_default_zero_and_negative(self):
        from uagit_mm.apis.translate_cli import parse_args
        base = ['c.py', 'w.pth', 'in', '--out-dir', 'out']
        self.assertEqual(parse_args(base).max_side, 1024)
        self.assertIsNone(parse_args(base + ['--max-side', '0']).max_side)
        self.assertEqual(parse_args(base + ['--max-side', '300']).max_side,
                         300)
        with self.assertRaises(SystemExit), \
                contextlib.redirect_stderr(io.StringIO()) as err:
            parse_args(base + ['--max-side', '-1'])
        self.assertIn('--max-side must be >= 0', err.getvalue())
