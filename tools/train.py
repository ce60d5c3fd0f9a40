"""Train a uagit_mm (or any mmagic) config with mmengine's Runner."""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS


def parse_args():
    parser = argparse.ArgumentParser(description='Train a uagit_mm model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None, metavar='PATH',
        help='resume from the latest checkpoint in the work dir, or from '
        'the checkpoint PATH (which may lie outside it)')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision for every sub-optimizer of the config: '
        'bfloat16 autocast on the CPU (AutocastOptimWrapper), mmengine\'s '
        'AmpOptimWrapper on a GPU (bfloat16 where supported, else float16 '
        'with loss scaling)')
    parser.add_argument(
        '--amp-auto', action='store_true',
        help='--amp where the device runs bfloat16 natively (a GPU, or a '
        'CPU with AVX512-BF16, AMX or Arm BF16), float32 elsewhere, where '
        'bfloat16 would be slower; the log says which')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (e.g. data_root=DIR '
        'train_cfg.max_iters=100)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    from uagit_mm.quiet import quiet_tool
    quiet_tool()  # mmagic's dependencies' import warnings, mmcv's conv bias
    from mmengine.runner import Runner  # (imports transformers: after that)

    import uagit_mm  # noqa: F401  (compat fixes before the config is built)
    from uagit_mm.engine.work_dir_lock import check_work_dir_free
    from uagit_mm.errors import MissingFileError
    from uagit_mm.utils import close_distributed, load_config

    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp_auto and not args.amp:
        from uagit_mm.utils import native_bf16
        args.amp, reason = native_bf16()
        print_log(f'--amp-auto: {"mixed precision" if args.amp else "float32"}'
                  f' ({reason})', logger='current')
    if args.amp:
        from uagit_mm.utils import enable_amp
        enable_amp(cfg)
    if args.resume:
        cfg.resume = True
        if args.resume != 'auto':
            if not osp.isfile(args.resume):
                raise MissingFileError(
                    f'--resume {args.resume}: no such checkpoint file')
            cfg.load_from = args.resume
    if os.environ.get('RANK', '0') == '0':
        # stop before the runner creates anything in a work dir that
        # another training run is using (the runner holds the lock)
        check_work_dir_free(cfg.work_dir)

    # the configs name UAGITRunner (runner_type); others get mmengine's
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    print_log(f'Working directory: {cfg.work_dir}', logger='current')
    runner.train()
    # every rank waits for the others and closes the process group, so
    # that no rank aborts on a peer's closed connection (uagit_mm.utils.dist)
    close_distributed()
    print_log(f'Checkpoints under {cfg.work_dir}, logs under '
              f'{runner.log_dir}', logger='current', level=logging.INFO)


if __name__ == '__main__':
    from uagit_mm.errors import run_tool
    run_tool(main)
