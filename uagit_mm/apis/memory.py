"""How much memory a translation will take, known before decoding.

A full-resolution translation holds feature maps of the full image size (a
24-megapixel photo and the paper's networks need about 20 GiB on the CPU,
far more than the photo itself). :class:`MemoryPlanner` predicts the peak
from the image size read from the file's header, before decoding it, so
that an image that would not fit at the tool's working size is translated
at the largest working size that does (:meth:`MemoryPlanner.plan`; the
composite is made at the photo's own size all the same, so only the
translated object loses detail), with a line saying so; only an image that
fits at no working size is refused. It also caps batches of large images.

The prediction: one probe translation of a small image with forward hooks
records the largest input + output of any single layer (the convolutions'
working set), per pixel; the peak is :data:`LAYER_FACTOR` times that plus
:data:`WORK_BYTES` per pixel for the tensors around the model, both at the
working size (``--max-side``), plus :data:`FULL_BYTES` per pixel of the
input size for the decoded image and the 8-bit results, on top of the
process's memory before the batch. The constants were fitted to peak RSS
measured with ``tools/benchmark_translate.py memory`` and round up:
oneDNN's convolutions keep a reordered copy of their input and output,
hence the factor of about 2. torch has no CPU memory
accounting to ask instead (``torch.cuda.max_memory_allocated`` is CUDA
only; the profiler's memory view needs a full profiled run).
"""
import math
import os.path as osp
import resource
import sys
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn

GiB = 2**30
#: Share of the free memory a suggested --max-side may use (the rest
#: absorbs another process's slightly different base memory).
SUGGEST_SLACK = 0.95
#: Peak / (largest single-layer input + output): the paper config measured
#: 1.65 at 1 and 8 MP (tools/benchmark_translate.py memory), rounded up.
LAYER_FACTOR = 1.9
#: Tensors at the working size besides the networks' (bytes per pixel).
WORK_BYTES = 64
#: At the input size (bytes per pixel): the decoded input, the next image
#: read ahead, the 8-bit outputs, and the composite made there (the
#: normalised input, the scaled-up generator output and mask, all float32:
#: uagit_mm.apis.inference.compose_full_size).
FULL_BYTES = 64
_PROBE = (64, 96)


def maxrss_bytes(usage: Optional[int] = None,
                 platform: Optional[str] = None) -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes: the kernel gives KiB
    on Linux, bytes on macOS."""
    if usage is None:
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    platform = sys.platform if platform is None else platform
    return int(usage) if platform == 'darwin' else int(usage) * 1024


def current_rss() -> int:
    """This process's resident memory now, in bytes (its peak so far where
    /proc is missing)."""
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return maxrss_bytes()


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup_available(proc_root: str = '/proc',
                     cgroup_root: str = '/sys/fs/cgroup') -> Optional[int]:
    """What this process's memory cgroup still allows, in bytes: the
    smallest ``memory.max - memory.current`` of its cgroup and the cgroups
    above it (cgroup v2), or ``memory.limit_in_bytes - memory.usage_in_bytes``
    (v1); None without a limit. Under Docker, Kubernetes or a CI runner
    this, not ``MemAvailable`` (the whole machine's), is what the kernel's
    out-of-memory killer enforces."""
    lines = (_read(osp.join(proc_root, 'self', 'cgroup')) or '').splitlines()
    best = None
    for line in lines:
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.lstrip('/')
        if controllers == '':  # v2: walk up from the process's cgroup
            folder = osp.join(cgroup_root, path)
            while True:
                limit = _read(osp.join(folder, 'memory.max'))
                used = _read(osp.join(folder, 'memory.current'))
                if limit and used and limit != 'max':
                    try:
                        left = max(0, int(limit) - int(used))
                        best = left if best is None else min(best, left)
                    except ValueError:
                        pass
                if osp.normpath(folder) == osp.normpath(cgroup_root):
                    break
                folder = osp.dirname(folder)
        elif 'memory' in controllers.split(','):  # v1
            for folder in (osp.join(cgroup_root, 'memory', path),
                           osp.join(cgroup_root, 'memory')):
                limit = _read(osp.join(folder, 'memory.limit_in_bytes'))
                used = _read(osp.join(folder, 'memory.usage_in_bytes'))
                try:
                    limit_i, used_i = int(limit), int(used)
                except (TypeError, ValueError):
                    continue
                if limit_i < 2**60:  # "no limit" is a huge number in v1
                    left = max(0, limit_i - used_i)
                    best = left if best is None else min(best, left)
                break
    return best


def available_memory(proc_root: str = '/proc',
                     cgroup_root: str = '/sys/fs/cgroup') -> Optional[int]:
    """Memory this process can still get, in bytes: the system's
    ``MemAvailable``, or less where a memory cgroup (a container's limit)
    allows less (:func:`cgroup_available`); None where neither says."""
    system = None
    meminfo = _read(osp.join(proc_root, 'meminfo')) or ''
    for line in meminfo.splitlines():
        if line.startswith('MemAvailable:'):
            try:
                system = int(line.split()[1]) * 1024
            except (ValueError, IndexError):
                pass
            break
    group = cgroup_available(proc_root, cgroup_root)
    if system is None or group is None:
        return group if system is None else system
    return min(system, group)


def layer_bytes_per_pixel(model, target: str) -> Optional[float]:
    """The largest input + output of one layer, in bytes per input pixel,
    over a probe translation into ``target``; None for a model that is not
    a ``torch.nn.Module`` (e.g. an exported file) or not on the CPU (on a
    GPU the tool reports a batch that runs out of memory and goes on)."""
    if not isinstance(model, nn.Module):
        return None
    dev = next(model.parameters()).device
    if dev.type != 'cpu':
        return None
    largest = [0]

    def hook(module, inputs, output):
        tensors = [t for t in inputs if torch.is_tensor(t)]
        if torch.is_tensor(output):
            tensors.append(output)
        largest[0] = max(largest[0],
                         sum(t.numel() * t.element_size() for t in tensors))

    leaves = [m for m in model.modules() if not any(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model.translate(torch.zeros(1, 3, *_PROBE, device=dev), target)
    finally:
        for h in handles:
            h.remove()
    return largest[0] / (_PROBE[0] * _PROBE[1])


def fit_side(pixels: int, height: int, width: int) -> int:
    """The longest side that keeps an image of aspect ``height:width``
    within ``pixels``."""
    scale = math.sqrt(max(pixels, 1) / (height * width))
    return max(1, int(max(height, width) * min(scale, 1.0)))


class MemoryPlanner:
    """Predicted peak memory of translating images, against a budget.

    Args:
        model: The model (a ``torch.nn.Module``; for anything else the
            planner predicts nothing and allows everything).
        target (str): The target domain.
        budget (int, optional): Bytes the process may use in all; None: the
            memory in use now plus what the system has available.
        max_side (int, optional): The tool's ``--max-side``.
    """

    def __init__(self, model, target: str, budget: Optional[int] = None,
                 max_side: Optional[int] = None) -> None:
        layer = layer_bytes_per_pixel(model, target)
        self.bytes_per_pixel = None if layer is None else \
            LAYER_FACTOR * layer + WORK_BYTES
        self.base = current_rss()
        self.default_budget = budget is None
        if budget is None:
            avail = available_memory()
            budget = None if avail is None else self.base + avail
        self.budget = budget
        self.max_side = max_side

    def work_pixels(self, height: int, width: int,
                    max_side: Optional[int] = None) -> int:
        """Pixels at the working size (``max_side``, by default the
        tool's ``--max-side``, applied)."""
        side = max_side or self.max_side
        if side and max(height, width) > side:
            scale = side / max(height, width)
            return max(1, round(height * scale)) * max(1, round(width *
                                                                scale))
        return height * width

    def reserve(self, nbytes: int) -> None:
        """Count ``nbytes`` more as in use (e.g. images read ahead)."""
        self.base += int(nbytes)

    def _each(self, height: int, width: int,
              max_side: Optional[int] = None) -> float:
        """Predicted bytes per image of this size, beyond ``base``."""
        return (self.bytes_per_pixel *
                self.work_pixels(height, width, max_side) +
                FULL_BYTES * height * width)

    def need(self, height: int, width: int, batch: int = 1,
             max_side: Optional[int] = None) -> int:
        """Predicted peak bytes of the process for a batch of this size."""
        if self.bytes_per_pixel is None:
            return self.base
        return int(self.base + batch * self._each(height, width, max_side))

    def batch_limit(self, height: int, width: int, wanted: int,
                    max_side: Optional[int] = None) -> int:
        """At most ``wanted`` images of this size (at working side
        ``max_side``, by default the tool's) per batch, fewer where a
        batch of ``wanted`` would not fit (at least 1)."""
        if self.budget is None or self.bytes_per_pixel is None:
            return wanted
        each = self._each(height, width, max_side)
        return max(1, min(wanted, int((self.budget - self.base) // each)))

    def _over(self, height: int, width: int) -> str:
        """What a refusal or a smaller working size starts with."""
        need = self.need(height, width)
        how = 'at full resolution' if not self.max_side or \
            max(height, width) <= self.max_side else \
            f'at --max-side {self.max_side}'
        allowed = 'the memory available now (--max-memory to set it)' \
            if self.default_budget else 'the limit of --max-memory'
        return (f'{width}x{height} needs about {need / GiB:.1f} GiB to '
                f'translate {how}, more than the {self.budget / GiB:.1f} '
                f'GiB of {allowed}')

    def _fitting_side(self, height: int, width: int) -> Optional[int]:
        """The longest working side that fits, or None when not even a
        64x64 working size does. It uses SUGGEST_SLACK of the free room: a
        run that uses it starts from another base memory (a few MB more or
        less), and a side that fits exactly here could not fit there."""
        room = SUGGEST_SLACK * (self.budget - self.base - FULL_BYTES *
                                height * width) / self.bytes_per_pixel
        return fit_side(int(room), height, width) if room >= 64 * 64 \
            else None

    def plan(self, height: int, width: int
             ) -> Tuple[Optional[int], Optional[str]]:
        """The working size for one image of this size: ``(None, None)``
        when it fits at the tool's; else ``(side, note)``, the largest
        ``--max-side`` that fits and a line saying so.

        Raises:
            MemoryError: Not even a small working size fits (the message
                says what it needs).
        """
        if self.budget is None or self.need(height, width) <= self.budget:
            return None, None
        side = self._fitting_side(height, width)
        if side is None:
            raise MemoryError(self._over(height, width) +
                              '; even a small --max-side would not fit')
        return side, (
            f'{self._over(height, width)}; translated at working size '
            f'{side} (--max-side {side}, about '
            f'{self.need(height, width, max_side=side) / GiB:.1f} GiB), '
            'the untranslated pixels at full resolution')

    def refusal(self, height: int, width: int) -> Optional[str]:
        """Why one image of this size cannot be translated within the
        budget at the tool's working size, with the ``--max-side`` that
        would fit; None if it fits."""
        if self.budget is None or self.need(height, width) <= self.budget:
            return None
        side = self._fitting_side(height, width)
        if side is None:
            return self._over(height, width) + \
                '; even a small --max-side would not fit'
        return (f'{self._over(height, width)}; translate it with --max-side '
                f'{side} (about '
                f'{self.need(height, width, max_side=side) / GiB:.1f} GiB)')

    def checker(self, path: str,
                chosen: Optional[list] = None) -> Callable[[int, int], None]:
        """A ``before_decode`` callback for :func:`read_rgb`.

        Without ``chosen`` it refuses ``path`` when it would not fit at the
        tool's working size. With a list ``chosen`` it appends
        :meth:`plan`'s ``(side, note)`` and refuses only an image that fits
        at no working size.
        """
        from .image_io import ImageReadError

        def check(width: int, height: int) -> None:
            if chosen is not None:
                try:
                    chosen.append(self.plan(height, width))
                except MemoryError as err:
                    raise ImageReadError(f'{path}: {err}') from None
                return
            reason = self.refusal(height, width)
            if reason:
                raise ImageReadError(f'{path}: {reason}')
        return check
