"""Test a checkpoint: run the test loop, write translations and masks."""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS


def parse_args():
    parser = argparse.ArgumentParser(description='Test a uagit_mm model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where results and logs go')
    parser.add_argument(
        '--out-dir', default='translations',
        help='folder (under the run\'s log dir) for translations and masks')
    parser.add_argument(
        '--out-metrics', help='also write the metrics to this JSON file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (e.g. data_root=DIR)')
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

    import uagit_mm  # noqa: F401
    from uagit_mm.utils import close_distributed, load_config

    cfg = load_config(args.config, args.cfg_options)
    if not osp.isfile(args.checkpoint):
        from uagit_mm.errors import MissingFileError
        raise MissingFileError(f'checkpoint {args.checkpoint} does not exist')
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    for hook in cfg.get('custom_hooks', []) or []:
        if hook.get('type') == 'TranslationOutputHook':
            hook['out_dir'] = args.out_dir

    # the configs name UAGITRunner (runner_type); others get mmengine's
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    metrics = runner.test()
    if metrics is None:
        # mmagic's MultiTestLoop (the configs with FID/KID) returns nothing;
        # mmengine's RuntimeInfoHook keeps the metrics as test/<name>
        metrics = {
            k[len('test/'):]: v.current()
            for k, v in runner.message_hub.log_scalars.items()
            if k.startswith('test/')
        }
    close_distributed()  # orderly end for every rank (uagit_mm.utils.dist)
    if metrics:
        print_log(f'Metrics: {metrics}', logger='current')
    if args.out_metrics:
        from uagit_mm.fileio import atomic_backend
        atomic_backend().put_text(
            json.dumps({k: float(v) for k, v in (metrics or {}).items()},
                       indent=1), osp.abspath(args.out_metrics))


if __name__ == '__main__':
    from uagit_mm.errors import run_tool
    run_tool(main)
