# Unpaired folders in the CycleGAN layout:
# data_root/{trainA,trainB,testA,testB}.
# Training: resize 286, random 256 crop, random horizontal flip (the paper).
# Pipelines use the generic keys img_A / img_B; PackUnpairedInputs renames them
# to the domain names given to the dataset. mmagic's TranslationInferencer runs
# the top-level test_pipeline on a bare image path, with no dataset to name the
# domains: a config that names them can make it work by redefining
# test_pipeline with dict(type='PackUnpairedInputs', domains=[domain_a,
# domain_b]) (as uagit_cpu_1xb1-2500iters_synthetic64.py does).
dataset_type = 'UnpairedFolderDataset'
data_root = None  # set by the dataset config or --cfg-options data_root=...

train_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(
        type='TransformBroadcaster',
        mapping={'img': ['img_A', 'img_B']},
        auto_remap=True,
        share_random_params=False,
        transforms=[
            dict(type='Resize', scale=(286, 286), interpolation='bicubic'),
            dict(type='Crop', keys=['img'], crop_size=(256, 256),
                 random_crop=True),
        ]),
    dict(type='Flip', keys=['img_A'], direction='horizontal'),
    dict(type='Flip', keys=['img_B'], direction='horizontal'),
    dict(type='PackUnpairedInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(
        type='TransformBroadcaster',
        mapping={'img': ['img_A', 'img_B']},
        auto_remap=True,
        share_random_params=True,
        transforms=dict(
            type='Resize', scale=(256, 256), interpolation='bicubic')),
    dict(type='PackUnpairedInputs'),
]

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        domain_a=None,
        domain_b=None,
        pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        domain_a=None,
        domain_b=None,
        test_mode=True,
        pipeline=test_pipeline))
