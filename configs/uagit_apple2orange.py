# As uagit_horse2zebra.py, on apple2orange.
_base_ = ['./uagit_horse2zebra.py']

domain_a, domain_b = 'apple', 'orange'
data_root = 'data/apple2orange'

model = dict(domains=[domain_a, domain_b])
_dataset = dict(data_root=data_root, domain_a=domain_a, domain_b=domain_b)
train_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=_dataset)
