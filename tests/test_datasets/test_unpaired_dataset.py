"""Tests for uagit_mm/datasets/unpaired_dataset.py and transforms.py."""
import os
import os.path as osp
import tempfile
import unittest

import cv2
import numpy as np
import torch
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401  (registers the dataset and transform)
from mmagic.registry import DATASETS, TRANSFORMS
from mmagic.structures import DataSample
from uagit_mm.datasets import PackUnpairedInputs, UnpairedFolderDataset

PIPELINE = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='PackUnpairedInputs'),
]


def setUpModule():
    # as the Runner does with the configs' default_scope: the pipeline's
    # LoadImageFromFile is then mmagic's (with `key`), not mmcv's
    init_default_scope('mmagic')


# images per folder: len(train) = max(3, 2), len(test) = max(1, 2)
COUNTS = dict(trainA=3, trainB=2, testA=1, testB=2)


def _write_images(folder: str, num: int, value: int) -> None:
    os.makedirs(folder, exist_ok=True)
    for i in range(num):
        img = np.full((16, 16, 3), value + i, dtype=np.uint8)
        img[0, 0] = (1, 2, 3)  # a BGR marker: channel order is kept
        assert cv2.imwrite(osp.join(folder, f'{i:03d}.png'), img)


def _make_root(tmp: str, counts=None) -> str:
    root = osp.join(tmp, 'horse2zebra')
    for name, num in (counts or COUNTS).items():
        _write_images(osp.join(root, name), num, 10 if 'A' in name else 100)
    return root


def _build(root, test_mode=False, **kwargs):
    cfg = dict(
        type='UnpairedFolderDataset',
        data_root=root,
        pipeline=PIPELINE,
        test_mode=test_mode,
        domain_a='horse',
        domain_b='zebra')
    cfg.update(kwargs)
    return DATASETS.build(cfg)


class TestUnpairedFolderDataset(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.root = _make_root(self.tmp.name)

    def test_registered(self):
        self.assertIs(DATASETS.get('UnpairedFolderDataset'),
                      UnpairedFolderDataset)
        self.assertIs(TRANSFORMS.get('PackUnpairedInputs'), PackUnpairedInputs)

    def test_length_is_larger_folder(self):
        self.assertEqual(len(_build(self.root)), 3)
        self.assertEqual(len(_build(self.root, test_mode=True)), 2)

    def test_sample_inputs_and_data_sample(self):
        dataset = _build(self.root)
        sample = dataset[1]
        self.assertEqual(set(sample), {'inputs', 'data_samples'})
        inputs = sample['inputs']
        self.assertEqual(set(inputs), {'img_horse', 'img_zebra'})
        for key in ('img_horse', 'img_zebra'):
            self.assertIsInstance(inputs[key], torch.Tensor)
            self.assertEqual(tuple(inputs[key].shape), (3, 16, 16))
        # horse image 1 of trainA is filled with 11, zebra ones with 100/101
        self.assertTrue((inputs['img_horse'][:, 1:, 1:] == 11).all())
        self.assertIn(int(inputs['img_zebra'][0, 5, 5]), (100, 101))
        self.assertEqual(inputs['img_horse'][:, 0, 0].tolist(), [1, 2, 3])

        data_sample = sample['data_samples']
        self.assertIsInstance(data_sample, DataSample)
        self.assertEqual(set(data_sample.metainfo),
                         {'img_horse_path', 'img_zebra_path'})
        horse_path = data_sample.img_horse_path
        self.assertEqual(osp.dirname(horse_path),
                         osp.join(self.root, 'trainA'))
        self.assertEqual(osp.basename(horse_path), '001.png')
        self.assertEqual(osp.dirname(data_sample.img_zebra_path),
                         osp.join(self.root, 'trainB'))
        for key in data_sample.all_keys():
            self.assertNotIn('_A', key)
            self.assertNotIn('_B', key)

    def test_domain_a_wraps_around(self):
        # index 2 of a 3-long dataset: trainA has 3 images, trainB only 2
        dataset = _build(self.root)
        paths_a = {osp.basename(dataset[i]['data_samples'].img_horse_path)
                   for i in range(len(dataset))}
        self.assertEqual(paths_a, {'000.png', '001.png', '002.png'})

    def test_test_mode_uses_test_folders(self):
        dataset = _build(self.root, test_mode=True)
        for idx in range(len(dataset)):
            sample = dataset[idx]['data_samples']
            self.assertEqual(osp.dirname(sample.img_horse_path),
                             osp.join(self.root, 'testA'))
            self.assertEqual(osp.dirname(sample.img_zebra_path),
                             osp.join(self.root, 'testB'))
            # deterministic pairing in test mode
            self.assertEqual(osp.basename(sample.img_zebra_path),
                             f'{idx:03d}.png')

    def test_default_domain_names(self):
        dataset = UnpairedFolderDataset(self.root, PIPELINE)
        self.assertEqual(set(dataset[0]['inputs']), {'img_A', 'img_B'})

    def test_images_in_subfolders_are_found(self):
        _write_images(osp.join(self.root, 'trainA', 'sub'), 2, 50)
        self.assertEqual(len(_build(self.root)), 5)


class TestUnpairedFolderDatasetErrors(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_data_root_none(self):
        for root in (None, ''):
            with self.assertRaises(ValueError) as ctx:
                _build(root)
            self.assertIn('data_root', str(ctx.exception))

    def test_data_root_missing(self):
        root = osp.join(self.tmp.name, 'no_such_root')
        with self.assertRaises(FileNotFoundError) as ctx:
            _build(root)
        self.assertIn(root, str(ctx.exception))

    def test_missing_train_b(self):
        root = _make_root(self.tmp.name, dict(trainA=2, testA=1, testB=1))
        with self.assertRaises(FileNotFoundError) as ctx:
            _build(root)
        self.assertIn(osp.join(root, 'trainB'), str(ctx.exception))

    def test_missing_test_folder_only_matters_in_test_mode(self):
        root = _make_root(self.tmp.name, dict(trainA=2, trainB=2))
        self.assertEqual(len(_build(root)), 2)
        with self.assertRaises(FileNotFoundError) as ctx:
            _build(root, test_mode=True)
        self.assertIn(osp.join(root, 'testA'), str(ctx.exception))

    def test_val_split_reads_val_folders_or_says_how_to_make_them(self):
        root = _make_root(self.tmp.name, dict(COUNTS, valA=2, valB=1))
        dataset = _build(root, test_mode=True, split='val')
        self.assertEqual(len(dataset), 2)
        sample = dataset[0]['data_samples']
        self.assertEqual(osp.dirname(sample.img_horse_path),
                         osp.join(root, 'valA'))
        bare = _make_root(osp.join(self.tmp.name, 'bare'))
        with self.assertRaises(FileNotFoundError) as ctx:
            _build(bare, test_mode=True, split='val')
        for text in (osp.join(bare, 'valA'), 'make_synthetic_dataset.py',
                     'val_interval=0'):
            self.assertIn(text, str(ctx.exception))

    def test_train_a_without_images(self):
        root = _make_root(self.tmp.name, dict(trainB=2, testA=1, testB=1))
        train_a = osp.join(root, 'trainA')
        os.makedirs(train_a)
        with open(osp.join(train_a, 'README.txt'), 'w') as f:
            f.write('not an image')
        with self.assertRaises(FileNotFoundError) as ctx:
            _build(root)
        self.assertIn(train_a, str(ctx.exception))
        self.assertIn('contains no images', str(ctx.exception))

    def test_same_domain_names(self):
        root = _make_root(self.tmp.name)
        with self.assertRaises(ValueError) as ctx:
            _build(root, domain_a='horse', domain_b='horse')
        self.assertIn('horse', str(ctx.exception))


class TestPackUnpairedInputs(unittest.TestCase):

    def test_renames_images_paths_and_masks(self):
        img_a = np.zeros((4, 4, 3), np.uint8)
        img_b = np.ones((4, 4, 3), np.uint8)
        results = dict(
            img_A=img_a, img_B=img_b, img_A_path='a.png', img_B_path='b.png',
            mask_A=np.zeros((4, 4, 1), np.uint8), domain_a='apple',
            domain_b='orange')
        packed = PackUnpairedInputs()(results)
        self.assertEqual(set(packed['inputs']), {'img_apple', 'img_orange'})
        self.assertEqual(tuple(packed['inputs']['img_orange'].shape),
                         (3, 4, 4))
        self.assertTrue((packed['inputs']['img_orange'] == 1).all())
        sample = packed['data_samples']
        self.assertEqual(sample.img_apple_path, 'a.png')
        self.assertEqual(sample.img_orange_path, 'b.png')

    def test_domains_for_samples_no_dataset_made(self):
        """An inferencer runs the pipeline on a bare dict: the names come
        from ``domains``; a dataset's names must agree with them."""
        def bare():
            return dict(img_A=np.zeros((4, 4, 3), np.uint8),
                        img_B=np.ones((4, 4, 3), np.uint8),
                        img_A_path='x.png', img_B_path='x.png')

        packed = PackUnpairedInputs(domains=['apple', 'orange'])(bare())
        self.assertEqual(set(packed['inputs']), {'img_apple', 'img_orange'})
        self.assertTrue((packed['inputs']['img_orange'] == 1).all())
        self.assertEqual(packed['data_samples'].img_apple_path, 'x.png')
        named = dict(bare(), domain_a='apple', domain_b='orange')
        packed = PackUnpairedInputs(domains=('apple', 'orange'))(named)
        self.assertEqual(set(packed['inputs']), {'img_apple', 'img_orange'})
        with self.assertRaisesRegex(ValueError, r"domains=\[domain_a"):
            PackUnpairedInputs()(bare())
        with self.assertRaisesRegex(ValueError, "'pear'"):
            PackUnpairedInputs(domains=['apple', 'pear'])(named)
        with self.assertRaisesRegex(ValueError, 'two domains'):
            PackUnpairedInputs(domains=['apple'])

    def test_repr(self):
        self.assertEqual(repr(PackUnpairedInputs()),
                         "PackUnpairedInputs(keys=('img',))")
        self.assertEqual(repr(PackUnpairedInputs(domains=('a', 'b'))),
                         "PackUnpairedInputs(keys=('img',), domains=['a', "
                         "'b'])")


class TestBadFiles(unittest.TestCase):

    def _root(self, tmp):
        import cv2
        import numpy as np
        for folder in ('trainA', 'trainB'):
            os.makedirs(osp.join(tmp, folder))
            for i in range(2):
                cv2.imwrite(osp.join(tmp, folder, f'{i}.png'),
                            np.full((8, 8, 3), 40 * i, np.uint8))
        good = osp.join(tmp, 'trainA', 'big.jpg')
        cv2.imwrite(good, np.random.RandomState(0).randint(
            0, 255, (64, 64, 3), dtype=np.uint8))
        with open(good, 'rb') as f:
            data = f.read()
        with open(osp.join(tmp, 'trainA', 'truncated.jpg'), 'wb') as f:
            f.write(data[:len(data) // 2])
        open(osp.join(tmp, 'trainB', 'zero.png'), 'w').close()
        with open(osp.join(tmp, 'trainB', 'text.png'), 'w') as f:
            f.write('not an image')
        return tmp

    def _build(self, root, **kw):
        from mmagic.registry import DATASETS
        return DATASETS.build(dict(
            type='UnpairedFolderDataset', data_root=root,
            pipeline=[], domain_a='horse', domain_b='zebra', **kw))

    def test_error_names_each_bad_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = self._root(tmp)
            with self.assertRaises(ValueError) as ctx:
                self._build(root)
            msg = str(ctx.exception)
            self.assertIn('truncated.jpg', msg)
            self.assertIn("bad_files='skip'", msg)

    def test_skip_leaves_them_out(self):
        with tempfile.TemporaryDirectory() as tmp:
            ds = self._build(self._root(tmp), bad_files='skip')
            names_a = sorted(osp.basename(d['path'])
                             for d in ds.data_infos_a)
            names_b = sorted(osp.basename(d['path'])
                             for d in ds.data_infos_b)
            self.assertEqual(names_a, ['0.png', '1.png', 'big.jpg'])
            self.assertEqual(names_b, ['0.png', '1.png'])


class TestSmallerThanCrop(unittest.TestCase):

    def _root(self, tmp):
        _write_images(osp.join(tmp, 'trainA'), 2, 30)  # 16x16
        for folder in ('trainA', 'trainB'):
            os.makedirs(osp.join(tmp, folder), exist_ok=True)
            cv2.imwrite(osp.join(tmp, folder, 'big.png'),
                        np.zeros((20, 24, 3), np.uint8))
        return tmp

    def _pipeline(self, *middle):
        return [PIPELINE[0], PIPELINE[1], *middle, PIPELINE[2]]

    def test_image_smaller_than_crop_is_named(self):
        crop = dict(type='Crop', keys=['img_A', 'img_B'], crop_size=(18, 20),
                    random_crop=True)
        with tempfile.TemporaryDirectory() as tmp:
            root = self._root(tmp)
            with self.assertRaises(ValueError) as ctx:
                _build(root, pipeline=self._pipeline(crop))
            msg = str(ctx.exception)
            self.assertIn(osp.join(root, 'trainA', '000.png'), msg)
            self.assertIn('16x16 is smaller than the pipeline\'s crop 20x18',
                          msg)
            self.assertNotIn('big.png', msg)
            ds = _build(root, pipeline=self._pipeline(crop), bad_files='skip')
            self.assertEqual([osp.basename(d['path']) for d in
                              ds.data_infos_a], ['big.png'])
            sample = ds[0]
            self.assertEqual(tuple(sample['inputs']['img_horse'].shape),
                             (3, 18, 20))

    def test_crop_inside_broadcaster_and_after_resize(self):
        crop = dict(type='Crop', keys=['img'], crop_size=(18, 18),
                    random_crop=True)
        broadcast = dict(type='TransformBroadcaster',
                         mapping={'img': ['img_A', 'img_B']},
                         auto_remap=True, share_random_params=False,
                         transforms=[crop])
        resized = dict(broadcast, transforms=[
            dict(type='Resize', scale=(22, 22)), crop])
        with tempfile.TemporaryDirectory() as tmp:
            root = self._root(tmp)
            with self.assertRaisesRegex(ValueError, 'smaller than'):
                _build(root, pipeline=self._pipeline(broadcast))
            # resized first: any size is fine
            ds = _build(root, pipeline=self._pipeline(resized))
            self.assertEqual(len(ds.data_infos_a), 3)


class TestImageModes(unittest.TestCase):
    """Grayscale, RGBA and 16-bit training images load as 8-bit colour."""

    def test_modes_load_as_8bit_colour(self):
        with tempfile.TemporaryDirectory() as tmp:
            a, b = osp.join(tmp, 'trainA'), osp.join(tmp, 'trainB')
            os.makedirs(a)
            os.makedirs(b)
            cv2.imwrite(osp.join(a, '0_gray.png'),
                        np.full((12, 10), 77, np.uint8))
            rgba = np.zeros((12, 10, 4), np.uint8)
            rgba[..., :3], rgba[..., 3] = (10, 20, 30), 128
            cv2.imwrite(osp.join(a, '1_rgba.png'), rgba)
            cv2.imwrite(osp.join(a, '2_16bit.png'),
                        np.full((12, 10, 3), 257 * 200, np.uint16))
            cv2.imwrite(osp.join(a, '3_gray16.png'),
                        np.full((12, 10), 257 * 50, np.uint16))
            cv2.imwrite(osp.join(b, '0.png'), np.zeros((12, 10, 3), np.uint8))
            ds = _build(tmp)
            expected = {'0_gray.png': (77, 77, 77), '1_rgba.png': (10, 20, 30),
                        '2_16bit.png': (200, 200, 200),
                        '3_gray16.png': (50, 50, 50)}
            for i in range(4):
                sample = ds[i]
                img = sample['inputs']['img_horse']
                name = osp.basename(sample['data_samples'].img_horse_path)
                self.assertEqual(tuple(img.shape), (3, 12, 10), name)
                self.assertEqual(img.dtype, torch.uint8, name)
                self.assertEqual(tuple(int(v) for v in img[:, 0, 0]),
                                 expected[name], name)


if __name__ == '__main__':
    unittest.main()
