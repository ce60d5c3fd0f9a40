"""The memory budget honours container limits (cgroups) and reads
ru_maxrss in the platform's unit."""
import os
import os.path as osp
import tempfile
from unittest import TestCase

from uagit_mm.apis.memory import available_memory, maxrss_bytes

GiB = 2**30


def write(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


class TestCgroupBudget(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.proc = osp.join(self.tmp.name, 'proc')
        self.cg = osp.join(self.tmp.name, 'cgroup')
        # the machine says 20 GiB are free
        write(osp.join(self.proc, 'meminfo'),
              f'MemTotal: {24 * GiB // 1024} kB\n'
              f'MemAvailable: {20 * GiB // 1024} kB\n')

    def budget(self):
        return available_memory(self.proc, self.cg)

    def test_no_cgroup_limit_leaves_memavailable(self):
        write(osp.join(self.proc, 'self', 'cgroup'), '0::/user.slice\n')
        write(osp.join(self.cg, 'user.slice', 'memory.max'), 'max\n')
        write(osp.join(self.cg, 'user.slice', 'memory.current'), '1000\n')
        self.assertEqual(self.budget(), 20 * GiB)

    def test_v2_limit_of_the_cgroup_or_one_above(self):
        write(osp.join(self.proc, 'self', 'cgroup'), '0::/pod/ctr\n')
        write(osp.join(self.cg, 'pod', 'ctr', 'memory.max'), str(8 * GiB))
        write(osp.join(self.cg, 'pod', 'ctr', 'memory.current'),
              str(3 * GiB))
        self.assertEqual(self.budget(), 5 * GiB)
        # a tighter parent (the pod) wins
        write(osp.join(self.cg, 'pod', 'memory.max'), str(6 * GiB))
        write(osp.join(self.cg, 'pod', 'memory.current'), str(4 * GiB))
        self.assertEqual(self.budget(), 2 * GiB)

    def test_v1_limit(self):
        write(osp.join(self.proc, 'self', 'cgroup'),
              '4:memory:/docker/abc\n3:cpu:/docker/abc\n')
        folder = osp.join(self.cg, 'memory', 'docker', 'abc')
        write(osp.join(folder, 'memory.limit_in_bytes'), str(4 * GiB))
        write(osp.join(folder, 'memory.usage_in_bytes'), str(1 * GiB))
        self.assertEqual(self.budget(), 3 * GiB)
        # v1's "unlimited" is a huge number
        write(osp.join(folder, 'memory.limit_in_bytes'),
              '9223372036854771712')
        self.assertEqual(self.budget(), 20 * GiB)

    def test_v1_inside_a_container_sees_its_own_root(self):
        # the path in /proc/self/cgroup is the host's; the container mounts
        # its own cgroup at the root of the hierarchy
        write(osp.join(self.proc, 'self', 'cgroup'),
              '4:memory:/process_api/0123\n')
        folder = osp.join(self.cg, 'memory')
        write(osp.join(folder, 'memory.limit_in_bytes'), str(2 * GiB))
        write(osp.join(folder, 'memory.usage_in_bytes'), str(GiB // 2))
        self.assertEqual(self.budget(), GiB + GiB // 2)

    def test_limit_without_meminfo(self):
        os.remove(osp.join(self.proc, 'meminfo'))
        write(osp.join(self.proc, 'self', 'cgroup'), '0::/\n')
        write(osp.join(self.cg, 'memory.max'), str(GiB))
        write(osp.join(self.cg, 'memory.current'), '0')
        self.assertEqual(self.budget(), GiB)
        os.remove(osp.join(self.cg, 'memory.max'))
        self.assertIsNone(self.budget())


class TestMaxRss(TestCase):

    def test_units_per_platform(self):
        self.assertEqual(maxrss_bytes(2048, 'linux'), 2048 * 1024)
        self.assertEqual(maxrss_bytes(2048, 'darwin'), 2048)
        self.assertGreater(maxrss_bytes(), 10 * 2**20)  # this process
