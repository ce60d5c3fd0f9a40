"""Train our model, its holistic-discriminator ablation and mmagic's CycleGAN
under equal conditions, then print one table.

    python tools/compare.py [--set texture|hue|horse2zebra] [--iters 1500]
                            [--work-dir work_dirs/compare] [--parallel]
                            [--cfg-options KEY=VALUE ...]

``--set texture`` (the default) is the smooth vs striped built-in set,
``--set hue`` the colour-only one (red-orange vs violet objects, with
distractors), ``--set horse2zebra`` CycleGAN's real photographs at 64 px
(``tools/download_dataset.py horse2zebra --size 64 --masks-zip ...``): there
the table adds FID and KID x 100 per direction on the test sets and a row
for doing nothing (the test images themselves), and the mask figures are
those of the held-out training images.

Each model is trained by tools/train.py and tested by tools/test.py in its own
process, one after the other, so the timings do not disturb each other; with
``--parallel`` the models train at the same time, one thread each (on a
2-core machine: the same budget for each).
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# per set: where its data goes, our model's config and the options that make
# a config of the other set judge `translated` by this set's statistic
SETS = {
    'texture': ('data/synthetic64',
                'configs/uagit_cpu_1xb1-2500iters_synthetic64.py', []),
    'hue': ('data/synthetichue64',
            'configs/uagit_cpu_1xb1-2500iters_synthetichue64.py',
            ['test_evaluator.metrics.0.judge=hue',
             'val_evaluator.metrics.0.judge=hue']),
    'horse2zebra': ('data/horse2zebra64',
                    'configs/uagit_cpu_1xb1-3000iters_horse2zebra64.py', []),
}
# the baseline's config per set (None: the synthetic one)
BASELINES = {
    'horse2zebra': 'configs/cyclegan_cpu_1xb1-3000iters_horse2zebra64.py'
}
# None: the set's own config of our model
MODELS = {
    'uagit': (None, []),
    'uagit-holistic-d': (None, ['model.switch_iter=None']),
    'cyclegan': ('configs/cyclegan_cpu_1xb1-2500iters_synthetic64.py', []),
}
COLUMNS = ['attn_on_object', 'attn_off_object', 'mask_iou', 'bg_change',
           'fg_change', 'translated']
FID_COLUMNS = ['fid', 'kid_x100']


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--set', default='texture', choices=sorted(SETS),
                   help='which built-in dataset: smooth vs striped objects '
                   '(texture) or objects that differ in colour only (hue)')
    p.add_argument('--data-root', default=None,
                   help='where the built-in dataset is (made if missing); '
                   'default data/synthetic64 or data/synthetichue64')
    p.add_argument('--work-dir', default='work_dirs/compare')
    p.add_argument('--iters', type=int, default=None,
                   help='training iterations for every model (default: the '
                   "configs' 2500); the phase switch and lr decay scale along")
    p.add_argument('--switch-frac', type=float, default=0.6,
                   help='phase-2 start as a fraction of the iterations')
    p.add_argument('--models', default=','.join(MODELS),
                   help=f'comma-separated subset of {",".join(MODELS)}')
    p.add_argument('--python', default=sys.executable)
    p.add_argument('--parallel', action='store_true',
                   help='train the models at the same time, one thread each')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='extra options for our model (uagit rows only)')
    p.add_argument('--seed', type=int, default=None,
                   help='randomness.seed for every model')
    return p.parse_args()


def iteration_seconds(log_dir: str) -> float:
    """Median of the logged per-iteration times, first window excluded."""
    files = glob.glob(osp.join(log_dir, 'vis_data', 'scalars.json'))
    times = []
    for path in files:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'time' in rec and 'loss_gan_d_' in ''.join(rec):
                    times.append(rec['time'])
    return statistics.median(times[1:] or times) if times else float('nan')


def run(cmd, log_path):
    with open(log_path, 'w') as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed (exit {proc.returncode});'
                         f' see {log_path}')


def doing_nothing(data_root: str, domains) -> dict:
    """FID and KID x 100 of the source test images themselves against the
    target domain's: what a model that translates nothing scores."""
    sys.path.insert(0, ROOT)
    import numpy as np
    import torch
    from PIL import Image

    import uagit_mm  # noqa: F401  (its compatibility fixes come first)
    from mmagic.evaluation.metrics import FrechetInceptionDistance
    from uagit_mm.evaluation.fid_kid import (kid_from_features,
                                             load_fid_inception,
                                             packaged_inception_path)
    net = load_fid_inception(packaged_inception_path())

    def feats(folder):
        files = sorted(glob.glob(osp.join(data_root, folder, '*')))
        out = []
        for i in range(0, len(files), 16):
            batch = np.stack([
                np.asarray(Image.open(f).convert('RGB'))
                for f in files[i:i + 16]
            ])
            out.append(net(torch.from_numpy(batch).permute(0, 3, 1, 2))
                       .numpy())
        return np.concatenate(out).astype(np.float64)

    a, b = feats('testA'), feats('testB')
    metrics = {}
    for src, tgt, fake, real in ((domains[0], domains[1], a, b),
                                 (domains[1], domains[0], b, a)):
        fid, _, _ = FrechetInceptionDistance._calc_fid(
            fake.mean(0), np.cov(fake, rowvar=False), real.mean(0),
            np.cov(real, rowvar=False))
        kid, _ = kid_from_features(real, fake)
        metrics[f'{src}2{tgt}/fid'] = fid
        metrics[f'{src}2{tgt}/kid_x100'] = kid * 100
    return metrics


def main():
    args = parse_args()
    names = [n.strip() for n in args.models.split(',') if n.strip()]
    unknown = set(names) - set(MODELS)
    if unknown:
        raise SystemExit(f'unknown models {sorted(unknown)}; choose from '
                         f'{sorted(MODELS)}')
    data_root, own_config, judge_opts = SETS[args.set]
    data_root = args.data_root or data_root
    real = args.set == 'horse2zebra'
    if not osp.isdir(osp.join(ROOT, data_root)) and not osp.isdir(data_root):
        if real:
            raise SystemExit(
                f'{data_root} not found: python tools/download_dataset.py '
                'horse2zebra --size 64 --masks-zip <masks zip>')
        kind = [] if args.set == 'texture' else ['--kind', args.set]
        run([args.python, 'tools/make_synthetic_dataset.py', data_root] +
            kind, osp.join(ROOT, 'make_dataset.log'))

    jobs = []
    for name in names:
        config, extra = MODELS[name]
        if name == 'cyclegan':
            config = BASELINES.get(args.set, config)
        if config is None:
            config = own_config
        elif config != own_config and not real:
            extra = judge_opts + extra  # the baseline judged as this set
        work = osp.join(args.work_dir, name)
        opts = [f'data_root={data_root}'] + extra
        if args.seed is not None:
            opts.append(f'randomness.seed={args.seed}')
        if name.startswith('uagit'):
            opts += args.cfg_options
        if args.iters:
            n = args.iters
            log_every = min(50, max(1, n // 10))
            opts += [f'train_cfg.max_iters={n}',
                     f'param_scheduler.0.begin={n // 2}',
                     f'param_scheduler.0.end={n}',
                     f'default_hooks.checkpoint.interval={n}',
                     f'default_hooks.logger.interval={log_every}']
            if name == 'uagit':
                opts += scaled_schedule(config, n, args.switch_frac)
        os.makedirs(work, exist_ok=True)
        jobs.append((name, config, work, opts))

    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1') \
        if args.parallel else None
    started = {}
    for name, config, work, opts in jobs:
        print(f'[{name}] training ({config})', flush=True)
        cmd = [args.python, '-W', 'ignore', 'tools/train.py', config,
               '--work-dir', work, '--cfg-options', *opts]
        start = time.time()
        if args.parallel:
            log = open(osp.join(work, 'train.out'), 'w')
            started[name] = (subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=env), start, log)
        else:
            run(cmd, osp.join(work, 'train.out'))
            started[name] = (None, start, time.time() - start)
    walls = {}
    for name, (proc, start, extra) in started.items():
        if proc is None:
            walls[name] = extra
            continue
        if proc.wait() != 0:
            raise SystemExit(f'[{name}] training failed; see '
                             f'{osp.join(args.work_dir, name, "train.out")}')
        extra.close()
        walls[name] = time.time() - start

    rows = []
    for name, config, work, opts in jobs:
        log_dir = sorted(d for d in glob.glob(osp.join(work, '2*'))
                         if osp.isdir(d))[0]
        sec = iteration_seconds(log_dir)
        with open(osp.join(work, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        metrics_file = osp.join(work, 'metrics.json')
        print(f'[{name}] testing {ckpt}', flush=True)
        run([args.python, '-W', 'ignore', 'tools/test.py', config, ckpt,
             '--work-dir', work, '--out-metrics', metrics_file,
             '--cfg-options', *opts], osp.join(work, 'test.out'))
        with open(metrics_file) as f:
            metrics = json.load(f)
        rows.append((name, sec, walls[name], metrics))
        print(f'[{name}] done: {sec:.3f} s/iter, {walls[name] / 60:.1f} min',
              flush=True)

    columns = COLUMNS + (FID_COLUMNS if real else [])
    if real:
        domains = ('horse', 'zebra')
        nothing = doing_nothing(
            data_root if osp.isabs(data_root) else osp.join(ROOT, data_root),
            domains)
        rows.append(('doing nothing', float('nan'), 0.0, nothing))
    print('\n| model | s/iter | train min | direction | ' +
          ' | '.join(columns) + ' |')
    print('|---|---|---|---|' + '---|' * len(columns))
    for name, sec, wall, metrics in rows:
        directions = sorted({k.split('/')[-2] for k in metrics
                             if k.endswith(('/num_images', '/kid_x100'))
                             and 'mean' not in k})
        for d in directions:
            vals = [metrics.get(f'attn/{d}/{c}', metrics.get(f'{d}/{c}'))
                    for c in columns]
            cells = ['–' if v is None else f'{v:.3f}' for v in vals]
            speed = '–' if sec != sec else f'{sec:.3f}'  # nan: not trained
            print(f'| {name} | {speed} | {wall / 60:.1f} | {d} | ' +
                  ' | '.join(cells) + ' |')


def scaled_schedule(config: str, iters: int, switch_frac: float) -> list:
    """``--cfg-options`` that move the phase switch to ``switch_frac`` of
    ``iters`` and scale the config's sharpness ramp and warm-up with it (a
    ramp or warm-up left after the switch would be refused)."""
    sys.path.insert(0, ROOT)
    from mmengine.config import Config
    model = Config.fromfile(osp.join(ROOT, config)).model
    old_switch = model.get('switch_iter')
    switch = int(iters * switch_frac)
    opts = [f'model.switch_iter={switch}']
    if not old_switch:
        return opts
    scale = switch / old_switch
    sharp = model.get('sharpness') or {}
    if sharp.get('weight'):
        opts += [f'model.sharpness.begin={int(sharp["begin"] * scale)}',
                 f'model.sharpness.end={int(sharp["end"] * scale)}']
    warm = model.get('warmup') or {}
    if warm.get('iters'):
        opts.append(f'model.warmup.iters={int(warm["iters"] * scale)}')
    return opts


if __name__ == '__main__':
    main()
