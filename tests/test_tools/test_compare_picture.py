"""tools/compare_picture.py: input | mask | ours | other, per direction."""
import os
import os.path as osp
import sys
import tempfile
from unittest import TestCase

import numpy as np
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import compare_picture  # noqa: E402


def save(path, value, size=8):
    os.makedirs(osp.dirname(path), exist_ok=True)
    # a colour the captions' grey text never has
    Image.fromarray(np.full((size, size, 3), (value, 255 - value, 0),
                            np.uint8)).save(path)


class TestComparePicture(TestCase):

    def test_picture_holds_the_four_images_per_test_photo(self):
        with tempfile.TemporaryDirectory() as tmp:
            data, ours, other = (osp.join(tmp, d)
                                 for d in ('data', 'ours', 'other'))
            for folder, direction in (('testA', 'h2z'), ('testB', 'z2h')):
                for i in range(3):
                    save(osp.join(data, folder, f'{folder}{i}.png'), 10)
                    save(osp.join(ours, direction, f'{folder}{i}_mask.png'),
                         20)
                    save(osp.join(ours, direction, f'{folder}{i}.png'), 30)
                    save(osp.join(other, direction, f'{folder}{i}.png'), 40)
            out = osp.join(tmp, 'pic.png')
            rc = compare_picture.main([data, ours, other, '--domains', 'h',
                                       'z', '--num', '2', '--scale', '1',
                                       '--out', out])
            self.assertEqual(rc, 0)
            pic = np.asarray(Image.open(out).convert('RGB'))

            # each direction's band: 2 photos x 4 images of 8 px
            def where(value):
                return (pic == (value, 255 - value, 0)).all(2)
            for value in (10, 20, 30, 40):
                self.assertEqual(where(value).any(0).sum(), 2 * 8, value)
            rows = where(40).any(1).sum()
            self.assertEqual(rows, 2 * 8)  # two directions
            # a missing translation is named
            os.remove(osp.join(other, 'z2h', 'testB0.png'))
            rc = compare_picture.main([data, ours, other, '--domains', 'h',
                                       'z', '--out', out])
            self.assertEqual(rc, 2)
