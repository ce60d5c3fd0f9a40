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
_dataset = dict(data_root=data_root, domain_a=domain_a, domain_b=domain_b)
train_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=_dataset)
