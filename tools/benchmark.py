"""Time training iterations and inference of our model against mmagic's
CycleGAN, in float32 and mixed precision, at equal input size and batch.

    python tools/benchmark.py [--setting paper equal] [--models uagit
        cyclegan] [--variants fp32 amp amp-cl] [--size 256] [--batch 1]
        [--repeats 5] [--iters 1] [--warmup 1] [--infer-iters 2]
        [--device cpu|cuda] [--no-memory] [--translate-images N]

Settings: 'paper' = each method's own paper settings (ours: ngf 32, no
identity loss; mmagic's horse2zebra CycleGAN: ngf 64, identity loss 0.5);
'equal' = equal generators (both ngf 64, no identity loss).

Variants: 'fp32'; 'amp' = what ``tools/train.py --amp`` does (on the CPU
bfloat16 autocast, :class:`AutocastOptimWrapper`; on a GPU mmengine's
``AmpOptimWrapper``, bfloat16 where supported, else float16 with loss
scaling), inference under autocast in the same dtype; a '-cl' suffix puts
model and inputs in channels-last memory format (what ``--amp`` does on the
CPU, through ``ChannelsLastHook``).

All variants of a model are built at once (same seed) and timed round by
round, interleaved (--repeats rounds of --iters training iterations and
--infer-iters inference batches each), so that a busy machine slows them
alike; the table gives medians and the ratio to fp32. Peak memory is
measured for each row again in a fresh process (on the CPU the growth of
the peak resident set size over the process after imports: weights,
optimizer state and activations; on a GPU torch.cuda.max_memory_allocated).
With --translate-images N, also compares tools/translate.py on a folder of N
images with the bare forward.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from copy import deepcopy

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OURS = osp.join(ROOT, 'configs', 'uagit_horse2zebra.py')
CYCLEGAN = ('cyclegan', 'cyclegan_lsgan-resnet-in_1xb1-270kiters_'
            'horse2zebra.py')  # in mmagic's installed configs
VARIANTS = ('fp32', 'fp32-cl', 'amp', 'amp-cl')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--setting', nargs='*', default=['paper', 'equal'],
                   choices=['paper', 'equal'])
    p.add_argument('--models', nargs='+', default=['uagit', 'cyclegan'],
                   choices=['uagit', 'cyclegan'])
    p.add_argument('--variants', nargs='+', default=None, choices=VARIANTS,
                   help='default: fp32 amp amp-cl on the CPU, fp32 amp on a '
                   'GPU')
    p.add_argument('--config', default=OURS,
                   help='config of our model (default: the paper config)')
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--repeats', type=int, default=5,
                   help='interleaved timing rounds (medians over them)')
    p.add_argument('--iters', type=int, default=1,
                   help='training iterations per variant and round')
    p.add_argument('--warmup', type=int, default=1,
                   help='untimed training iterations per variant first')
    p.add_argument('--infer-iters', type=int, default=2,
                   help='inference batches per variant and round')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--no-memory', action='store_true',
                   help='skip the peak-memory processes')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads (default: torch\'s choice)')
    p.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                   help="'cpu': this process's CPU time instead of wall "
                   'time (CPU only; with --threads 1 it measures the work '
                   'done, little disturbed by other jobs on a shared '
                   'machine)')
    p.add_argument('--translate-images', type=int, default=0)
    p.add_argument('--memory-row', nargs=3, metavar=('MODEL', 'SETTING',
                                                     'VARIANT'),
                   help=argparse.SUPPRESS)  # the child of the memory pass
    args = p.parse_args(argv)
    if args.clock == 'cpu' and args.device.startswith('cuda'):
        p.error('--clock cpu times the CPU only')
    if args.variants is None:
        args.variants = ['fp32', 'amp'] if args.device.startswith('cuda') \
            else ['fp32', 'amp', 'amp-cl']
    return args


def amp_dtype(device: str) -> torch.dtype:
    """The dtype ``--amp`` trains in on ``device``."""
    if device.startswith('cuda') and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def build(kind, setting, variant, args):
    """Model and optimizer wrappers as ``tools/train.py [--amp]`` makes
    them; the same seed for every variant."""
    from mmengine import Config

    from mmagic.engine.optimizers import MultiOptimWrapperConstructor
    from mmagic.registry import MODELS
    from uagit_mm.utils import enable_amp
    if kind == 'uagit':
        cfg = Config.fromfile(args.config)
        if setting == 'equal':
            cfg.model.generator.base_channels = 64
        domains = list(cfg.model.domains)
    else:
        import mmagic
        cfg = Config.fromfile(
            osp.join(osp.dirname(mmagic.__file__), '.mim', 'configs',
                     *CYCLEGAN))
        cfg.model.generator.init_cfg = dict(type='normal', gain=0.02)
        if setting == 'equal':
            cfg.model.loss_config = dict(cycle_loss_weight=10.0,
                                         id_loss_weight=0.0)
        domains = ['horse', 'zebra']
    for key, wrapper in cfg.optim_wrapper.items():
        if key != 'constructor':  # mmagic's CycleGAN configs name no type
            wrapper.setdefault('type', 'OptimWrapper')
    if variant.startswith('amp'):
        enable_amp(cfg, device=args.device)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(args.device)
    if variant.endswith('-cl'):
        model.to(memory_format=torch.channels_last)
    optim = {k: deepcopy(v) for k, v in cfg.optim_wrapper.items()
             if k != 'constructor'}
    wrappers = MultiOptimWrapperConstructor(optim)(model)
    n_params = sum(p.numel() for n, p in model.named_parameters()
                   if not n.startswith('discriminators'))
    return dict(kind=kind, variant=variant, model=model, wrappers=wrappers,
                domains=domains, n_params=n_params, iter=0)


def batch(domains, variant, args):
    from mmagic.structures import DataSample
    shape = (args.batch, 3, args.size, args.size)
    fmt = torch.channels_last if variant.endswith('-cl') else \
        torch.contiguous_format
    inputs = {
        f'img_{d}': torch.randint(0, 256, shape).float().contiguous(
            memory_format=fmt)
        for d in domains
    }
    return dict(inputs=inputs,
                data_samples=[DataSample() for _ in range(args.batch)])


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def clock(args) -> float:
    return time.process_time() if args.clock == 'cpu' else \
        time.perf_counter()


def train_seconds(entry, args, iters):
    """Seconds per training iteration, over ``iters`` iterations."""
    from mmengine import MessageHub
    hub = MessageHub.get_current_instance()
    data = batch(entry['domains'], entry['variant'], args)
    sync(args.device)
    start = clock(args)
    for _ in range(iters):
        hub.update_info('iter', entry['iter'])
        entry['model'].train_step(data, entry['wrappers'])
        entry['iter'] += 1
    sync(args.device)
    return (clock(args) - start) / iters


def inference_images_per_second(entry, args, iters):
    """Bare translation (no file I/O) under the variant's precision."""
    model, variant = entry['model'], entry['variant']
    x = torch.rand(args.batch, 3, args.size, args.size,
                   device=args.device) * 2 - 1
    if variant.endswith('-cl'):
        x = x.contiguous(memory_format=torch.channels_last)
    target = entry['domains'][1]
    cast = torch.autocast(args.device.split(':')[0],
                          dtype=amp_dtype(args.device)) \
        if variant.startswith('amp') else nullcontext()
    model.eval()
    sync(args.device)
    start = clock(args)
    with torch.no_grad(), cast:
        for _ in range(iters):
            if entry['kind'] == 'uagit':
                model.translate(x, target)
            else:
                model.translation(x, target_domain=target)
    sync(args.device)
    model.train()
    return args.batch * iters / (clock(args) - start)


def _proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def memory_row(args):
    """The child of the memory pass: build one variant, train, infer, print
    the peak (see the module docstring)."""
    kind, setting, variant = args.memory_row
    on_gpu = args.device.startswith('cuda')
    # the imports' own peak (mmagic pulls in diffusers and transformers)
    # would hide the model's: start the peak mark afresh where possible
    fresh_mark = not on_gpu and _reset_peak_rss()
    base_kib = _proc_status_kib('VmRSS') if fresh_mark else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    entry = build(kind, setting, variant, args)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    train_seconds(entry, args, max(args.warmup, 1) + 1)
    inference_images_per_second(entry, args, 1)
    if on_gpu:
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:  # ru_maxrss and /proc are in KiB on Linux
        peak_kib = _proc_status_kib('VmHWM') if fresh_mark else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = (peak_kib - base_kib) / 1024
    print('PEAK_MIB ' + json.dumps(peak))


def peak_memory(kind, setting, variant, args):
    """Run :func:`memory_row` in a fresh process; MiB or None."""
    cmd = [sys.executable, osp.abspath(__file__), '--memory-row', kind,
           setting, variant, '--size', str(args.size), '--batch',
           str(args.batch), '--device', args.device, '--warmup',
           str(args.warmup), '--config', args.config] + (
               ['--threads', str(args.threads)] if args.threads else [])
    proc = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    for line in proc.stdout.splitlines():
        if line.startswith('PEAK_MIB '):
            return json.loads(line.split(' ', 1)[1])
    print(f'memory pass for {kind}/{setting}/{variant} failed:\n'
          f'{proc.stdout[-2000:]}', file=sys.stderr)
    return None


def translate_folder_ratio(args):
    """tools/translate.py on a folder vs the bare translate_arrays."""
    from PIL import Image

    from uagit_mm.apis import init_model, translate_arrays
    from uagit_mm.apis import translate_cli as translate_tool
    model = init_model(OURS, None, device=args.device)
    rng = np.random.RandomState(0)
    imgs = [rng.randint(0, 256, (args.size, args.size, 3), dtype=np.uint8)
            for _ in range(args.translate_images)]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'w.pth')
        torch.save({'state_dict': model.state_dict()}, ckpt)
        src = osp.join(tmp, 'in')
        os.makedirs(src)
        for i, im in enumerate(imgs):
            Image.fromarray(im).save(osp.join(src, f'{i:04d}.jpg'))
        translate_arrays(model, imgs[:args.batch], 'zebra')  # warm-up
        start = time.perf_counter()
        for i in range(0, len(imgs), args.batch):
            translate_arrays(model, imgs[i:i + args.batch], 'zebra')
        bare = len(imgs) / (time.perf_counter() - start)
        start = time.perf_counter()
        translate_tool.main([
            OURS, ckpt, src, '--out-dir', osp.join(tmp, 'out'),
            '--batch-size', str(args.batch), '--device', args.device
        ])
        tool = len(imgs) / (time.perf_counter() - start)
    return bare, tool


def precision_name(variant, args):
    if not variant.startswith('amp'):
        return 'fp32'
    dtype = amp_dtype(args.device)
    return 'bf16' if dtype == torch.bfloat16 else 'fp16 (loss scaling)'


def time_setting(setting, args):
    """Interleaved timing of every model and variant of one setting."""
    entries = [build(kind, setting, variant, args)
               for kind in args.models for variant in args.variants]
    for entry in entries:  # warm-up: allocator, oneDNN kernels, autotune
        train_seconds(entry, args, args.warmup)
        inference_images_per_second(entry, args, 1)
    train = {id(e): [] for e in entries}
    infer = {id(e): [] for e in entries}
    for _ in range(args.repeats):
        for entry in entries:
            train[id(entry)].append(train_seconds(entry, args, args.iters))
        for entry in entries:
            infer[id(entry)].append(
                inference_images_per_second(entry, args, args.infer_iters))
    return [
        dict(kind=e['kind'], variant=e['variant'], n_params=e['n_params'],
             train=statistics.median(train[id(e)]),
             infer=statistics.median(infer[id(e)])) for e in entries
    ]


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.registry import init_default_scope

    import uagit_mm  # noqa: F401
    init_default_scope('mmagic')
    if args.memory_row:
        return memory_row(args)
    device_name = torch.cuda.get_device_name() if args.device.startswith(
        'cuda') else f'CPU ({os.cpu_count()} cores, {torch.get_num_threads()}'\
        ' threads)'
    print(f'device: {device_name}; size {args.size}, batch {args.batch}; '
          f'{args.clock} clock; '
          f'medians of {args.repeats} interleaved rounds of {args.iters} '
          f'training iteration(s) and {args.infer_iters} inference '
          f'batch(es) after {args.warmup} warm-up iteration(s)')
    mem_note = 'GPU max allocated' if args.device.startswith('cuda') else \
        'peak RSS growth'
    print('| setting | model | precision | channels_last | gen+att params '
          '(M) | train s/iter | × fp32 | inference img/s | × fp32 | '
          f'peak memory MiB ({mem_note}) |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for setting in args.setting:
        rows = time_setting(setting, args)
        for row in rows:
            ref = next((r for r in rows if r['kind'] == row['kind']
                        and r['variant'] == 'fp32'), None)
            rel_t = f'{row["train"] / ref["train"]:.2f}' if ref else ''
            rel_i = f'{row["infer"] / ref["infer"]:.2f}' if ref else ''
            peak = None if args.no_memory else peak_memory(
                row['kind'], setting, row['variant'], args)
            print(f'| {setting} | {row["kind"]} | '
                  f'{precision_name(row["variant"], args)} | '
                  f'{"yes" if row["variant"].endswith("-cl") else "no"} | '
                  f'{row["n_params"] / 1e6:.2f} | {row["train"]:.3f} | '
                  f'{rel_t} | {row["infer"]:.2f} | {rel_i} | '
                  f'{"" if peak is None else f"{peak:.0f}"} |', flush=True)
        for variant in args.variants:
            pair = {r['kind']: r['train'] for r in rows
                    if r['variant'] == variant}
            if len(pair) == 2:
                print(f'| {setting} | ratio uagit/cyclegan | '
                      f'{precision_name(variant, args)} | '
                      f'{"yes" if variant.endswith("-cl") else "no"} | | '
                      f'{pair["uagit"] / pair["cyclegan"]:.2f} | | | | |',
                      flush=True)
    if args.translate_images:
        bare, tool = translate_folder_ratio(args)
        print(f'tools/translate.py on {args.translate_images} images: '
              f'{tool:.2f} img/s; bare forward {bare:.2f} img/s; ratio '
              f'{tool / bare:.2f}')


if __name__ == '__main__':
    main()
