"""close_distributed: the end of tools/train.py and tools/test.py."""
import socket
from unittest import TestCase

import torch.distributed as dist

from uagit_mm.utils import close_distributed


class TestCloseDistributed(TestCase):

    def test_destroys_the_process_group(self):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        dist.init_process_group('gloo',
                                init_method=f'tcp://127.0.0.1:{port}',
                                rank=0, world_size=1)
        try:
            self.assertTrue(dist.is_initialized())
            close_distributed()
            self.assertFalse(dist.is_initialized())
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()

    def test_nothing_to_do_without_a_group(self):
        self.assertFalse(dist.is_initialized())
        close_distributed()  # must not raise
        self.assertFalse(dist.is_initialized())
