"""tools/download_dataset.py on small archives made here."""
import io
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import zipfile
from unittest import TestCase

import numpy as np
from PIL import Image

from uagit_mm.datasets.prepare import prepare_dataset
from uagit_mm.errors import ConfigError, MissingFileError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COUNTS = dict(trainA=5, trainB=6, testA=2, testB=3)


def jpeg(seed, size=40, mode='RGB'):
    rng = np.random.RandomState(seed)
    img = Image.fromarray(rng.randint(0, 256, (size, size, 3), np.uint8))
    buf = io.BytesIO()
    img.convert(mode).save(buf, 'JPEG')
    return buf.getvalue()


def mask_png(size=40):
    arr = np.zeros((size, size), np.uint8)
    arr[10:30, 5:25] = 255
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, 'PNG')
    return buf.getvalue()


def make_zips(folder, corrupt=None):
    data = osp.join(folder, 'h2z.zip')
    with zipfile.ZipFile(data, 'w') as z:
        for split, n in COUNTS.items():
            for i in range(n):
                name = f'horse2zebra/{split}/{split}_{i}.jpg'
                body = b'not a jpeg' if name == corrupt else jpeg(
                    i, mode='L' if (split, i) == ('trainB', 0) else 'RGB')
                z.writestr(name, body)
    masks = osp.join(folder, 'masks.zip')
    with zipfile.ZipFile(masks, 'w') as z:
        for split in ('trainA', 'trainB'):
            # the first image of each domain has no mask
            for i in range(1, COUNTS[split]):
                z.writestr(f'horse2zebra/{split}_mask/{split}_{i}.png',
                           mask_png())
    return data, masks


def listing(path):
    return {d: sorted(os.listdir(osp.join(path, d)))
            for d in sorted(os.listdir(path)) if osp.isdir(osp.join(path, d))}


class TestPrepareDataset(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.zip, self.masks = make_zips(self.dir)

    def tearDown(self):
        self.tmp.cleanup()

    def test_layout_resize_masks_and_held_out_split(self):
        out = osp.join(self.dir, 'out')
        prepare_dataset('horse2zebra', out=out, from_zip=self.zip, size=16,
                        masks_zip=self.masks, num_val=2, seed=0,
                        log=lambda *a: None)
        got = listing(out)
        self.assertEqual(
            set(got), {'trainA', 'trainB', 'testA', 'testB', 'valA', 'valB',
                       'trainA_mask', 'trainB_mask', 'valA_mask',
                       'valB_mask'})
        self.assertEqual(len(got['valA']), 2)
        self.assertEqual(len(got['trainA']), COUNTS['trainA'] - 2)
        self.assertEqual(len(got['testB']), COUNTS['testB'])
        # held-out images all have masks; no image is in both splits
        self.assertEqual(got['valA'], got['valA_mask'])
        self.assertFalse(set(got['valA']) & set(got['trainA']))
        self.assertNotIn('trainA_0.png', got['valA'])  # it has no mask
        self.assertEqual(len(got['trainA_mask']), COUNTS['trainA'] - 1 - 2)
        for folder in ('trainB', 'valA_mask', 'testA'):
            path = osp.join(out, folder, got[folder][0])
            with Image.open(path) as img:
                self.assertEqual(img.size, (16, 16))
                self.assertEqual(img.mode,
                                 'L' if folder.endswith('_mask') else 'RGB')
                if folder.endswith('_mask'):  # still binary
                    self.assertLessEqual(set(np.unique(np.asarray(img))),
                                         {0, 255})
        manifest = json.load(open(osp.join(out, 'dataset.json')))
        self.assertEqual(manifest['size'], 16)
        self.assertEqual(manifest['held_out']['valA'],
                         [osp.splitext(n)[0] for n in got['valA']])
        # the same seed holds out the same images
        again = osp.join(self.dir, 'again')
        prepare_dataset('horse2zebra', out=again, from_zip=self.zip,
                        size=16, masks_zip=self.masks, num_val=2, seed=0,
                        log=lambda *a: None)
        self.assertEqual(listing(again)['valB'], got['valB'])

    def test_without_size_copies_the_files_and_reads_folders(self):
        out = osp.join(self.dir, 'full')
        prepare_dataset('horse2zebra', out=out, from_zip=self.zip,
                        num_val=1, log=lambda *a: None)
        self.assertEqual(len(os.listdir(osp.join(out, 'valA'))), 1)
        self.assertFalse(osp.exists(osp.join(out, 'valA_mask')))
        with zipfile.ZipFile(self.zip) as z:
            want = z.read('horse2zebra/testA/testA_1.jpg')
        with open(osp.join(out, 'testA', 'testA_1.jpg'), 'rb') as f:
            self.assertEqual(f.read(), want)
        # a folder of the same layout gives the same dataset
        again = osp.join(self.dir, 'from_dir')
        prepare_dataset('horse2zebra', out=again, from_dir=osp.join(out),
                        num_val=0, log=lambda *a: None)
        want = listing(out)
        del want['valA'], want['valB']  # a folder's own val is not read
        got = listing(again)
        self.assertEqual(len(got['trainA']), COUNTS['trainA'] - 1)
        self.assertEqual(got, want)

    def test_bad_inputs_are_named_and_nothing_is_left(self):
        bad = osp.join(self.dir, 'bad.zip')
        with open(bad, 'wb') as f:
            f.write(b'PK\x03\x04 truncated')
        out = osp.join(self.dir, 'out')
        with self.assertRaisesRegex(ConfigError, 'bad.zip'):
            prepare_dataset('horse2zebra', out=out, from_zip=bad)
        with self.assertRaisesRegex(MissingFileError, 'nope.zip'):
            prepare_dataset('horse2zebra', out=out,
                            from_zip=osp.join(self.dir, 'nope.zip'))
        # a zip without the layout
        flat = osp.join(self.dir, 'flat.zip')
        with zipfile.ZipFile(flat, 'w') as z:
            z.writestr('img.jpg', jpeg(0))
        with self.assertRaisesRegex(ConfigError, 'trainA'):
            prepare_dataset('horse2zebra', out=out, from_zip=flat)
        # one undecodable image, found after others were written
        sub = osp.join(self.dir, 'c')
        os.makedirs(sub)
        corrupt, _ = make_zips(sub, corrupt='horse2zebra/testB/testB_2.jpg')
        with self.assertRaisesRegex(ConfigError, 'testB_2.jpg'):
            prepare_dataset('horse2zebra', out=out, from_zip=corrupt,
                            size=16, num_val=0, log=lambda *a: None)
        # too many held-out images for the masks there are
        with self.assertRaisesRegex(ConfigError, '--num-val'):
            prepare_dataset('horse2zebra', out=out, from_zip=self.zip,
                            masks_zip=self.masks, num_val=5,
                            log=lambda *a: None)
        self.assertFalse(osp.exists(out))
        leftovers = [n for n in os.listdir(self.dir) if n.startswith('.')]
        self.assertEqual(leftovers, [])

    def test_an_existing_dataset_is_kept_unless_forced(self):
        out = osp.join(self.dir, 'out')
        prepare_dataset('horse2zebra', out=out, from_zip=self.zip, size=16,
                        num_val=0, log=lambda *a: None)
        with self.assertRaisesRegex(ConfigError, '--force'):
            prepare_dataset('horse2zebra', out=out, from_zip=self.zip)
        # a failing --force run leaves the old dataset as it was
        sub = osp.join(self.dir, 'c')
        os.makedirs(sub)
        corrupt, _ = make_zips(sub, corrupt='horse2zebra/testB/testB_2.jpg')
        before = listing(out)
        with self.assertRaises(ConfigError):
            prepare_dataset('horse2zebra', out=out, from_zip=corrupt,
                            size=16, force=True, num_val=0,
                            log=lambda *a: None)
        self.assertEqual(listing(out), before)
        prepare_dataset('horse2zebra', out=out, from_zip=self.zip, size=20,
                        force=True, num_val=0, log=lambda *a: None)
        with Image.open(osp.join(out, 'testA', 'testA_0.png')) as img:
            self.assertEqual(img.size, (20, 20))

    def test_command_line(self):
        out = osp.join(self.dir, 'cli')
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'download_dataset.py'),
               'horse2zebra', '--from-zip', self.zip, '--size', '16',
               '--masks-zip', self.masks, '--num-val', '1', '--out', out]
        res = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f'data_root={out}', res.stdout)
        self.assertEqual(len(os.listdir(osp.join(out, 'valB'))), 1)
        res = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(res.returncode, 2)
        self.assertIn('--force', res.stderr)
        self.assertNotIn('Traceback', res.stderr)


class TestColourProfiles(TestCase):
    """A third of horse2zebra's photos embed an ICC profile: the resized
    copy keeps the pixels as stored (or converts them) and drops the
    profile, so every reader sees the same pixels."""

    def test_ignore_or_convert(self):
        import skimage.data
        rocket = osp.join(osp.dirname(skimage.data.__file__), 'rocket.jpg')
        with open(rocket, 'rb') as f:
            photo = f.read()  # Adobe RGB (1998)
        with tempfile.TemporaryDirectory() as tmp:
            data = osp.join(tmp, 'h2z.zip')
            with zipfile.ZipFile(data, 'w') as z:
                for split in COUNTS:
                    z.writestr(f'h2z/{split}/{split}_0.jpg', photo)
            pngs = {}
            for how in ('ignore', 'convert'):
                out = osp.join(tmp, how)
                prepare_dataset('horse2zebra', out=out, from_zip=data,
                                size=32, color_profiles=how, num_val=0,
                                log=lambda *a: None)
                with Image.open(osp.join(out, 'testA', 'testA_0.png')) as im:
                    self.assertNotIn('icc_profile', im.info)
                    pngs[how] = np.asarray(im.convert('RGB')).astype(float)
            with Image.open(rocket) as im:
                stored = np.asarray(im.convert('RGB').resize(
                    (32, 32), Image.BOX)).astype(float)
            np.testing.assert_array_equal(pngs['ignore'], stored)

            def chroma(a):
                return (a.max(2) - a.min(2)).mean()
            # Adobe RGB values shown as sRGB look dull: converted, more
            # saturated
            self.assertGreater(chroma(pngs['convert']),
                               chroma(pngs['ignore']) + 3)
            with self.assertRaisesRegex(ConfigError, '--color-profiles'):
                prepare_dataset('horse2zebra', out=osp.join(tmp, 'x'),
                                from_zip=data, color_profiles='maybe')
