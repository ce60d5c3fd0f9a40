import io
import random
from unittest import TestCase

import numpy as np
import torch

from uagit_mm.utils import get_rng_state, set_rng_state


def draw():
    return (random.random(), random.gauss(0, 1), float(np.random.rand()),
            float(np.random.randn()), float(torch.rand(1)))


class TestRngState(TestCase):

    def test_restored_generators_repeat_their_draws(self):
        random.seed(3)
        np.random.seed(3)
        torch.manual_seed(3)
        draw()  # leaves cached gaussians behind
        random.gauss(0, 1)
        np.random.randn()
        state = get_rng_state()
        first = draw()
        self.assertNotEqual(first, draw())
        set_rng_state(state)
        self.assertEqual(first, draw())

    def test_state_survives_weights_only_loading(self):
        state = get_rng_state()
        expected = draw()
        buf = io.BytesIO()
        torch.save(state, buf)
        buf.seek(0)
        set_rng_state(torch.load(buf, weights_only=True))
        self.assertEqual(expected, draw())
