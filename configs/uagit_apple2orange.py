# As uagit_horse2zebra.py, on apple2orange.
_base_ = ['./uagit_horse2zebra.py']

domain_a, domain_b = 'apple', 'orange'
data_root = 'data/apple2orange'

model = dict(domains=[domain_a, domain_b])
test_pipeline = _base_.test_pipeline[:-1] + [
    dict(type='PackUnpairedInputs', domains=[domain_a, domain_b])
]
_dataset = dict(data_root=data_root, domain_a=domain_a, domain_b=domain_b)
train_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=dict(_dataset, pipeline=test_pipeline))

num_test_a, num_test_b = 266, 248  # testA (apple), testB (orange)
_fid = _base_.test_evaluator.metrics[0]
test_evaluator = dict(metrics=[
    dict(_fid, prefix=f'{domain_a}2{domain_b}', fake_nums=num_test_a,
         real_key=f'img_{domain_b}', fake_key=f'fake_{domain_b}'),
    dict(_fid, prefix=f'{domain_b}2{domain_a}', fake_nums=num_test_b,
         real_key=f'img_{domain_a}', fake_key=f'fake_{domain_a}'),
])

# validation while training as in uagit_horse2zebra.py (valA/valB: held-out
# training images, tools/download_dataset.py apple2orange --num-val 100)
val_dataloader = dict(dataset=dict(_dataset, pipeline=test_pipeline))
val_evaluator = dict(metrics=[
    dict(m, fake_nums=_base_.num_val) for m in test_evaluator['metrics']
])
