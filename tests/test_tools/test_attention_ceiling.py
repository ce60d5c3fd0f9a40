"""tools/dev/attention_ceiling.py: the config's attention network trained
with supervision on reference masks, scored on the held-out images."""
import os
import os.path as osp
import sys
import tempfile
from unittest import TestCase

import numpy as np
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'dev'))
import attention_ceiling  # noqa: E402

CONFIG = osp.join(ROOT, 'configs',
                  'uagit_cpu_1xb1-3000iters_horse2zebra64.py')


def write_split(root, split, num, rng, masks=True, size=16):
    """Red squares (the 'animals') at random places on green noise."""
    os.makedirs(osp.join(root, split))
    if masks:
        os.makedirs(osp.join(root, f'{split}_mask'))
    for i in range(num):
        img = np.zeros((size, size, 3), np.uint8)
        img[..., 1] = rng.integers(100, 200, (size, size))
        y, x = rng.integers(0, size - 6, 2)
        mask = np.zeros((size, size), np.uint8)
        mask[y:y + 6, x:x + 6] = 255
        img[mask > 0] = (220, 30, 30)
        Image.fromarray(img).save(osp.join(root, split, f'{i}.png'))
        if masks:
            Image.fromarray(mask).save(
                osp.join(root, f'{split}_mask', f'{i}.png'))


class TestAttentionCeiling(TestCase):

    def test_learns_the_reference_masks_and_scores_the_held_out_ones(self):
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            for split in ('trainA', 'trainB'):
                write_split(tmp, split, 8, rng)
            for split in ('valA', 'valB'):
                write_split(tmp, split, 4, rng)
            rows = attention_ceiling.main([
                CONFIG, '--data-root', tmp, '--iters', '300',
                '--eval-every', '150'
            ])
        self.assertEqual([(r['domain'], r['iteration']) for r in rows],
                         [('horse', 150), ('horse', 300), ('zebra', 150),
                          ('zebra', 300)])
        for r in rows[1::2]:  # after 300 supervised steps
            # (20 steps give about 0.8 / 0.35 / 0.84: not enough)
            self.assertGreater(r['mask_iou'], 0.75, r)
            self.assertGreater(r['attn_on_object'], 0.7, r)
            self.assertLess(r['attn_off_object'], 0.15, r)

    def test_without_reference_masks_it_says_where_they_belong(self):
        rng = np.random.default_rng(1)
        with tempfile.TemporaryDirectory() as tmp:
            write_split(tmp, 'trainA', 2, rng, masks=False)
            with self.assertRaisesRegex(SystemExit, 'trainA_mask'):
                attention_ceiling.main([CONFIG, '--data-root', tmp,
                                        '--iters', '1'])
