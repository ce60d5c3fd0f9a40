# A CPU-sized run on the built-in synthetic dataset (64x64, made by
# `python tools/make_synthetic_dataset.py data/synthetic64`), about 14.5
# minutes on 2 cores (tools/compare.py): ngf-32 generators with 3 residual
# blocks, 32-128-256-1 PatchGAN discriminators (base 32), batch 1, 2,500
# iterations; phase 2 from iteration 1,500 (60 %: the attention trains longer
# before it is frozen); lr 2e-4 (CycleGAN's; the paper's 1e-4 is slow for
# this budget), decaying linearly to 0 over the second half. Not in the
# paper: model.sharpness, a penalty 2 * mean(4 a (1 - a)) on each attention
# map, ramped in from iteration 1,000 to 1,250, so the masks are near binary
# when they are frozen at the switch (docs/results.md, "Sharp attention on
# both kinds of domain pair": on the colour-only set it took them from
# 0.61 / 0.71 to 0.86-0.87 / 0.89-0.90 on the object; on this set IoU stayed
# within the seeds' spread). model.sharpness.weight=0 gives the paper's losses.
_base_ = [
    './_base_/models/uagit.py', './_base_/datasets/unpaired_256.py',
    './_base_/schedules/uagit_100e.py'
]

domain_a, domain_b = 'smooth', 'striped'
data_root = 'data/synthetic64'
max_iters = 2500

model = dict(
    domains=[domain_a, domain_b],
    generator=dict(num_blocks=3),
    discriminator=dict(base_channels=32),
    switch_epoch=None,
    switch_iter=1500,
    sharpness=dict(weight=2.0, begin=1000, end=1250))
optim_wrapper = dict(
    generators=dict(optimizer=dict(lr=2e-4)),
    discriminators=dict(optimizer=dict(lr=2e-4)))

# LoadPhotoFromFile: the reader of the translate tool, the demo and the
# inferencer, colour profiles converted to sRGB (color_profiles='convert',
# its default; they read this choice from the config)
pipeline_train = [
    dict(type='LoadPhotoFromFile', key='img_A'),
    dict(type='LoadPhotoFromFile', key='img_B'),
    dict(type='Flip', keys=['img_A'], direction='horizontal'),
    dict(type='Flip', keys=['img_B'], direction='horizontal'),
    dict(type='PackUnpairedInputs'),
]
# also what mmagic's inferencers run (cfg.test_pipeline) on a bare image
# path, with no dataset to name the domains: the packer names them
test_pipeline = [
    dict(type='LoadPhotoFromFile', key='img_A'),
    dict(type='LoadPhotoFromFile', key='img_B'),
    # ground-truth object masks (testA_mask/, testB_mask/) for the metrics
    dict(type='LoadUnpairedMasks'),
    dict(type='PackUnpairedInputs', domains=[domain_a, domain_b]),
]
_dataset = dict(data_root=data_root, domain_a=domain_a, domain_b=domain_b)
train_dataloader = dict(
    num_workers=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_dataset, pipeline=pipeline_train))
test_dataloader = dict(
    num_workers=1, batch_size=8, dataset=dict(_dataset,
                                              pipeline=test_pipeline))

# mask IoU, background/object change and translation success per direction
test_evaluator = dict(metrics=[
    dict(
        type='AttentionTranslationMetric',
        appearance={
            domain_a: 'A',
            domain_b: 'B'
        })
])

# Validation while training: the same metric on the val split (valA/valB,
# drawn apart from train and test by tools/make_synthetic_dataset.py) every
# `val_interval` iterations, keeping best_attn_mean_mask_iou_iter_N.pth (the
# mean mask IoU of both directions); the test set stays for the figures.
# `--cfg-options val_interval=0` switches it off (tools/train.py;
# docs/training.md, "Validation while training").
val_interval = 500
val_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _dataset,
        type='UnpairedFolderDataset',
        test_mode=True,
        split='val',
        pipeline=test_pipeline))
# mmagic's loop and evaluator (its IterTimerHook needs MultiValLoop)
val_evaluator = dict(
    _delete_=True, type='Evaluator', metrics=test_evaluator['metrics'])
val_cfg = dict(_delete_=True, type='MultiValLoop')

train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=val_interval)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=False,
        begin=max_iters // 2,
        end=max_iters)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        interval=500,
        by_epoch=False,
        max_keep_ckpts=3,
        save_best='attn/mean/mask_iou',
        rule='greater'))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
