# The CPU run of uagit_cpu_1xb1-2500iters_synthetic64.py on the colour-only
# variant of the built-in dataset (made by `python
# tools/make_synthetic_dataset.py data/synthetichue64 --kind hue`): red-orange
# vs violet objects with the same shapes and shading, distractors in other
# hues, shared backgrounds; the domains differ in colour only, as apple2orange
# does. Model, schedule and budget as in the texture config; `translated` is
# judged by the object's mean hue instead of the stripe statistic.
_base_ = ['./uagit_cpu_1xb1-2500iters_synthetic64.py']

domain_a, domain_b = 'redorange', 'violet'
data_root = 'data/synthetichue64'

model = dict(domains=[domain_a, domain_b])

test_pipeline = _base_.test_pipeline[:-1] + [
    dict(type='PackUnpairedInputs', domains=[domain_a, domain_b])
]
_dataset = dict(data_root=data_root, domain_a=domain_a, domain_b=domain_b)
train_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=dict(_dataset, pipeline=test_pipeline))
val_dataloader = dict(dataset=dict(_dataset, pipeline=test_pipeline))

test_evaluator = dict(metrics=[
    dict(
        type='AttentionTranslationMetric',
        appearance={
            domain_a: 'A',
            domain_b: 'B'
        },
        judge='hue')
])
val_evaluator = dict(metrics=test_evaluator['metrics'])
