"""End to end on the CPU: tools/train.py --amp (bfloat16) writes checkpoints
that resume both with and without --amp."""
import glob
import json
import os.path as osp
import sys

import torch

TOOLS_TESTS = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, TOOLS_TESTS)
from test_train_test_resume import (CONFIG, TINY,  # noqa: E402
                                    SyntheticDataTestCase, run)


def logged(work):
    """{iteration: {key: value}} of the training scalars of a work dir."""
    rows = {}
    for path in glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss_gan_d_smooth' in rec:
                    rows[rec['iter']] = rec
    return rows


class TestAmpTrainResume(SyntheticDataTestCase):

    def _train(self, work, max_iters, *extra):
        opts = ['--cfg-options', f'data_root={self.data}',
                f'train_cfg.max_iters={max_iters}'] + TINY
        rc, out = run('tools/train.py', CONFIG, '--work-dir', work, *extra,
                      *opts)
        self.assertEqual(rc, 0, out[-3000:])
        return out

    def test_amp_checkpoint_resumes_with_and_without_amp(self):
        amp_work = osp.join(self.tmp.name, 'amp')
        out = self._train(amp_work, 4, '--amp')
        self.assertIn("type='AutocastOptimWrapper'", out)
        ckpt = osp.join(amp_work, 'iter_2.pth')
        state = torch.load(ckpt, weights_only=True)
        self.assertEqual(state['meta']['iter'], 2)
        # plain optimizer state: nothing AMP-specific to resume
        self.assertNotIn('loss_scaler', state['optimizer']['generators'])
        for it, rec in logged(amp_work).items():
            losses = {k: v for k, v in rec.items() if k.startswith('loss_')}
            self.assertEqual(len(losses), 6, rec)
            self.assertTrue(all(map(lambda v: abs(v) < float('inf'),
                                    losses.values())), (it, losses))

        resumed = {}
        for name, extra in (('fp32', ()), ('amp', ('--amp', ))):
            work = osp.join(self.tmp.name, f'resumed_{name}')
            out = self._train(work, 4, '--resume', ckpt, *extra)
            self.assertIn('resumed epoch: 0, iter: 2', out)
            self.assertTrue(osp.isfile(osp.join(work, 'iter_4.pth')))
            resumed[name] = logged(work)
            self.assertEqual(set(resumed[name]), {3, 4}, name)
        # the same state resumed: iteration 3 in bfloat16 is close to the
        # same iteration in float32 (same weights, data and random draws)
        ref, amp = resumed['fp32'][3], resumed['amp'][3]
        for key in (k for k in ref if k.startswith('loss_')):
            self.assertTrue(abs(ref[key] - amp[key]) <=
                            0.1 * abs(ref[key]) + 0.02,
                            (key, ref[key], amp[key]))

        # and a float32 checkpoint continues under --amp
        fp32_ckpt = osp.join(self.tmp.name, 'resumed_fp32', 'iter_4.pth')
        work = osp.join(self.tmp.name, 'fp32_then_amp')
        out = self._train(work, 5, '--resume', fp32_ckpt, '--amp')
        self.assertIn('resumed epoch: 0, iter: 4', out)
        self.assertEqual(set(logged(work)), {5})
