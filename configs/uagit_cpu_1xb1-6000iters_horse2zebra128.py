# The horse2zebra CPU config at 128x128, trained twice as long:
#   python tools/download_dataset.py horse2zebra --size 128 \
#       --masks-zip horse2zebra_masks.zip      # -> data/horse2zebra128
# Everything else is uagit_cpu_1xb1-3000iters_horse2zebra64.py's (its
# networks, its three changes from the paper, the same held-out images and
# test sets): the same 1,000-iteration warm-up on whole images and 1,000
# iterations of attention training, then phase 2 from 2,000 (the attention
# frozen), the generators training on to 6,000, and the lr decaying to 0
# over the second half. Measured (docs/results.md, rows ah, ai and aj:
# seeds 0, 1 and a held-aside seed 2; seed 2 took 33 minutes alone on the
# 2 cores, training only): attention on / off the animal
# 0.38-0.68 / 0.08-0.11 on horse photographs, 0.19-0.32 / 0.07-0.08 on
# zebra ones, mask IoU 0.35-0.37 / 0.17-0.32 (the 64 px config:
# 0.27-0.31 / 0.00-0.11), background change 0.010-0.014; KID x 100
# 0.97-1.03x / 0.81-0.83x doing nothing. The targets are not met.
# Training the attention until 3,000 instead of 2,000 (row ag) spread
# the masks.
_base_ = ['./uagit_cpu_1xb1-3000iters_horse2zebra64.py']

data_root = 'data/horse2zebra128'
max_iters = 6000

model = dict(switch_iter=2000)
# the base config wrote its data_root into every loader when it was read
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = [
    dict(loader, dataset=dict(loader['dataset'], data_root=data_root))
    for loader in _base_.test_dataloader
]
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(_base_.param_scheduler[0], begin=max_iters // 2, end=max_iters)
]
