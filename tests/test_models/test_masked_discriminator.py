from unittest import TestCase

import torch
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.models.editors.cyclegan.cyclegan_modules import GANImageBuffer
from mmagic.registry import MODELS
from uagit_mm.models import MaskedImagePool, binarize_attention

init_default_scope('mmagic')


def tiny_disc(**kwargs):
    cfg = dict(type='AttentionMaskedDiscriminator', in_channels=3,
               base_channels=8, num_conv=3)
    cfg.update(kwargs)
    return MODELS.build(cfg)


class TestAttentionMaskedDiscriminator(TestCase):

    def test_paper_layers(self):
        disc = MODELS.build(
            dict(type='AttentionMaskedDiscriminator', in_channels=3))
        convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
        self.assertEqual([c.out_channels for c in convs],
                         [64, 128, 256, 512, 1])
        self.assertEqual([c.stride[0] for c in convs], [2, 2, 2, 1, 1])
        self.assertEqual([c.kernel_size[0] for c in convs], [4] * 5)

    def test_masked_input_is_thresholded(self):
        disc = tiny_disc()
        seen = []
        disc.model.register_forward_pre_hook(
            lambda m, inp: seen.append(inp[0].clone()))
        x = torch.randn(2, 3, 32, 32)
        att = torch.rand(2, 1, 32, 32)
        disc(x)
        disc(x, binarize_attention(att, 0.1))
        self.assertTrue(torch.equal(seen[0], x))
        expected = x * (att > 0.1).float()
        self.assertTrue(torch.equal(seen[1], expected))
        self.assertTrue((seen[1][(att <= 0.1).expand_as(x)] == 0).all())

    def test_norm_switch_changes_output(self):
        disc = tiny_disc()
        disc.init_weights()
        x = torch.randn(1, 3, 32, 32)
        self.assertTrue(disc.norm_enabled)
        with_norm = disc(x)
        disc.set_norm_enabled(False)
        self.assertFalse(disc.norm_enabled)
        without = disc(x)
        self.assertFalse(torch.allclose(with_norm, without))
        disc.set_norm_enabled(True)
        self.assertTrue(torch.equal(disc(x), with_norm))

    def test_threshold_key_moved_to_model(self):
        # tau belongs to the model's phase schedule (model.threshold)
        with self.assertRaisesRegex(ValueError, 'model.threshold'):
            tiny_disc(threshold=0.1)

    def test_binarize_has_no_grad(self):
        att = torch.rand(1, 1, 4, 4, requires_grad=True)
        mask = binarize_attention(att, 0.5)
        self.assertFalse(mask.requires_grad)
        self.assertTrue(set(mask.unique().tolist()) <= {0.0, 1.0})


class TestMaskedImagePool(TestCase):

    def test_fakes_come_back_with_their_masks(self):
        torch.manual_seed(0)
        import numpy as np
        np.random.seed(0)
        pool = MaskedImagePool(GANImageBuffer(3))
        returned_older = False
        for k in range(40):
            # image k is filled with k, its mask with k / 100
            imgs = torch.full((2, 3, 4, 4), float(k))
            imgs[1] += 0.5
            masks = imgs[:, :1] / 100.0
            out_img, out_mask = pool.query(imgs, masks)
            self.assertEqual(out_img.shape, (2, 3, 4, 4))
            self.assertEqual(out_mask.shape, (2, 1, 4, 4))
            self.assertTrue(torch.allclose(out_mask, out_img[:, :1] / 100.0))
            returned_older |= bool(out_img.min() < k)
        # the pool did return stored (older) fakes, each with its own mask
        self.assertTrue(returned_older)

    def test_shape_mismatch(self):
        pool = MaskedImagePool(GANImageBuffer(2))
        with self.assertRaises(ValueError):
            pool.query(torch.zeros(2, 3, 4, 4), torch.zeros(1, 1, 4, 4))

    def test_state_round_trip_continues_identically(self):
        import numpy as np
        np.random.seed(1)
        pool = MaskedImagePool(GANImageBuffer(3))
        for k in range(5):
            pool.query(torch.full((1, 3, 4, 4), float(k)),
                       torch.full((1, 1, 4, 4), k / 10))
        state = pool.state_dict()
        self.assertEqual(state['num'], 3)
        self.assertEqual(tuple(state['entries'].shape), (3, 4, 4, 4))
        copy = MaskedImagePool(GANImageBuffer(3))
        copy.load_state_dict(state)
        # the same draws from both pools give the same fakes and masks
        for k in range(5, 15):
            new = (torch.full((1, 3, 4, 4), float(k)),
                   torch.full((1, 1, 4, 4), k / 10))
            rng = np.random.get_state()
            a = pool.query(*new)
            np.random.set_state(rng)
            b = copy.query(*new)
            self.assertTrue(
                torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]))

    def test_empty_pool_state(self):
        state = MaskedImagePool(GANImageBuffer(2)).state_dict()
        self.assertEqual(state['num'], 0)
        copy = MaskedImagePool(GANImageBuffer(2))
        copy.load_state_dict(state)
        self.assertEqual(copy.buffer.img_num, 0)

    def test_state_too_large_for_pool(self):
        pool = MaskedImagePool(GANImageBuffer(3))
        for k in range(3):
            pool.query(torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2))
        with self.assertRaisesRegex(ValueError, 'buffer_size'):
            MaskedImagePool(GANImageBuffer(2)).load_state_dict(
                pool.state_dict())
