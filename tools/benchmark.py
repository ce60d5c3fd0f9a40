"""Time training iterations and inference of our model against mmagic's
CycleGAN, in one process, at equal input size and batch.

    python tools/benchmark.py [--setting paper equal] [--size 256]
        [--batch 1] [--iters 5] [--warmup 2] [--device cpu|cuda] [--amp]
        [--channels-last] [--translate-images 16]

Settings: 'paper' = each method's own paper settings (ours: ngf 32, no
identity loss; mmagic's horse2zebra CycleGAN: ngf 64, identity loss 0.5);
'equal' = equal generators (both ngf 64, no identity loss). Training time is
the median of --iters iterations after --warmup; inference is images/s of
the bare translation. With --translate-images N, also compares
tools/translate.py on a folder of N images with the bare forward.
"""
import argparse
import os
import os.path as osp
import resource
import statistics
import tempfile
import time
from copy import deepcopy

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OURS = osp.join(ROOT, 'configs', 'uagit_horse2zebra.py')
CYCLEGAN = ('cyclegan', 'cyclegan_lsgan-resnet-in_1xb1-270kiters_'
            'horse2zebra.py')  # in mmagic's installed configs


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--setting', nargs='*', default=['paper', 'equal'],
                   choices=['paper', 'equal'])
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--infer-iters', type=int, default=5)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--amp', action='store_true',
                   help='AmpOptimWrapper (bf16 where supported, else fp16)')
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--translate-images', type=int, default=0)
    return p.parse_args(argv)


def build(kind, setting, args):
    from mmengine import Config

    from mmagic.engine.optimizers import MultiOptimWrapperConstructor
    from mmagic.registry import MODELS
    if kind == 'uagit':
        cfg = Config.fromfile(OURS)
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
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(args.device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    optim = {k: deepcopy(v) for k, v in cfg.optim_wrapper.items()
             if k != 'constructor'}
    for wrapper in optim.values():
        wrapper.setdefault('type', 'OptimWrapper')
        if args.amp:
            wrapper.type = 'AmpOptimWrapper'
            wrapper.loss_scale = 'dynamic'
            if args.device.startswith('cuda') and \
                    torch.cuda.is_bf16_supported():
                wrapper.dtype = 'bfloat16'
    wrappers = MultiOptimWrapperConstructor(optim)(model)
    n_params = sum(p.numel() for n, p in model.named_parameters()
                   if not n.startswith('discriminators'))
    return model, wrappers, domains, n_params


def batch(domains, args):
    from mmagic.structures import DataSample
    shape = (args.batch, 3, args.size, args.size)
    inputs = {f'img_{d}': torch.randint(0, 256, shape).float()
              for d in domains}
    return dict(inputs=inputs,
                data_samples=[DataSample() for _ in range(args.batch)])


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def time_training(model, wrappers, domains, args):
    from mmengine import MessageHub
    hub = MessageHub.get_current_instance()
    data = batch(domains, args)
    times = []
    for it in range(args.warmup + args.iters):
        hub.update_info('iter', it)
        sync(args.device)
        start = time.perf_counter()
        model.train_step(data, wrappers)
        sync(args.device)
        if it >= args.warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def time_inference(model, kind, domains, args):
    model.eval()
    x = torch.rand(args.batch, 3, args.size, args.size,
                   device=args.device) * 2 - 1
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = domains[1]

    def run():
        if kind == 'uagit':
            return model.translate(x, target)
        return model.translation(x, target_domain=target)

    for _ in range(args.warmup):
        run()
    sync(args.device)
    start = time.perf_counter()
    for _ in range(args.infer_iters):
        run()
    sync(args.device)
    model.train()
    return args.batch * args.infer_iters / (time.perf_counter() - start)


def peak_memory(device):
    if device.startswith('cuda'):
        peak = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
        return f'{peak:.0f} MiB (GPU)'
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f'{rss:.0f} MiB (process max RSS so far)'


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


def main(argv=None):
    args = parse_args(argv)
    from mmengine.registry import init_default_scope

    import uagit_mm  # noqa: F401
    init_default_scope('mmagic')
    device_name = torch.cuda.get_device_name() if args.device.startswith(
        'cuda') else f'CPU ({os.cpu_count()} cores, {torch.get_num_threads()}'\
        ' threads)'
    print(f'device: {device_name}; size {args.size}, batch {args.batch}, '
          f'amp {args.amp}, channels_last {args.channels_last}')
    print('| setting | model | gen+att params (M) | train s/iter | '
          'inference img/s | peak memory |')
    print('|---|---|---|---|---|---|')
    for setting in args.setting:
        row = {}
        for kind in ('uagit', 'cyclegan'):
            model, wrappers, domains, n_params = build(kind, setting, args)
            sec = time_training(model, wrappers, domains, args)
            ips = time_inference(model, kind, domains, args)
            row[kind] = sec
            print(f'| {setting} | {kind} | {n_params / 1e6:.2f} | '
                  f'{sec:.3f} | {ips:.2f} | {peak_memory(args.device)} |',
                  flush=True)
            del model, wrappers
        print(f'| {setting} | ratio uagit/cyclegan | | '
              f'{row["uagit"] / row["cyclegan"]:.2f} | | |', flush=True)
    if args.translate_images:
        bare, tool = translate_folder_ratio(args)
        print(f'tools/translate.py on {args.translate_images} images: '
              f'{tool:.2f} img/s; bare forward {bare:.2f} img/s; ratio '
              f'{tool / bare:.2f}')


if __name__ == '__main__':
    main()
