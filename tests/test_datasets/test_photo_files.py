"""Training data as people have it: the configs' loader (LoadPhotoFromFile,
the inference reader's decoding behind mmagic's LoadImageFromFile) applies
EXIF orientation and reads CMYK, palette, 16-bit and animated files as
read_rgb does at inference, colour profiles as the config chooses; masks
load upright too; the dataset's size check sees the upright size."""
import os
import os.path as osp
import tempfile
import unittest

import cv2
import numpy as np
import skimage.data
from mmengine.registry import init_default_scope
from PIL import Image

import uagit_mm  # noqa: F401
from mmagic.registry import DATASETS, TRANSFORMS
from uagit_mm.apis import read_rgb
from uagit_mm.datasets.unpaired_dataset import _decode_problem

T = Image.Transpose
STORED = {3: T.ROTATE_180, 6: T.ROTATE_90, 8: T.ROTATE_270}


def setUpModule():
    init_default_scope('mmagic')


def photo(name: str, size) -> np.ndarray:
    img = Image.fromarray(getattr(skimage.data, name)())
    return np.asarray(img.resize(size[::-1], Image.LANCZOS))


def save_oriented(path, img, orientation, **kwargs):
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = img if orientation == 1 else img.transpose(STORED[orientation])
    stored.save(path, exif=exif.tobytes(), **kwargs)


def load(path: str, key: str = 'img') -> np.ndarray:
    """What the configs' loading step gives (BGR)."""
    t = TRANSFORMS.build(dict(type='LoadPhotoFromFile', key=key))
    return t({f'{key}_path': path})[key]


class TestTrainingPhotos(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, *names):
        return osp.join(self.tmp.name, *names)

    def test_loader_reads_photos_as_inference_does(self):
        upright = photo('astronaut', (70, 50))  # a portrait
        files = {}
        for o in (3, 6, 8):
            save_oriented(self.path(f'o{o}.jpg'), Image.fromarray(upright),
                          o, quality=95, subsampling=0)
            files[f'o{o}.jpg'] = 3
        rgb = photo('coffee', (40, 60))
        Image.fromarray(rgb).convert('CMYK').save(self.path('cmyk.jpg'),
                                                  quality=95)
        files['cmyk.jpg'] = 4
        Image.fromarray(rgb).convert('P', palette=Image.ADAPTIVE).save(
            self.path('pal.png'))
        files['pal.png'] = 0
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(
            self.path('gray16.png'))
        files['gray16.png'] = 0
        frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
        frames[0].save(self.path('anim.gif'), save_all=True,
                       append_images=frames[1:], duration=100)
        files['anim.gif'] = 1
        for name, tol in files.items():
            bgr = load(self.path(name))
            want = read_rgb(self.path(name))
            self.assertEqual(bgr.shape, want.shape, name)
            err = np.abs(bgr[..., ::-1].astype(float) - want).mean()
            self.assertLessEqual(err, tol, name)
        for o in (3, 6, 8):  # upright, not as stored
            bgr = load(self.path(f'o{o}.jpg'))
            self.assertLess(np.abs(bgr[..., ::-1].astype(float) -
                                   upright).mean(), 3, o)

    def test_dataset_with_portrait_photos_and_masks(self):
        root = self.path('data')
        upright = photo('chelsea', (48, 32))  # 32 wide, 48 high
        mask = np.zeros((48, 32), np.uint8)
        mask[:12] = 255  # the top quarter
        for split in ('trainA', 'trainB', 'testA', 'testB', 'testA_mask'):
            os.makedirs(osp.join(root, split))
        for split in ('trainA', 'trainB', 'testA', 'testB'):
            save_oriented(osp.join(root, split, 'p.jpg'),
                          Image.fromarray(upright), 6, quality=95)
        save_oriented(osp.join(root, 'testA_mask', 'p.png'),
                      Image.fromarray(mask), 6)
        # stored 48 wide and 32 high: a crop of (h, w) = (44, 30) fits the
        # upright image (48 high) and not the stored pixels (32 high)
        path = osp.join(root, 'trainA', 'p.jpg')
        self.assertEqual(Image.open(path).size, (48, 32))
        self.assertIsNone(_decode_problem(path, (44, 30)))
        self.assertIn('32x48 is smaller', _decode_problem(path, (50, 30)))
        pipeline = [
            dict(type='LoadPhotoFromFile', key='img_A'),
            dict(type='LoadPhotoFromFile', key='img_B'),
            dict(type='LoadUnpairedMasks'),
            dict(type='PackUnpairedInputs'),
        ]
        ds = DATASETS.build(dict(type='UnpairedFolderDataset',
                                 data_root=root, pipeline=pipeline,
                                 test_mode=True, domain_a='cat',
                                 domain_b='dog'))
        sample = ds[0]
        self.assertEqual(tuple(sample['inputs']['img_cat'].shape),
                         (3, 48, 32))
        gt = sample['data_samples'].gt_mask_cat
        gt = getattr(gt, 'data', gt)
        gt = np.asarray(gt).reshape(48, 32)
        self.assertEqual(gt[:12].min(), 1)
        self.assertEqual(gt[13:].max(), 0)
        # the masks' reader: cv2's IMREAD_GRAYSCALE applies it too
        self.assertEqual(cv2.imread(osp.join(root, 'testA_mask', 'p.png'),
                                    cv2.IMREAD_GRAYSCALE).shape, (48, 32))


class TestOneReader(unittest.TestCase):
    """The configs load training and test images with LoadPhotoFromFile,
    which decodes as read_rgb does, with the colour-profile choice the
    translate tool, the demo and the inferencer take from the config."""

    ROCKET = osp.join(osp.dirname(skimage.data.__file__), 'rocket.jpg')

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def files(self):
        """Odd files: Adobe RGB JPEG, EXIF-rotated JPEG, CMYK, palette,
        16-bit grey."""
        rgb = photo('coffee', (40, 60))
        paths = [self.ROCKET]
        for name, img, kwargs in (
                ('cmyk.jpg', Image.fromarray(rgb).convert('CMYK'), {}),
                ('pal.png', Image.fromarray(rgb).convert(
                    'P', palette=Image.ADAPTIVE), {}),
                ('gray16.png', Image.fromarray(
                    rgb[..., 0].astype(np.uint16) * 257), {})):
            paths.append(osp.join(self.tmp.name, name))
            img.save(paths[-1], **kwargs)
        paths.append(osp.join(self.tmp.name, 'o6.jpg'))
        save_oriented(paths[-1], Image.fromarray(rgb), 6, quality=95)
        return paths

    def test_configs_read_as_inference_does(self):
        from mmengine import Config

        from uagit_mm.apis.image_io import config_color_profiles
        root = osp.join(osp.dirname(osp.dirname(osp.dirname(
            osp.abspath(__file__)))), 'configs')
        choices = {}
        for name in ('uagit_cpu_1xb1-2500iters_synthetic64.py',
                     'uagit_cpu_1xb1-3000iters_horse2zebra64.py',
                     'uagit_horse2zebra.py'):
            cfg = Config.fromfile(osp.join(root, name))
            choice = choices[name] = config_color_profiles(cfg)
            steps = [cfg.train_dataloader.dataset.pipeline[0],
                     cfg.test_pipeline[0]]
            for step in steps:
                self.assertEqual(step.type, 'LoadPhotoFromFile', name)
                loader = TRANSFORMS.build(step)
                for path in self.files():
                    with self.subTest(config=name, file=path):
                        got = loader({'img_A_path': path})['img_A']
                        np.testing.assert_array_equal(
                            got[..., ::-1],
                            read_rgb(path, color_profiles=choice))
        # the benchmark config ignores profiles as the field's loaders do;
        # the CPU configs convert them
        self.assertEqual(choices, {
            'uagit_cpu_1xb1-2500iters_synthetic64.py': 'convert',
            'uagit_cpu_1xb1-3000iters_horse2zebra64.py': 'convert',
            'uagit_horse2zebra.py': 'ignore'})
        # the choice matters: Adobe RGB converted is not the stored values
        self.assertGreater(np.abs(
            read_rgb(self.ROCKET, color_profiles='convert').astype(int) -
            read_rgb(self.ROCKET, color_profiles='ignore')).mean(), 1.0)
        ignored = TRANSFORMS.build(dict(
            type='LoadPhotoFromFile', key='img', color_profiles='ignore',
            channel_order='rgb'))({'img_path': self.ROCKET})['img']
        np.testing.assert_array_equal(
            ignored, cv2.imread(self.ROCKET)[..., ::-1])

    def test_bad_choice_is_named(self):
        from uagit_mm.errors import ConfigError
        with self.assertRaisesRegex(ConfigError, "color_profiles must be "
                                    r"one of \('convert', 'ignore'\)"):
            TRANSFORMS.build(dict(type='LoadPhotoFromFile', key='img',
                                  color_profiles='srgb'))
        with self.assertRaisesRegex(ConfigError, 'color_type'):
            TRANSFORMS.build(dict(type='LoadPhotoFromFile', key='img',
                                  color_type='grayscale'))
        with self.assertRaisesRegex(ValueError, 'color_profiles'):
            read_rgb(self.ROCKET, color_profiles='none')
