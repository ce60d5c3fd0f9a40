# Unpaired folders in the CycleGAN layout:
# data_root/{trainA,trainB,testA,testB}.
# Training: resize 286, random 256 crop, random horizontal flip (the paper).
# Pipelines use the generic keys img_A / img_B; PackUnpairedInputs renames them
# to the domain names given to the dataset. mmagic's TranslationInferencer runs
# the top-level test_pipeline on a bare image path, with no dataset to name the
# domains: a config that names them can make it work by redefining
# test_pipeline with dict(type='PackUnpairedInputs', domains=[domain_a,
# domain_b]) (as uagit_cpu_1xb1-2500iters_synthetic64.py does).
# Images are read by LoadPhotoFromFile, the reader the translate tool, the
# demo and the inferencer use too (they take this config's choice). The
# benchmark configs ignore embedded colour profiles, as the field's loaders
# (CycleGAN's, the published FID/KID code) do: about a fifth of horse2zebra's
# JPEGs carry a profile that is not sRGB, and converting them would move the
# translated test sets (and FID/KID) away from the published protocol.
# color_profiles='convert' in the four loading steps converts them to sRGB.
dataset_type = 'UnpairedFolderDataset'
data_root = None  # set by the dataset config or --cfg-options data_root=...

train_pipeline = [
    dict(type='LoadPhotoFromFile', key='img_A', color_profiles='ignore'),
    dict(type='LoadPhotoFromFile', key='img_B', color_profiles='ignore'),
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
    dict(type='LoadPhotoFromFile', key='img_A', color_profiles='ignore'),
    dict(type='LoadPhotoFromFile', key='img_B', color_profiles='ignore'),
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
