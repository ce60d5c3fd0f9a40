"""README command 1 end to end (tools/quickstart.sh on its quick-start
config, made small through its environment variables), and the report it
ends with (tools/quickstart_report.py)."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
from unittest import TestCase, skipIf

import numpy as np
from PIL import Image

TOOLS_TESTS = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, TOOLS_TESTS)
from test_train_test_resume import ROOT, TINY, run  # noqa: E402

sys.path.insert(0, osp.join(ROOT, 'tools'))
import quickstart_report  # noqa: E402

QUICK_CONFIG = 'uagit_cpu_1xb1-1000iters_synthetic64.py'
ON_CI = os.environ.get('CI') == 'true'
# the venv the quick start is to use: this one, unless UAGIT_VENV names one
VENV = os.environ.get('UAGIT_VENV', sys.prefix)


def _venv_is_installed() -> bool:
    """True when tools/install.sh would find the venv up to date (so
    tools/quickstart.sh installs nothing): its stamp, computed as it does."""
    want = subprocess.run(
        ['bash', '-c', 'cat "$0"/requirements/*.txt "$0"/setup.py | '
         'sha256sum | cut -d" " -f1', ROOT],
        text=True, stdout=subprocess.PIPE).stdout.strip()
    stamp = osp.join(VENV, '.uagit-installed')
    return osp.isfile(stamp) and open(stamp).read().strip() == want


def _metrics(iou=(0.8, 0.75), bg=(0.004, 0.006), tr=(1.0, 0.9)):
    out = {}
    for k, d in enumerate(('smooth2striped', 'striped2smooth')):
        out.update({
            f'attn/{d}/mask_iou': iou[k],
            f'attn/{d}/bg_change': bg[k],
            f'attn/{d}/fg_change': 0.3,
            f'attn/{d}/translated': tr[k],
            f'attn/{d}/num_images': 50,
        })
    out['attn/mean/mask_iou'] = sum(iou) / 2
    return out


class TestQuickstartReport(TestCase):

    def test_table_has_one_row_per_direction(self):
        table = quickstart_report.metrics_table(_metrics()).splitlines()
        self.assertEqual(len(table), 3)
        self.assertEqual(re.split(r'\s{2,}', table[0]), [
            'direction', 'mask IoU', 'background change', 'translated',
            'test images'
        ])
        self.assertEqual(table[1].split(),
                         ['smooth2striped', '0.80', '0.004', '1.00', '50'])
        self.assertEqual(table[2].split(),
                         ['striped2smooth', '0.75', '0.006', '0.90', '50'])
        # the columns line up
        self.assertEqual(len({len(line) for line in table}), 1)

    def test_no_attention_metrics_is_an_error(self):
        with self.assertRaisesRegex(ValueError, 'no attention metrics'):
            quickstart_report.metrics_table({'kid': 0.1})

    def _folders(self, tmp, n=3, size=8):
        rng = np.random.default_rng(0)
        images = {}
        for folder, direction in (('testA', 'smooth2striped'),
                                  ('testB', 'striped2smooth')):
            os.makedirs(osp.join(tmp, 'data', folder))
            out = osp.join(tmp, 'tr', direction)
            os.makedirs(out)
            for i in range(n):
                src, mask, res = (
                    rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    rng.integers(0, 256, (size, size), dtype=np.uint8),
                    rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
                Image.fromarray(src).save(
                    osp.join(tmp, 'data', folder, f'{i:06d}.png'))
                Image.fromarray(mask).save(osp.join(out, f'{i:06d}_mask.png'))
                Image.fromarray(res).save(osp.join(out, f'{i:06d}.png'))
                images[direction, i] = (src, mask, res)
        with open(osp.join(tmp, 'metrics.json'), 'w') as f:
            json.dump(_metrics(), f)
        return images

    def test_picture_shows_input_mask_translation(self):
        with tempfile.TemporaryDirectory() as tmp:
            images = self._folders(tmp)
            out = osp.join(tmp, 'pic.png')
            rc = quickstart_report.main([
                osp.join(tmp, 'metrics.json'), osp.join(tmp, 'tr'),
                '--data', osp.join(tmp, 'data'), '--domains', 'smooth',
                'striped', '--out', out, '--num', '2', '--scale', '3'])
            self.assertEqual(rc, 0)
            pic = np.asarray(Image.open(out).convert('RGB'))
        gap, label, s = (quickstart_report.GAP, quickstart_report.LABEL_H,
                         3 * 8)
        # per band: 2 triplets of 3 images, gaps inside and between them
        width = 6 * s + 4 * gap + 3 * gap
        self.assertEqual(pic.shape, (2 * (label + s) + 2 * gap, width, 3))
        for band, direction in enumerate(('smooth2striped',
                                          'striped2smooth')):
            top = band * (label + s + 2 * gap) + label
            for i in range(2):
                src, mask, res = images[direction, i]
                left = i * (3 * s + 2 * gap + 3 * gap)
                for j, img in enumerate((src, np.stack([mask] * 3, -1),
                                         res)):
                    x = left + j * (s + gap)
                    np.testing.assert_array_equal(
                        pic[top:top + s:3, x:x + s:3], img,
                        f'{direction} image {i} panel {j}')

    def test_missing_translations_are_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            self._folders(tmp)
            rc, out = run(
                osp.join(ROOT, 'tools', 'quickstart_report.py'),
                osp.join(tmp, 'metrics.json'), osp.join(tmp, 'nowhere'),
                '--data', osp.join(tmp, 'data'), '--domains', 'smooth',
                'striped', '--out', osp.join(tmp, 'pic.png'))
        self.assertEqual(rc, 2, out)
        self.assertIn('no translations under', out)
        self.assertNotIn('Traceback', out)


@skipIf(not ON_CI and not _venv_is_installed(),
        'this venv was not made by tools/install.sh, so the quick start '
        'would install one (CI runs it after install.sh)')
class TestQuickstartScript(TestCase):
    """tools/quickstart.sh as README command 1 runs it, on a tiny dataset
    and network, in its own work dir: the quick-start config trains
    across the phase switch, is tested, and the report comes last."""

    def test_quickstart_end_to_end(self):
        with tempfile.TemporaryDirectory() as tmp:
            work = osp.join(tmp, 'work')
            env = dict(
                os.environ,
                UAGIT_VENV=VENV,
                DATA=osp.join(tmp, 'data'),
                WORK=work,
                DATA_OPTIONS='--size 32 --num-train 3 --num-test 3',
                QUICKSTART_OPTIONS=' '.join(
                    TINY + ['train_cfg.max_iters=4']))
            proc = subprocess.run(
                ['bash', osp.join(ROOT, 'tools', 'quickstart.sh')],
                cwd=tmp, env=env, text=True, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=900)
            out = proc.stdout
            self.assertEqual(proc.returncode, 0, out[-3000:])
            # the quick-start config, both phases, bfloat16 only where native
            self.assertTrue(osp.isfile(osp.join(work, QUICK_CONFIG)))
            self.assertIn('UAGIT phase 1', out)
            self.assertIn('UAGIT phase 2', out)
            self.assertRegex(out, r'--amp-auto: (mixed precision|float32) ')
            self.assertTrue(osp.isfile(osp.join(work, 'iter_4.pth')))
            # the table: one row per direction with the three figures
            with open(osp.join(work, 'test_metrics.json')) as f:
                metrics = json.load(f)
            for d in ('smooth2striped', 'striped2smooth'):
                row = re.search(rf'^{d} +(\S+) +(\S+) +(\S+) +3$', out,
                                re.MULTILINE)
                self.assertIsNotNone(row, out[-2000:])
                self.assertEqual(
                    [float(v) for v in row.groups()], [
                        round(metrics[f'attn/{d}/mask_iou'], 2),
                        round(metrics[f'attn/{d}/bg_change'], 3),
                        round(metrics[f'attn/{d}/translated'], 2)
                    ])
            # the picture exists where it says, with 3 triplets per band
            pic = re.search(r'mask \| translation\): (\S+)$', out,
                            re.MULTILINE).group(1)
            pic = pic if osp.isabs(pic) else osp.join(tmp, pic)
            with Image.open(pic) as img:
                width = img.size[0]
            self.assertEqual(width, 9 * 2 * 32 + 6 * 6 + 2 * 3 * 6)
            self.assertIn('tools/train.py configs/uagit_cpu_1xb1-2500iters_'
                          'synthetic64.py --amp-auto', out)
