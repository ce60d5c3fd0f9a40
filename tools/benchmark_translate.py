"""Memory and throughput of tools/translate.py on photographs.

    python tools/benchmark_translate.py memory [--megapixels 1 8 24]
        [--max-memory 8] [--config CONFIG]
    python tools/benchmark_translate.py throughput [--images 64]
        [--size 256] [--batch 4] [--rounds 3] [--config CONFIG]
    python tools/benchmark_translate.py folder [--images 6]
        [--megapixels 12] [--config CONFIG]

memory: for each size, a JPEG made from scikit-image's coffee photograph
(3:2) is translated by the tool at full resolution (--max-side 0) in a
subprocess; the table gives the tool's own prediction and the peak RSS of
that process (getrusage of the child). Where the prediction exceeds
--max-memory, the tool translates at the largest working size that fits
(its note names it), and that is the run measured.

folder: a folder of --images phone-sized JPEGs (4:3, --megapixels each,
half of them portrait by EXIF orientation, from scikit-image's
photographs) translated by the tool with its defaults (no option but the
output folder); the peak RSS of that process.

throughput: a folder of --images JPEGs of --size pixels (crops of
scikit-image's photographs) translated by the tool (in this process, the
model built by the tool), against the bare forward pass ``model.translate``
on the same images already decoded and normalised, and against
``translate_arrays`` on decoded arrays; rounds alternate the three and the
medians are printed. Both modes use the config's networks with random
weights (speed and memory do not depend on the weights).
"""
import argparse
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'uagit_horse2zebra.py')
PEAK = ('import resource, subprocess, sys\n'
        'rc = subprocess.call(sys.argv[1:])\n'
        'print("peak_kib", resource.getrusage('
        'resource.RUSAGE_CHILDREN).ru_maxrss)\n'
        'sys.exit(rc)\n')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('mode', choices=['memory', 'throughput', 'folder'])
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--megapixels', type=float, nargs='+', default=None,
                   help='image sizes (memory: 1 8 24; folder: 12)')
    p.add_argument('--max-memory', type=float, default=8.0,
                   help='GiB (memory mode)')
    p.add_argument('--images', type=int, default=None,
                   help='images (throughput: 64, folder: 6)')
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--rounds', type=int, default=3)
    return p.parse_args(argv)


def random_checkpoint(config: str, path: str):
    import torch

    from uagit_mm.apis import init_model
    model = init_model(config, None)
    torch.save({'state_dict': model.state_dict()}, path)
    return model


def photo(height: int, width: int, name: str = 'coffee',
          seed: int = 0) -> np.ndarray:
    """A crop of a scikit-image photograph resized to (height, width)."""
    import skimage.data
    from PIL import Image
    img = getattr(skimage.data, name)()
    rng = np.random.RandomState(seed)
    h, w = img.shape[:2]
    ch, cw = int(h * 0.7), int(w * 0.7)
    y, x = rng.randint(0, h - ch + 1), rng.randint(0, w - cw + 1)
    crop = Image.fromarray(img[y:y + ch, x:x + cw])
    return np.asarray(crop.resize((width, height), Image.BICUBIC))


def run_tool(args, measure: bool = True):
    """(returncode, stdout + stderr, peak RSS in GiB or None)."""
    cmd = [sys.executable, 'tools/translate.py', *args]
    if measure:
        cmd = [sys.executable, '-c', PEAK, *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    found = re.search(r'peak_kib (\d+)', proc.stdout)
    peak = int(found.group(1)) / 2**20 if found else None
    return proc.returncode, proc.stdout, peak


def memory(args, tmp: str) -> None:
    from PIL import Image
    ckpt = osp.join(tmp, 'w.pth')
    random_checkpoint(args.config, ckpt)
    print(f'config {osp.relpath(args.config, ROOT)}, CPU '
          f'({os.cpu_count()} cores), --max-memory {args.max_memory} GiB')
    print('| image | megapixels | predicted at full size (GiB) | '
          '--max-side | predicted (GiB) | peak RSS (GiB) | seconds |')
    print('|---|---|---|---|---|---|---|')
    for mp in args.megapixels or [1, 8, 24]:
        w = int(round((mp * 1e6 * 1.5)**0.5))
        h = int(round(w / 1.5))
        src = osp.join(tmp, f'in{mp:g}')
        os.makedirs(src)
        Image.fromarray(photo(h, w)).save(osp.join(src, 'photo.jpg'),
                                          quality=90)
        base = [ckpt, src, '--out-dir', osp.join(tmp, f'out{mp:g}'),
                '--max-side', '0']
        # the prediction: a limit nothing fits under makes the tool say it
        _, log, _ = run_tool([args.config, *base, '--max-memory', '0.01'],
                             measure=False)
        full = need = float(re.search(r'needs about ([\d.]+) GiB',
                                      log).group(1))
        start = time.perf_counter()
        rc, log, peak = run_tool([args.config, *base, '--max-memory',
                                  str(args.max_memory)])
        secs = time.perf_counter() - start
        if rc != 0:
            print(log)
            print(f'| {w}x{h} | {w * h / 1e6:.1f} | {full:.2f} | - | '
                  '- | refused | - |')
            continue
        # a smaller working size, where the full one does not fit
        found = re.search(r'--max-side (\d+), about ([\d.]+) GiB', log)
        side = None
        if found:
            side, need = int(found.group(1)), float(found.group(2))
        print(f'| {w}x{h} | {w * h / 1e6:.1f} | {full:.2f} | {side or "-"} '
              f'| {need:.2f} | {peak:.2f} | {secs:.0f} |', flush=True)


def folder(args, tmp: str) -> None:
    from PIL import Image
    ckpt = osp.join(tmp, 'w.pth')
    random_checkpoint(args.config, ckpt)
    mp = (args.megapixels or [12.0])[0]
    w = int(round((mp * 1e6 * 4 / 3)**0.5))
    h = int(round(w * 3 / 4))
    src = osp.join(tmp, 'phone')
    os.makedirs(src)
    names = ('astronaut', 'coffee', 'chelsea')
    count = args.images or 6
    for i in range(count):
        img = Image.fromarray(photo(h, w, names[i % 3], i))
        exif = Image.Exif()
        if i % 2:  # a portrait: stored sideways, EXIF orientation 6
            exif[0x0112] = 6
            img = img.transpose(Image.Transpose.ROTATE_90)
        img.save(osp.join(src, f'IMG_{i:04d}.jpg'), quality=90,
                 exif=exif.tobytes())
    start = time.perf_counter()
    rc, log, peak = run_tool([args.config, ckpt, src, '--out-dir',
                              osp.join(tmp, 'out')])
    secs = time.perf_counter() - start
    if rc != 0:
        print(log)
    with open('/proc/meminfo') as f:  # Linux
        total = int(f.readline().split()[1]) / 2**20
    print(f'config {osp.relpath(args.config, ROOT)}, CPU '
          f'({os.cpu_count()} cores, {total:.0f} GiB); {count} JPEGs of '
          f'{w}x{h} ({w * h / 1e6:.1f} MP), tools/translate.py with its '
          'defaults')
    print(f'exit code {rc}, peak RSS {peak:.2f} GiB, {secs:.0f} s')


def throughput(args, tmp: str) -> None:
    import torch
    from PIL import Image

    from uagit_mm.apis import read_rgb, translate_arrays, translate_cli
    ckpt = osp.join(tmp, 'w.pth')
    model = random_checkpoint(args.config, ckpt).eval()
    target = model._default_domain
    src = osp.join(tmp, 'in')
    os.makedirs(src)
    names = ('astronaut', 'coffee', 'chelsea')
    args.images = args.images or 64
    for i in range(args.images):
        Image.fromarray(photo(args.size, args.size, names[i % 3], i)).save(
            osp.join(src, f'{i:04d}.jpg'), quality=90)
    imgs = [read_rgb(osp.join(src, f)) for f in sorted(os.listdir(src))]
    pre = model.data_preprocessor
    batches = []
    for i in range(0, len(imgs), args.batch):
        x = torch.from_numpy(np.stack(imgs[i:i + args.batch])[..., ::-1]
                             .copy()).permute(0, 3, 1, 2).float()
        batches.append((x - pre.mean) / pre.std)

    def bare() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            for x in batches:
                model.translate(x, target)
        return len(imgs) / (time.perf_counter() - start)

    def arrays() -> float:
        start = time.perf_counter()
        for i in range(0, len(imgs), args.batch):
            translate_arrays(model, imgs[i:i + args.batch], target)
        return len(imgs) / (time.perf_counter() - start)

    def tool(k: int) -> tuple:
        out = osp.join(tmp, f'out{k}')
        start = time.perf_counter()
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), \
                contextlib.redirect_stderr(io.StringIO()):
            translate_cli.main([args.config, ckpt, src, '--out-dir', out,
                                '--batch-size', str(args.batch)])
        total = len(imgs) / (time.perf_counter() - start)
        loop = float(re.search(r'\(([\d.]+) images/s\)',
                               buf.getvalue()).group(1))
        return loop, total

    bare()  # warm-up
    rows = {'bare': [], 'arrays': [], 'loop': [], 'total': []}
    for k in range(args.rounds):
        rows['bare'].append(bare())
        loop, total = tool(k)
        rows['loop'].append(loop)
        rows['total'].append(total)
        rows['arrays'].append(arrays())
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f'config {osp.relpath(args.config, ROOT)}, CPU ({os.cpu_count()} '
          f'cores, {torch.get_num_threads()} torch threads); '
          f'{args.images} JPEGs of {args.size}x{args.size}, batch '
          f'{args.batch}, median of {args.rounds} rounds')
    for key, label in (('bare', 'bare forward (model.translate)'),
                       ('arrays', 'translate_arrays on decoded arrays'),
                       ('loop', 'tools/translate.py, read to written'),
                       ('total', 'tools/translate.py, with model loading')):
        print(f'{label}: {med[key]:.2f} images/s (rounds: '
              f'{", ".join(f"{v:.2f}" for v in rows[key])})')
    print(f'ratio tool / bare forward: {med["loop"] / med["bare"]:.2f} '
          f'(with model loading {med["total"] / med["bare"]:.2f})')


def main(argv=None) -> None:
    args = parse_args(argv)
    from uagit_mm.quiet import quiet_tool
    quiet_tool()
    import uagit_mm  # noqa: F401
    with tempfile.TemporaryDirectory() as tmp:
        dict(memory=memory, throughput=throughput,
             folder=folder)[args.mode](args, tmp)


if __name__ == '__main__':
    main()
