"""Translating many image files, with reading and writing in threads.

The forward pass runs in the calling thread while a small pool decodes
(and applies EXIF orientation to) the next images and another encodes and
writes the finished ones, so a folder translates about as fast as the bare
forward pass. Pillow's decoders and zlib release the GIL, so the threads
do run beside torch. Images of equal size are batched; a
:class:`~uagit_mm.apis.memory.MemoryPlanner` caps batches of large images
and gives an image that would not fit at the working size the largest
working size that does (noted in :attr:`Outcome.notes`).

mmengine's dataloader would overlap reading too, but through worker
processes and a dataset/pipeline for each run; a thread pool of a few
lines serves the tool's one pass over a file list, and also overlaps the
writing, which a dataloader does not.
"""
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..fileio import save_png
from .image_io import DEFAULT_COLOR_PROFILES, ImageReadError, read_rgb
from .inference import translate_arrays
from .mask_control import MaskOptions, read_mask

#: Pixels of the images read ahead, and of the results waiting to be
#: written, each at most (beyond one image): 12 MP.
AHEAD_PIXELS = 12_000_000
#: Bytes per pixel those hold: the decoded image (3) and mask (4) read
#: ahead; image, translation, mask and side-by-side copy waiting (3+3+1+9).
AHEAD_BYTES = 7 + 16


def _pixels(path: str) -> int:
    """Pixels of an image from its header (0 when unreadable: the reader
    reports it)."""
    try:
        with Image.open(path) as img:
            return img.width * img.height
    except Exception:  # noqa: BLE001  (any failure is the reader's to say)
        return 0


@dataclass
class Job:
    """One input file and where its outputs go."""
    path: str
    outs: Dict[str, str]  # 'image', 'mask' and optionally 'side'
    mask_path: Optional[str] = None


@dataclass
class Outcome:
    """What :func:`translate_files` did."""
    done: int = 0
    failed: List[str] = field(default_factory=list)
    #: one line per image translated at a smaller working size than asked,
    #: to fit the memory
    notes: List[str] = field(default_factory=list)


def _write(job: Job, img: np.ndarray, fake: np.ndarray,
           mask: np.ndarray) -> None:
    save_png(job.outs['image'], fake)
    save_png(job.outs['mask'], mask)
    if 'side' in job.outs:
        gray = np.repeat(mask[..., None], 3, axis=2)
        save_png(job.outs['side'], np.concatenate([img, gray, fake], 1))


def translate_files(model, jobs: List[Job], target: str, *,
                    batch_size: int = 4,
                    max_side: Optional[int] = None,
                    max_pixels: Optional[int] = None,
                    mask_options: Optional[MaskOptions] = None,
                    dtype=None,
                    planner=None,
                    workers: int = 2,
                    color_profiles: str = DEFAULT_COLOR_PROFILES,
                    on_progress: Optional[Callable[[int], None]] = None,
                    on_error: Optional[Callable[[BaseException],
                                                None]] = None
                    ) -> Outcome:
    """Translate ``jobs`` into ``target`` and write their outputs.

    Args:
        model: The model (or exported translator).
        jobs (list[Job]): Inputs and outputs, in order.
        target (str): Target domain.
        batch_size (int): Images of equal size per forward pass.
        max_side, max_pixels, mask_options: As in the tool.
        dtype (str | torch.dtype, optional): 'bf16': the networks under
            bfloat16 autocast (``--dtype``).
        planner (MemoryPlanner, optional): Before decoding, gives an
            image that would not fit at ``max_side`` the largest working
            size that does (a line in ``Outcome.notes``) and refuses one
            that fits at none; caps batches.
        workers (int): Reader threads and writer threads (each).
        color_profiles (str): 'convert' or 'ignore' embedded colour
            profiles (:func:`~uagit_mm.apis.image_io.read_rgb`); the tool
            passes the model config's choice.
        on_progress (callable, optional): Called with the number of inputs
            finished (translated or failed).
        on_error (callable, optional): Called with an error of a batch
            (e.g. out of memory) after its files are counted as failed.

    Returns:
        Outcome: Files written and one message per file that failed.
    """
    outcome = Outcome()
    progress = on_progress or (lambda n: None)
    lookahead = max(2 * batch_size, 2 * workers)
    if planner is not None:
        planner.reserve(AHEAD_PIXELS * AHEAD_BYTES)

    def load(job: Job
             ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[int]]:
        """The image, its mask and its working side (None: max_side)."""
        chosen: list = []
        check = planner.checker(job.path, chosen) if planner is not None \
            else None
        img = read_rgb(job.path, max_pixels=max_pixels, before_decode=check,
                       color_profiles=color_profiles)
        mask = None if job.mask_path is None else \
            read_mask(job.mask_path, img.shape[:2])
        side, note = chosen[0] if chosen else (None, None)
        if note:
            outcome.notes.append(f'{job.path}: {note}')
        return img, mask, side

    writes: deque = deque()  # (job, pixels, future)

    def finish_writes(keep: int) -> None:
        """Wait until at most ``keep`` writes of at most AHEAD_PIXELS in
        all are outstanding."""
        while writes and (len(writes) > keep or sum(
                w[1] for w in writes) > AHEAD_PIXELS):
            job, _, future = writes.popleft()
            try:
                future.result()
                outcome.done += 1
            except OSError as err:  # e.g. WriteError: full disk
                outcome.failed.append(f'{job.path}: {err}')

    def run(items: list, writer: ThreadPoolExecutor,
            side: Optional[int]) -> None:
        masks = [m for _, _, m in items]
        try:
            results = translate_arrays(
                model, [img for _, img, _ in items], target,
                max_side=side or max_side, mask_options=mask_options,
                masks=None if masks[0] is None else masks, dtype=dtype)
        except (RuntimeError, ValueError, MemoryError) as err:
            # e.g. out of memory: report these, go on with the rest
            reason = str(err).splitlines()[0] if str(err) else \
                type(err).__name__
            outcome.failed.extend(f'{job.path}: {reason}'
                                  for job, _, _ in items)
            progress(len(items))
            if on_error is not None:
                on_error(err)
            return
        for (job, img, _), (fake, mask) in zip(items, results):
            writes.append((job, mask.size,
                           writer.submit(_write, job, img, fake, mask)))
        progress(len(items))
        finish_writes(keep=lookahead)

    with ThreadPoolExecutor(workers, 'uagit-read') as reader, \
            ThreadPoolExecutor(workers, 'uagit-write') as writer:
        queue: 'deque[Tuple[Job, int, Future]]' = deque()
        todo = iter(jobs)
        nxt = [next(todo, None)]

        def fill() -> None:
            """Read ahead up to ``lookahead`` images of at most
            AHEAD_PIXELS in all (at least one)."""
            while nxt[0] is not None and len(queue) < lookahead:
                job, pixels = nxt[0], _pixels(nxt[0].path)
                if queue and sum(q[1] for q in queue) + pixels > \
                        AHEAD_PIXELS:
                    return
                queue.append((job, pixels, reader.submit(load, job)))
                nxt[0] = next(todo, None)

        # (size, working side) -> images waiting for a batch
        pending: Dict[tuple, list] = defaultdict(list)
        fill()
        while queue:
            job, _, future = queue.popleft()
            fill()
            try:
                img, mask, side = future.result()
            except ImageReadError as err:
                outcome.failed.append(str(err))
                progress(1)
                continue
            key = img.shape[:2], side
            group = pending[key]
            group.append((job, img, mask))
            limit = batch_size if planner is None else \
                planner.batch_limit(*key[0], batch_size, max_side=side)
            if len(group) >= limit:
                run(pending.pop(key), writer, side)
            elif sum(map(len, pending.values())) >= lookahead:
                # many sizes: no full batch in sight, translate what we have
                for key in list(pending):
                    run(pending.pop(key), writer, key[1])
        for key in list(pending):
            run(pending.pop(key), writer, key[1])
        finish_writes(keep=0)
    return outcome
