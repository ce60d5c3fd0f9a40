"""Time exported files (onnxruntime, TorchScript) against PyTorch eager on
the CPU: images per second of one direction's translation, batch 1.

    python tools/benchmark_export.py [CONFIG] [--checkpoint CKPT]
        [--sizes 256 1024] [--repeats 5] [--warmup 1]
        [--formats onnx torchscript] [--ort-threads 0 2]
        [--ort-opt all basic] [--torch-threads N]

CONFIG defaults to the paper's configs/uagit_horse2zebra.py; without
--checkpoint the weights are random (the time does not depend on them).
The model is exported once (through the same code as tools/export.py, with
its parity check) to a temporary folder, then every variant translates the
same normalised image of each size through the interface the tools use
(``model.translate`` for eager, ``ExportedTranslator.translate`` for the
files, which adds the RGB/BGR conversions). Variants are timed round by
round, interleaved, so that a busy machine slows them alike; the table
gives the median of --repeats rounds and the ratio to eager.

--ort-threads: onnxruntime's intra-op threads (0 = its default, one per
physical core); --ort-opt: graph optimisation level ('all' is
onnxruntime's default). PyTorch uses --torch-threads (default: its own).
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import DictAction

from uagit_mm.apis.exported import OPT_LEVELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', nargs='?',
                   default=osp.join(ROOT, 'configs', 'uagit_horse2zebra.py'))
    p.add_argument('--checkpoint', default=None)
    p.add_argument('--sizes', nargs='+', type=int, default=[256, 1024])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--formats', nargs='+', default=['onnx'],
                   choices=['onnx', 'torchscript'])
    p.add_argument('--ort-threads', nargs='+', type=int, default=[0, 2])
    p.add_argument('--ort-opt', nargs='+', default=['all'],
                   choices=OPT_LEVELS)
    p.add_argument('--torch-threads', type=int, default=None)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import warnings
    warnings.filterwarnings('ignore')

    from uagit_mm.apis import init_model
    from uagit_mm.apis.export import export_model
    from uagit_mm.apis.exported import ExportedTranslator
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    model = init_model(args.config, args.checkpoint,
                       cfg_options=args.cfg_options)
    target = model._default_domain
    tmp = tempfile.TemporaryDirectory()
    t0 = time.perf_counter()
    files = export_model(model, tmp.name, args.formats, [target],
                         log=lambda line: print(line.replace(tmp.name,
                                                             '<tmp>')))
    print(f'exported in {time.perf_counter() - t0:.0f} s; torch threads '
          f'{torch.get_num_threads()}')
    variants = {'eager': model}
    for path in files:
        if path.endswith('.onnx'):
            for level in args.ort_opt:
                for threads in args.ort_threads:
                    name = f'onnxruntime opt={level} threads=' + (
                        str(threads) if threads else 'default')
                    variants[name] = ExportedTranslator(
                        path, threads=threads, optimization=level)
        else:
            variants['torchscript'] = ExportedTranslator(path)

    rows = []
    for size in args.sizes:
        x = torch.rand(1, 3, size, size) * 2 - 1
        times = {name: [] for name in variants}
        with torch.inference_mode():
            for r in range(args.warmup + args.repeats):
                for name, translator in variants.items():
                    t = time.perf_counter()
                    translator.translate(x, target)
                    if r >= args.warmup:
                        times[name].append(time.perf_counter() - t)
        base = statistics.median(times['eager'])
        for name, ts in times.items():
            med = statistics.median(ts)
            rows.append((size, name, 1 / med, base / med))
            print(f'{size}x{size} {name:40s} {1 / med:8.3f} images/s '
                  f'({base / med:.2f}x eager; {len(ts)} rounds, '
                  f'min {min(ts):.3f} s, median {med:.3f} s)', flush=True)
    tmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
