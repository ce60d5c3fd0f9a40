"""Train our model, its holistic-discriminator ablation and mmagic's CycleGAN
under equal conditions on the built-in dataset, then print one table.

    python tools/compare.py [--set texture|hue] [--iters 1500]
                            [--work-dir work_dirs/compare]

``--set texture`` (the default) is the smooth vs striped set, ``--set hue``
the colour-only one (red-orange vs violet objects, with distractors).

Each model is trained by tools/train.py and tested by tools/test.py in its own
process, one after the other, so the timings do not disturb each other.
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
}
# None: the set's own config of our model
MODELS = {
    'uagit': (None, []),
    'uagit-holistic-d': (None, ['model.switch_iter=None']),
    'cyclegan': ('configs/cyclegan_cpu_1xb1-2500iters_synthetic64.py', []),
}
COLUMNS = ['attn_on_object', 'attn_off_object', 'mask_iou', 'bg_change',
           'fg_change', 'translated']


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


def main():
    args = parse_args()
    names = [n.strip() for n in args.models.split(',') if n.strip()]
    unknown = set(names) - set(MODELS)
    if unknown:
        raise SystemExit(f'--models: unknown {sorted(unknown)}; choose from '
                         f'{sorted(MODELS)}')
    sys.path.insert(0, ROOT)
    from uagit_mm.datasets.synthetic import generate_dataset
    default_root, own_config, judge_opts = SETS[args.set]
    data_root = args.data_root or default_root
    generate_dataset(data_root, kind=args.set)
    rows = []
    for name in names:
        config, extra = MODELS[name]
        if config is None:
            config = own_config
        elif config != own_config:  # the baseline's config: this set's judge
            extra = judge_opts + extra
        work = osp.join(args.work_dir, name)
        opts = [f'data_root={data_root}'] + extra
        if args.iters:
            n = args.iters
            log_every = min(50, max(1, n // 10))
            opts += [f'train_cfg.max_iters={n}',
                     f'param_scheduler.0.begin={n // 2}',
                     f'param_scheduler.0.end={n}',
                     f'default_hooks.checkpoint.interval={n}',
                     f'default_hooks.logger.interval={log_every}']
            if name == 'uagit':
                opts.append(f'model.switch_iter={int(n * args.switch_frac)}')
        os.makedirs(work, exist_ok=True)
        print(f'[{name}] training ({config})', flush=True)
        start = time.time()
        run([args.python, '-W', 'ignore', 'tools/train.py', config,
             '--work-dir', work, '--cfg-options', *opts],
            osp.join(work, 'train.out'))
        wall = time.time() - start
        log_dir = sorted(d for d in glob.glob(osp.join(work, '2*'))
                         if osp.isdir(d))[-1]
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
        rows.append((name, sec, wall, metrics))
        print(f'[{name}] done: {sec:.3f} s/iter, {wall / 60:.1f} min',
              flush=True)

    print('\n| model | s/iter | train min | direction | ' +
          ' | '.join(COLUMNS) + ' |')
    print('|---|---|---|---|' + '---|' * len(COLUMNS))
    for name, sec, wall, metrics in rows:
        # the directions, not 'mean' (every direction has num_images)
        directions = sorted(k.split('/')[1] for k in metrics
                            if k.endswith('/num_images'))
        for d in directions:
            vals = [metrics.get(f'attn/{d}/{c}') for c in COLUMNS]
            cells = ['–' if v is None else f'{v:.3f}' for v in vals]
            print(f'| {name} | {sec:.3f} | {wall / 60:.1f} | {d} | ' +
                  ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
