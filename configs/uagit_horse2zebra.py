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
# one Inception pass (README, "Evaluation"). The Inception file is not
# downloaded at run time: fetch it once to `inception_path`, or test without
# metrics with --cfg-options test_evaluator.metrics=[] .
inception_path = 'data/inception-2015-12-05.pt'
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
