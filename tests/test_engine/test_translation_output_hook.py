"""Tests for uagit_mm/engine/hooks/translation_output_hook.py."""
import os
import os.path as osp
import tempfile
import unittest
from types import SimpleNamespace

import cv2
import numpy as np
import torch

import uagit_mm  # noqa: F401  (registers the hook)
from mmagic.registry import HOOKS
from mmagic.structures import DataSample
from uagit_mm.engine import TranslationOutputHook


def _make(src: str, tgt: str, stem: str, seed: int):
    """One test output (the translation of ``src``'s image into ``tgt``)
    and the translation and mask PNGs expected for it, as (H, W[, C]) uint8.
    """
    gen = torch.Generator().manual_seed(seed)
    # integer levels plus a fraction below .5, so rounding is unambiguous
    fake = torch.randint(0, 256, (3, 8, 8), generator=gen).float()
    fake = (fake + 0.3).clamp(max=255.0)
    levels = torch.randint(0, 256, (1, 8, 8), generator=gen)
    sample = DataSample()
    sample.set_tensor_data({
        f'fake_{tgt}': fake,
        f'attention_{src}': levels.float() / 255.0
    })
    sample.set_metainfo({f'img_{src}_path': f'/data/test{src}/{stem}.jpg'})
    return (sample, fake.round().byte().permute(1, 2, 0).numpy(),
            levels[0].byte().numpy())


def _sample(src: str, tgt: str, stem: str, seed: int) -> DataSample:
    return _make(src, tgt, stem, seed)[0]


def _runner(log_dir: str) -> SimpleNamespace:
    return SimpleNamespace(
        log_dir=log_dir, model=SimpleNamespace(_reachable_domains=['a', 'b']))


def _files(root: str):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
        for f in fs)


class TestTranslationOutputHook(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.runner = _runner(self.tmp.name)

    def _run(self, hook, batches):
        hook.before_test(self.runner)
        for idx, outputs in enumerate(batches):
            hook.after_test_iter(self.runner, idx, None, outputs)
        hook.after_test(self.runner)

    def test_registered(self):
        hook = HOOKS.build(dict(type='TranslationOutputHook', max_images=2))
        self.assertIsInstance(hook, TranslationOutputHook)
        self.assertEqual(hook.max_images, 2)

    def test_writes_translations_and_masks(self):
        made = [_make('a', 'b', 'horse1', 0), _make('b', 'a', 'zebra1', 1),
                _make('a', 'b', 'horse2', 2)]
        batches = [[made[0][0], made[1][0]], [made[2][0]]]
        self._run(TranslationOutputHook(), batches)
        root = osp.join(self.tmp.name, 'translations')
        self.assertEqual(_files(root), [
            'a2b/horse1.png', 'a2b/horse1_mask.png', 'a2b/horse2.png',
            'a2b/horse2_mask.png', 'b2a/zebra1.png', 'b2a/zebra1_mask.png'
        ])
        for (folder, stem), (_, expected_image, expected_mask) in zip(
                [('a2b', 'horse1'), ('b2a', 'zebra1'), ('a2b', 'horse2')],
                made):
            image = cv2.imread(osp.join(root, folder, f'{stem}.png'),
                               cv2.IMREAD_UNCHANGED)
            mask = cv2.imread(osp.join(root, folder, f'{stem}_mask.png'),
                              cv2.IMREAD_UNCHANGED)
            self.assertEqual(image.dtype, np.uint8)
            self.assertEqual(image.shape, (8, 8, 3))
            np.testing.assert_array_equal(image, expected_image)
            self.assertEqual(mask.shape, (8, 8))
            np.testing.assert_array_equal(mask, expected_mask)

    def test_out_of_range_values_are_clamped(self):
        sample = DataSample()
        sample.set_tensor_data({
            'fake_b': torch.tensor([-20.0, 300.0]).view(1, 2, 1).expand(
                3, 2, 1).clone(),
            'attention_a': torch.tensor([[[-0.5], [1.5]]]),
        })
        sample.set_metainfo({'img_a_path': 'x/s.png'})
        self._run(TranslationOutputHook(), [[sample]])
        folder = osp.join(self.tmp.name, 'translations', 'a2b')
        image = cv2.imread(osp.join(folder, 's.png'), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(osp.join(folder, 's_mask.png'),
                          cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(image[:, 0, 0], [0, 255])
        np.testing.assert_array_equal(mask[:, 0], [0, 255])

    def test_no_temporary_files_left(self):
        batches = [[_sample('a', 'b', f'h{i}', i),
                    _sample('b', 'a', f'z{i}', 10 + i)] for i in range(3)]
        self._run(TranslationOutputHook(), batches)
        files = _files(self.tmp.name)
        self.assertEqual(len(files), 12)
        self.assertFalse([f for f in files if '.tmp' in f or '.part' in f],
                         files)

    def test_max_images_per_direction(self):
        batches = [[_sample('a', 'b', f'h{i}', i),
                    _sample('b', 'a', f'z{i}', 10 + i)] for i in range(4)]
        self._run(TranslationOutputHook(max_images=2), batches)
        root = osp.join(self.tmp.name, 'translations')
        self.assertEqual(_files(root), [
            'a2b/h0.png', 'a2b/h0_mask.png', 'a2b/h1.png', 'a2b/h1_mask.png',
            'b2a/z0.png', 'b2a/z0_mask.png', 'b2a/z1.png', 'b2a/z1_mask.png'
        ])

    def test_repeated_source_is_written_and_counted_once(self):
        # the test set cycles the shorter domain: h0 comes back in batch 2
        batches = [[_sample('a', 'b', 'h0', 0)], [_sample('a', 'b', 'h1', 1)],
                   [_sample('a', 'b', 'h0', 0)]]
        hook = TranslationOutputHook(max_images=2)
        self._run(hook, batches)
        self.assertEqual(hook._counts['a'], 2)
        root = osp.join(self.tmp.name, 'translations')
        self.assertEqual(_files(root), [
            'a2b/h0.png', 'a2b/h0_mask.png', 'a2b/h1.png', 'a2b/h1_mask.png'
        ])

    def test_counts_reset_on_each_test_run(self):
        hook = TranslationOutputHook(max_images=1)
        self._run(hook, [[_sample('a', 'b', 'first', 0)]])
        self._run(hook, [[_sample('a', 'b', 'second', 1)]])
        self.assertTrue(osp.isfile(osp.join(
            self.tmp.name, 'translations', 'a2b', 'second.png')))

    def test_without_path_or_attention(self):
        sample = DataSample()
        sample.set_tensor_data({'fake_b': torch.zeros(3, 8, 8)})
        self._run(TranslationOutputHook(out_dir='out'), [[sample, sample]])
        self.assertEqual(_files(osp.join(self.tmp.name, 'out')),
                         ['a2b/000000.png', 'a2b/000001.png'])

    def test_explicit_domains(self):
        sample = _sample('x', 'y', 's', 0)
        self._run(TranslationOutputHook(domains=['x', 'y']), [[sample]])
        self.assertEqual(_files(osp.join(self.tmp.name, 'translations')),
                         ['x2y/s.png', 'x2y/s_mask.png'])

    def test_domains_must_be_two(self):
        with self.assertRaises(ValueError):
            TranslationOutputHook(domains=['a'])


if __name__ == '__main__':
    unittest.main()
