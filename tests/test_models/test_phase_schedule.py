from unittest import TestCase

import torch
from mmengine import MessageHub

from uagit_mm.errors import ConfigError
from uagit_mm.models import PhaseSchedule, sample_binary_mask


def hub(it=0, epoch=0):
    hub = MessageHub.get_instance('test_phase_schedule')
    hub.update_info('iter', it)
    hub.update_info('epoch', epoch)
    return hub


class TestPhaseSchedule(TestCase):

    def test_states_before_and_after_the_switch(self):
        schedule = PhaseSchedule(switch_iter=3, threshold=0.2)
        one = schedule.state(hub(2))
        self.assertEqual(
            (one.phase, one.mask_threshold, one.train_attention,
             one.disc_norm), (1, None, True, True))
        two = schedule.state(hub(3))
        self.assertEqual(
            (two.phase, two.mask_threshold, two.train_attention,
             two.disc_norm), (2, 0.2, False, False))
        keep = PhaseSchedule(switch_iter=0, freeze_attention=False,
                             disc_norm_in_phase2=True).state(hub(0))
        self.assertEqual((keep.phase, keep.train_attention, keep.disc_norm),
                         (2, True, True))

    def test_changed_on_first_step_and_at_the_switch_only(self):
        schedule = PhaseSchedule(switch_iter=2)
        flags = [schedule.state(hub(it)).changed for it in range(5)]
        self.assertEqual(flags, [True, False, True, False, False])
        # a fresh schedule (a resumed run) reports its first step
        self.assertTrue(PhaseSchedule(switch_iter=2).state(hub(4)).changed)

    def test_epoch_switch_and_holistic(self):
        by_epoch = PhaseSchedule(switch_epoch=3)
        self.assertEqual(by_epoch.phase(hub(100, epoch=2)), 1)
        self.assertEqual(by_epoch.phase(hub(0, epoch=3)), 2)
        self.assertEqual(PhaseSchedule().phase(hub(10**6, epoch=10**3)), 1)

    def test_disc_mask_binarises_with_tau_in_phase_two(self):
        attention = torch.tensor([[[[0.05, 0.1, 0.15, 0.9]]]],
                                 requires_grad=True)
        schedule = PhaseSchedule(switch_iter=1, threshold=0.1)
        self.assertIsNone(schedule.state(hub(0)).disc_mask(attention))
        mask = schedule.state(hub(1)).disc_mask(attention)
        self.assertEqual(mask.flatten().tolist(), [0.0, 0.0, 1.0, 1.0])
        self.assertFalse(mask.requires_grad)

    def test_binary_mask_from_until_the_attention_is_frozen(self):
        schedule = PhaseSchedule(switch_iter=5, binary_mask_from=2)
        self.assertEqual(
            [schedule.state(hub(it)).binary_mask for it in range(7)],
            [False, False, True, True, True, False, False])
        # off by default (the paper); on in phase 2 when the attention trains
        self.assertFalse(
            any(PhaseSchedule(switch_iter=5).state(hub(it)).binary_mask
                for it in range(7)))
        unfrozen = PhaseSchedule(switch_iter=1, freeze_attention=False,
                                 binary_mask_from=0)
        self.assertTrue(unfrozen.state(hub(3)).binary_mask)

    def test_sample_binary_mask(self):
        torch.manual_seed(0)
        attention = torch.tensor([0.0, 0.3, 0.7, 1.0]).view(4, 1, 1, 1)
        attention = attention.expand(4, 1, 2, 2).contiguous()
        attention.requires_grad_(True)
        mask = sample_binary_mask(attention)
        self.assertEqual(mask.shape, attention.shape)
        self.assertTrue(set(mask.unique().tolist()) <= {0.0, 1.0})
        # one threshold per image: each image's mask is all 0 or all 1
        self.assertTrue(all(len(m.unique()) == 1 for m in mask))
        self.assertEqual(mask[0].max().item(), 0.0)  # a = 0: never
        self.assertEqual(mask[3].min().item(), 1.0)  # a = 1: always
        # straight-through: the gradient reaches the attention unchanged
        weight = torch.randn_like(attention)
        (mask * weight).sum().backward()
        self.assertTrue(torch.equal(attention.grad, weight))
        # the threshold is uniform: E[mask] = a
        many = torch.full((4000, 1, 1, 1), 0.3)
        self.assertAlmostEqual(sample_binary_mask(many).mean().item(), 0.3,
                               delta=0.03)
        # thresholds drawn from torch's generator: reproducible by seed
        torch.manual_seed(1)
        first = sample_binary_mask(many)
        torch.manual_seed(1)
        self.assertTrue(torch.equal(first, sample_binary_mask(many)))

    def test_validation_names_the_model_keys(self):
        for kwargs, key in ((dict(threshold=1.5), r'model\.threshold'),
                            (dict(threshold=-0.1), r'model\.threshold'),
                            (dict(switch_iter=-1), r'model\.switch_iter'),
                            (dict(switch_epoch=-2), r'model\.switch_epoch'),
                            (dict(binary_mask_from=-1),
                             r'model\.binary_mask_from'),
                            (dict(switch_iter=1, switch_epoch=1),
                             r'model\.switch_epoch')):
            with self.subTest(**kwargs):
                with self.assertRaisesRegex(ConfigError, key):
                    PhaseSchedule(**kwargs)
