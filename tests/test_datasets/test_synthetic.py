"""Tests for uagit_mm/datasets/synthetic.py.

The module is loaded by file path (no package __init__ needed).
"""
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODULE_PATH = REPO / 'uagit_mm' / 'datasets' / 'synthetic.py'
TOOL_PATH = REPO / 'tools' / 'make_synthetic_dataset.py'


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = _load('_test_uagit_mm_synthetic', MODULE_PATH)
FOLDERS = [
    'trainA', 'trainB', 'testA', 'testB', 'valA', 'valB', 'trainA_mask',
    'trainB_mask', 'testA_mask', 'testB_mask', 'valA_mask', 'valB_mask'
]
IMAGE_FOLDERS = [f for f in FOLDERS if not f.endswith('_mask')]


def _sample(seed, domain, size=64, split='test', index=0):
    return synthetic.render_sample(
        synthetic.sample_rng(seed, split, domain, index), domain, size)


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


class TestRenderSample(unittest.TestCase):

    def test_shapes_dtypes_and_values(self):
        for size in (32, 64, 128):
            for domain in 'AB':
                for i in range(4):
                    image, mask = _sample(7, domain, size, index=i)
                    self.assertEqual(image.shape, (size, size, 3))
                    self.assertEqual(image.dtype, np.uint8)
                    self.assertEqual(mask.shape, (size, size))
                    self.assertEqual(mask.dtype, np.uint8)
                    self.assertTrue(set(np.unique(mask)) <= {0, 255})
                    frac = np.count_nonzero(mask) / size**2
                    self.assertGreaterEqual(frac, 0.09, (size, domain, i))
                    self.assertLessEqual(frac, 0.36, (size, domain, i))
                    # objects lie fully inside the image: no object pixel on
                    # the border
                    border = np.concatenate(
                        [mask[0], mask[-1], mask[:, 0], mask[:, -1]])
                    self.assertFalse(border.any(), (size, domain, i))

    def test_object_pixels_follow_domain_appearance(self):
        for i in range(10):
            image_a, mask_a = _sample(3, 'A', index=i)
            obj = image_a[mask_a > 0].astype(int)
            # brownish/orange: red dominant over blue, strongly saturated
            self.assertTrue(np.all(obj[:, 0] > obj[:, 2] + 40), i)
            image_b, mask_b = _sample(3, 'B', index=i)
            gray = image_b[mask_b > 0].mean(axis=1)
            self.assertGreater(np.mean((gray < 70) | (gray > 180)), 0.95, i)
            self.assertGreater(np.mean(gray < 70), 0.2, i)
            self.assertGreater(np.mean(gray > 180), 0.2, i)

    def test_bad_arguments(self):
        rng = np.random.default_rng(0)
        with self.assertRaisesRegex(ValueError, 'domain'):
            synthetic.render_sample(rng, 'C')
        with self.assertRaisesRegex(ValueError, 'size'):
            synthetic.render_sample(rng, 'A', size=16)
        with self.assertRaisesRegex(ValueError, 'split'):
            synthetic.sample_rng(0, 'holdout', 'A', 0)

    def test_determinism(self):
        for domain in 'AB':
            img1, mask1 = synthetic.render_sample(
                np.random.default_rng(5), domain)
            img2, mask2 = synthetic.render_sample(
                np.random.default_rng(5), domain)
            np.testing.assert_array_equal(img1, img2)
            np.testing.assert_array_equal(mask1, mask2)
            img3, _ = synthetic.render_sample(np.random.default_rng(6), domain)
            self.assertFalse(np.array_equal(img1, img3))
        self.assertTrue(np.array_equal(_sample(1, 'A')[0], _sample(1, 'A')[0]))
        self.assertFalse(
            np.array_equal(_sample(1, 'A')[0],
                           _sample(2, 'A')[0]))
        self.assertFalse(
            np.array_equal(
                _sample(1, 'A', split='train')[0],
                _sample(1, 'A', split='test')[0]))
        self.assertFalse(
            np.array_equal(_sample(1, 'A')[1],
                           _sample(1, 'B')[1]))


class TestHueSet(unittest.TestCase):
    """The colour-only kind (``kind='hue'``) and its judge."""

    @classmethod
    def setUpClass(cls):
        cls.samples = {
            d: [
                synthetic.render_sample(
                    synthetic.sample_rng(11, 'train', d, i), d, 64, 'hue')
                for i in range(40)
            ]
            for d in 'AB'
        }

    @staticmethod
    def _hsv(pixels):
        hsv = cv2.cvtColor(
            pixels.reshape(-1, 1, 3).astype(np.float32) / 255.0,
            cv2.COLOR_RGB2HSV).reshape(-1, 3)
        return hsv[:, 0], hsv[:, 1] * hsv[:, 2]

    def test_texture_set_unchanged(self):
        # sha256 of these samples made by the generator before the hue kind
        # existed: adding it must not change a byte of the texture set
        digest = hashlib.sha256()
        for split in ('train', 'test'):
            for d in 'AB':
                for i in range(3):
                    img, mask = _sample(0, d, 64, split, i)
                    digest.update(img.tobytes())
                    digest.update(mask.tobytes())
        self.assertEqual(
            digest.hexdigest(),
            'b7ce9590c99749f890004a3a74a1327e69388369072fa493e9642db09b90acd2')

    def test_objects_differ_only_in_hue(self):
        stats = {}
        for d, samples in self.samples.items():
            hue, chroma = self._hsv(
                np.concatenate([img[m > 0] for img, m in samples]))
            dist = np.abs((hue - synthetic.HUES[d] + 180) % 360 - 180)
            # (almost) every object pixel within the domain's hue range
            self.assertGreater(np.mean(dist < 15), 0.97, d)
            stats[d] = chroma.mean(), np.concatenate(
                [img[m > 0].max(1) for img, m in samples]).mean()
        # same colourfulness and brightness in both domains
        self.assertLess(abs(stats['A'][0] - stats['B'][0]), 0.05, stats)
        self.assertLess(abs(stats['A'][1] - stats['B'][1]), 10.0, stats)

    def test_distractors_in_other_hues_outside_the_mask(self):
        lo, hi = synthetic.DISTRACTOR_HUES
        for d, samples in self.samples.items():
            for i, (img, m) in enumerate(samples):
                hue, chroma = self._hsv(img[m == 0])
                # a distractor: at least 15 strongly coloured background
                # pixels in the distractor hue range
                found = (hue >= lo) & (hue <= hi) & (chroma > 0.3)
                self.assertGreater(found.sum(), 15, (d, i))
                # the object's own hue and colour only in a few pixels of
                # clutter (the shared background has small red specks)
                dist = np.abs((hue - synthetic.HUES[d] + 180) % 360 - 180)
                self.assertLess(((dist < 10) & (chroma > 0.45)).mean(), 0.02,
                                (d, i))

    def test_hue_score_separates_domains_and_mixtures(self):
        scores = {
            d: [synthetic.hue_score(img, m) for img, m in s]
            for d, s in self.samples.items()
        }
        self.assertLess(max(scores['A']), 0.2, scores['A'])
        self.assertGreater(min(scores['B']), 0.8, scores['B'])
        img_a, m_a = self.samples['A'][0]
        img_b, m_b = self.samples['B'][0]
        for img, m, d in ((img_a, m_a, 'A'), (img_b, m_b, 'B')):
            self.assertTrue(synthetic.is_translated(img, m, d, 'hue'))
            self.assertFalse(
                synthetic.is_translated(img, m, 'AB'.replace(d, ''), 'hue'))
        # the A object painted violet counts as translated to B
        violet = np.where(m_a[..., None] > 0, np.array([150, 60, 200]),
                          img_a).astype(np.uint8)
        self.assertTrue(synthetic.is_translated(violet, m_a, 'B', 'hue'))
        # a half-and-half blend of red-orange and violet is undecided
        half = (0.5 * img_a.astype(float) + 0.5 * violet).round()
        self.assertAlmostEqual(
            synthetic.hue_score(half.astype(np.uint8), m_a), 0.5, delta=0.15)
        # a grey object has no hue: 0.5, translated to neither domain
        grey = np.where(m_a[..., None] > 0, 128, img_a).astype(np.uint8)
        self.assertEqual(synthetic.hue_score(grey, m_a), 0.5)
        self.assertFalse(synthetic.is_translated(grey, m_a, 'A', 'hue'))
        self.assertFalse(synthetic.is_translated(grey, m_a, 'B', 'hue'))
        # the stripe statistic cannot see the colour-only difference
        self.assertLess(synthetic.stripe_score(violet, m_a), 0.5)
        with self.assertRaisesRegex(ValueError, 'kind'):
            synthetic.appearance_score(img_a, m_a, 'colour')
        with self.assertRaisesRegex(ValueError, 'empty'):
            synthetic.hue_score(img_a, np.zeros_like(m_a))

    def test_dataset_kind_recorded_and_cli(self):
        with tempfile.TemporaryDirectory() as tmp:
            kwargs = dict(size=32, num_train=2, num_test=1, seed=3)
            synthetic.generate_dataset(f'{tmp}/tex', **kwargs)
            synthetic.generate_dataset(f'{tmp}/hue', kind='hue', **kwargs)
            meta = {
                k: json.loads(Path(f'{tmp}/{k}/dataset.json').read_text())
                for k in ('tex', 'hue')
            }
            # texture sets keep the dataset.json they always had
            self.assertNotIn('kind', meta['tex'])
            self.assertEqual(meta['hue']['kind'], 'hue')
            self.assertNotEqual(_md5(f'{tmp}/tex/trainA/000000.png'),
                                _md5(f'{tmp}/hue/trainA/000000.png'))
            # same arguments but another kind: not this dataset
            with self.assertRaises(FileExistsError):
                synthetic.generate_dataset(f'{tmp}/tex', kind='hue',
                                           **kwargs)
            with self.assertRaisesRegex(ValueError, 'kind'):
                synthetic.generate_dataset(f'{tmp}/x', kind='colour')
            proc = subprocess.run(
                [sys.executable, str(TOOL_PATH), f'{tmp}/cli', '--kind',
                 'hue', '--size', '32', '--num-train', '2', '--num-test',
                 '1', '--seed', '3'],
                capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn('kind hue', proc.stdout)
            self.assertEqual(_md5(f'{tmp}/cli/trainB/000001.png'),
                             _md5(f'{tmp}/hue/trainB/000001.png'))


class TestStatistics(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.samples = {
            d: [_sample(11, d, 64, 'train', i) for i in range(50)]
            for d in 'AB'
        }

    def test_backgrounds_shared_objects_differ(self):
        bg = {
            d: np.mean([img[m == 0].mean(axis=0) for img, m in s], axis=0)
            for d, s in self.samples.items()
        }
        obj = {
            d: np.mean([img[m > 0].mean(axis=0) for img, m in s], axis=0)
            for d, s in self.samples.items()
        }
        self.assertLess(np.abs(bg['A'] - bg['B']).max(), 12.0, bg)
        # the same statistic does see the object difference (red vs. blue
        # channel balance)
        self.assertGreater(
            (obj['A'][0] - obj['A'][2]) - (obj['B'][0] - obj['B'][2]), 80.0,
            obj)

    def test_stripe_score_separates_domains(self):
        scores = {
            d: [synthetic.stripe_score(img, m) for img, m in s]
            for d, s in self.samples.items()
        }
        for d in 'AB':
            self.assertTrue(all(0.0 <= v <= 1.0 for v in scores[d]))
        self.assertLess(max(scores['A']), 0.25, scores['A'])
        self.assertGreater(min(scores['B']), 0.75, scores['B'])

    def test_stripe_score_other_sizes(self):
        for size in (32, 128):
            for i in range(5):
                self.assertLess(
                    synthetic.stripe_score(*_sample(4, 'A', size, index=i)),
                    0.5)
                self.assertGreater(
                    synthetic.stripe_score(*_sample(4, 'B', size, index=i)),
                    0.5)

    def test_is_translated(self):
        for img, m in self.samples['A'][:10]:
            self.assertTrue(synthetic.is_translated(img, m, 'A'))
            self.assertFalse(synthetic.is_translated(img, m, 'B'))
        for img, m in self.samples['B'][:10]:
            self.assertTrue(synthetic.is_translated(img, m, 'B'))
            self.assertFalse(synthetic.is_translated(img, m, 'A'))
        # an A scene whose object region is replaced by stripes counts as
        # translated to B
        img_a, m_a = self.samples['A'][0]
        stripes = np.where((np.arange(64) // 3 % 2)[None, :, None] > 0, 230,
                           25).astype(np.uint8)
        fake = np.where(m_a[..., None] > 0,
                        np.broadcast_to(stripes, img_a.shape), img_a)
        self.assertTrue(synthetic.is_translated(fake, m_a, 'B'))
        # ... while a translation that leaves the object alone but stripes
        # the background does not
        fake_bg = np.where(m_a[..., None] > 0, img_a,
                           np.broadcast_to(stripes, img_a.shape))
        self.assertFalse(synthetic.is_translated(fake_bg, m_a, 'B'))
        with self.assertRaisesRegex(ValueError, 'domain'):
            synthetic.is_translated(img_a, m_a, 'C')

    def test_stripe_score_mask_formats_and_errors(self):
        img, m = self.samples['B'][0]
        ref = synthetic.stripe_score(img, m)
        self.assertEqual(synthetic.stripe_score(img, m > 0), ref)
        self.assertEqual(
            synthetic.stripe_score(img, (m > 0).astype(np.uint8)), ref)
        with self.assertRaisesRegex(ValueError, 'empty'):
            synthetic.stripe_score(img, np.zeros_like(m))
        with self.assertRaises(ValueError):
            synthetic.stripe_score(img.astype(np.float32), m)
        with self.assertRaises(ValueError):
            synthetic.stripe_score(img, m[:10])


class TestGenerateDataset(unittest.TestCase):
    kwargs = dict(size=32, num_train=3, num_test=2, seed=5)

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def _tree(self, root):
        return {
            str(p.relative_to(root)): _md5(p)
            for p in sorted(Path(root).rglob('*')) if p.is_file()
        }

    def test_layout_counts_and_contents(self):
        out = self.tmp / 'data'
        counts = synthetic.generate_dataset(str(out), **self.kwargs)
        self.assertEqual(
            counts, {f: 3 if f.startswith('train') else 2
                     for f in FOLDERS})  # num_val defaults to num_test
        self.assertEqual(sorted(os.listdir(self.tmp)),
                         ['data'])  # no temporary leftovers
        self.assertEqual(
            sorted(os.listdir(out)), sorted(FOLDERS + ['dataset.json']))
        meta = json.loads((out / 'dataset.json').read_text())
        self.assertEqual(
            (meta['size'], meta['num_train'], meta['num_test'], meta['seed']),
            (32, 3, 2, 5))
        for folder in IMAGE_FOLDERS:
            names = sorted(os.listdir(out / folder))
            self.assertEqual(names,
                             [f'{i:06d}.png' for i in range(counts[folder])])
            self.assertEqual(names, sorted(os.listdir(out / f'{folder}_mask')))
            for name in names:
                img = cv2.imread(
                    str(out / folder / name), cv2.IMREAD_UNCHANGED)
                mask = cv2.imread(
                    str(out / f'{folder}_mask' / name), cv2.IMREAD_UNCHANGED)
                self.assertEqual((img.shape, img.dtype),
                                 ((32, 32, 3), np.uint8))
                self.assertEqual((mask.shape, mask.dtype),
                                 ((32, 32), np.uint8))
                self.assertTrue(set(np.unique(mask)) <= {0, 255})
        # files hold exactly render_sample's output (RGB on disk, i.e.
        # BGR/RGB handled)
        ref_img, ref_mask = synthetic.render_sample(
            synthetic.sample_rng(5, 'train', 'B', 1), 'B', 32)
        disk = cv2.cvtColor(
            cv2.imread(str(out / 'trainB' / '000001.png')), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(disk, ref_img)
        np.testing.assert_array_equal(
            cv2.imread(str(out / 'trainB_mask' / '000001.png'), 0), ref_mask)
        # train, test and val never share an image; A and B train sets are
        # independent draws
        hashes = {
            f: {_md5(p)
                for p in (out / f).iterdir()}
            for f in IMAGE_FOLDERS
        }
        splits = [hashes[f'{s}A'] | hashes[f'{s}B']
                  for s in ('train', 'test', 'val')]
        for i in range(3):
            for j in range(i):
                self.assertFalse(splits[i] & splits[j], (i, j))
        self.assertNotEqual(
            _md5(out / 'trainA_mask' / '000000.png'),
            _md5(out / 'trainB_mask' / '000000.png'))

    def test_idempotent_deterministic_and_stable_test_split(self):
        out = self.tmp / 'data'
        counts = synthetic.generate_dataset(str(out), **self.kwargs)
        mtimes = {p: p.stat().st_mtime_ns for p in out.rglob('*')}
        self.assertEqual(
            synthetic.generate_dataset(str(out), **self.kwargs), counts)
        self.assertEqual({p: p.stat().st_mtime_ns
                          for p in out.rglob('*')}, mtimes)
        self.assertEqual(
            synthetic.generate_dataset(
                str(out), overwrite=True, **self.kwargs), counts)
        self.assertEqual({p: p.stat().st_mtime_ns
                          for p in out.rglob('*')}, mtimes)
        again = self.tmp / 'again'
        synthetic.generate_dataset(str(again), **self.kwargs)
        self.assertEqual(self._tree(out), self._tree(again))
        more = self.tmp / 'more'
        synthetic.generate_dataset(str(more), **dict(self.kwargs, num_train=5))
        tree, tree_more = self._tree(out), self._tree(more)
        for key, digest in tree.items():
            if key.startswith(('test', 'train')):
                self.assertEqual(tree_more[key], digest, key)

    def test_val_split_added_to_a_dataset_made_before_it(self):
        out = self.tmp / 'data'
        counts = synthetic.generate_dataset(str(out), **self.kwargs)
        made = self._tree(out)
        # turn it into what the generator wrote before valA/valB existed
        meta = json.loads((out / 'dataset.json').read_text())
        for folder in [f for f in FOLDERS if f.startswith('val')]:
            shutil.rmtree(out / folder)
        del meta['num_val']
        meta['counts'] = {k: v for k, v in meta['counts'].items()
                          if not k.startswith('val')}
        (out / 'dataset.json').write_text(json.dumps(meta))
        old = {p: p.stat().st_mtime_ns for p in out.rglob('*.png')}
        self.assertEqual(
            synthetic.generate_dataset(str(out), **self.kwargs), counts)
        # the old files untouched, the val split what a fresh run draws
        self.assertEqual({p: p.stat().st_mtime_ns for p in old}, old)
        self.assertEqual(self._tree(out), made)
        self.assertEqual(sorted(os.listdir(self.tmp)), ['data'])
        # an upgrade interrupted after some folders moved in is redone
        (out / 'dataset.json').write_text(json.dumps(meta))
        os.remove(out / 'valB' / '000000.png')
        synthetic.generate_dataset(str(out), **self.kwargs)
        self.assertEqual(self._tree(out), made)

    def test_num_val(self):
        out = self.tmp / 'data'
        counts = synthetic.generate_dataset(
            str(out), **dict(self.kwargs, num_val=4))
        self.assertEqual((counts['valA'], counts['valB_mask'],
                          counts['testA']), (4, 4, 2))
        self.assertEqual(len(os.listdir(out / 'valB')), 4)
        # the val images do not depend on how many test images there are
        other = self.tmp / 'other'
        synthetic.generate_dataset(
            str(other), **dict(self.kwargs, num_test=1, num_val=4))
        self.assertEqual(_md5(out / 'valA' / '000003.png'),
                         _md5(other / 'valA' / '000003.png'))

    def test_existing_folders(self):
        foreign = self.tmp / 'foreign'
        foreign.mkdir()
        (foreign / 'notes.txt').write_text('keep me')
        with self.assertRaisesRegex(FileExistsError, 'foreign'):
            synthetic.generate_dataset(str(foreign), **self.kwargs)
        self.assertEqual(os.listdir(foreign), ['notes.txt'])
        empty = self.tmp / 'empty'
        empty.mkdir()
        synthetic.generate_dataset(str(empty), **self.kwargs)
        self.assertTrue((empty / 'testB_mask' / '000001.png').is_file())
        # a dataset made with other arguments is "something else"
        with self.assertRaisesRegex(FileExistsError, 'empty'):
            synthetic.generate_dataset(str(empty), **dict(self.kwargs, seed=6))
        counts = synthetic.generate_dataset(
            str(foreign), overwrite=True, **self.kwargs)
        self.assertEqual(counts['trainA'], 3)
        self.assertFalse((foreign / 'notes.txt').exists())
        self.assertEqual(self._tree(foreign), self._tree(empty))
        self.assertEqual(sorted(os.listdir(self.tmp)), ['empty', 'foreign'])
        # a half-deleted dataset is not complete and is not silently accepted
        os.remove(foreign / 'testA' / '000000.png')
        with self.assertRaises(FileExistsError):
            synthetic.generate_dataset(str(foreign), **self.kwargs)

    def test_interrupted_run_leaves_nothing(self):
        real, calls = synthetic.render_sample, []

        def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) > 4:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        with mock.patch.object(synthetic, 'render_sample', flaky):
            with self.assertRaises(KeyboardInterrupt):
                synthetic.generate_dataset(
                    str(self.tmp / 'data'), **self.kwargs)
        self.assertEqual(os.listdir(self.tmp), [])

    def test_bad_arguments(self):
        out = str(self.tmp / 'data')
        for name, value in [('size', 16), ('size', 32.0), ('num_train', 0),
                            ('num_test', 0), ('num_val', 0), ('seed', -1)]:
            with self.assertRaisesRegex(ValueError, name):
                synthetic.generate_dataset(
                    out, **dict(self.kwargs, **{name: value}))
        self.assertEqual(os.listdir(self.tmp), [])


class TestTool(unittest.TestCase):

    def test_cli_runs_from_anywhere(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, 'cli')
            opts = ['--size', '32', '--num-train', '2', '--num-test', '1']
            res = subprocess.run(
                [sys.executable, str(TOOL_PATH), out] + opts,
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=60)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn(out, res.stdout)
            # 2 train, 1 test and 1 val image per domain
            self.assertIn('8 images', res.stdout)
            self.assertIn('valA=1', res.stdout)
            self.assertEqual(
                len(os.listdir(os.path.join(out, 'trainB_mask'))), 2)
            tool = _load('_test_make_synthetic_dataset', TOOL_PATH)
            # same folder, other seed: refused with exit code 2 and the
            # folder left as it was
            self.assertEqual(tool.main([out] + opts + ['--seed', '1']), 2)
            self.assertEqual(
                json.loads(Path(out, 'dataset.json').read_text())['seed'], 0)


if __name__ == '__main__':
    unittest.main()
