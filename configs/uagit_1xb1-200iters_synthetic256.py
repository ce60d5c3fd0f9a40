# The paper's networks and optimizer (ngf-32 9-block generators, 64-128-256-
# 512-1 PatchGAN discriminators, Adam 1e-4, batch 1, tau 0.1, cycle weight
# 10) on the built-in set at 256x256 for 200 iterations: phase 2 from
# iteration 60, a checkpoint (and validation) at 100 and 200. The GPU smoke
# run of tools/dev/gpu_check.sh, which makes the data with
# `python tools/make_synthetic_dataset.py data/synthetic256 --size 256
# --num-train 200 --num-test 50`; far too short to judge the method by. The
# paper's losses: the CPU config's sharpness ramp (from iteration 1,000)
# would start after this switch, which is refused, so it is off here.
_base_ = ['./uagit_cpu_1xb1-2500iters_synthetic64.py']

data_root = 'data/synthetic256'
max_iters = 200

model = dict(
    generator=dict(num_blocks=9),
    discriminator=dict(base_channels=64),
    switch_iter=60,
    sharpness=dict(weight=0.0))
optim_wrapper = dict(
    generators=dict(optimizer=dict(lr=1e-4)),
    discriminators=dict(optimizer=dict(lr=1e-4)))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(max_iters=max_iters, val_interval=100)
param_scheduler = [
    dict(_base_.param_scheduler[0], begin=max_iters // 2, end=max_iters)
]
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=100))
