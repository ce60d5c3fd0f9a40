# The attention-guided translation model with the hyper-parameters of
# Mejjati et al., NeurIPS 2018 (and the authors' code). Domain names come from
# the dataset config (model.domains).
model = dict(
    type='UAGIT',
    domains=None,  # e.g. ['horse', 'zebra']; the second is the default target
    data_preprocessor=dict(type='DataPreprocessor'),
    generator=dict(
        type='ResnetGenerator',
        in_channels=3,
        out_channels=3,
        base_channels=32,  # ngf 32 (CycleGAN uses 64)
        norm_cfg=dict(type='IN'),
        use_dropout=False,
        num_blocks=9,
        padding_mode='reflect',
        init_cfg=dict(type='normal', gain=0.02)),
    discriminator=dict(
        type='AttentionMaskedDiscriminator',
        in_channels=3,
        base_channels=64,  # 64-128-256-512-1, strides 2,2,2,1,1
        num_conv=3,
        norm_cfg=dict(type='IN'),
        init_cfg=dict(type='normal', gain=0.02)),
    attention=dict(
        type='AttentionNet',
        in_channels=3,
        base_channels=32,
        num_down=2,
        num_blocks=1,
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.02, bias=0)),
    generator_input='foreground',  # 'foreground' (paper) or 'full'
    gan_loss=dict(type='GANLoss', gan_type='lsgan', loss_weight=1.0),
    cycle_loss=dict(type='L1Loss', loss_weight=10.0, reduction='mean'),
    id_loss=None,
    buffer_size=50,
    switch_epoch=30,  # phase 2 from epoch 30 (0-based); None = "Ours-D"
    switch_iter=None,
    threshold=0.1,  # tau: phase 2 shows D only x * [attention > tau]
    freeze_attention=True,
    disc_norm_in_phase2=False,
    # not in the paper: from this iteration, while the attention trains, the
    # training composite uses [a > u], u ~ U(0, 1) per image (straight-
    # through gradient), meant to push grey masks to 0 or 1 (it did not in
    # the pilot in docs/results.md); None = off (paper)
    binary_mask_from=None,
    # not in the paper: dict(weight=w, begin=i0, end=i1) adds
    # w * mean(4 a (1 - a)) per attention map to the generator loss while
    # the attention trains, ramped in from iteration i0 to i1; weight 0 = off
    # (set e.g. --cfg-options model.sharpness.weight=2 model.sharpness.begin=N)
    sharpness=dict(weight=0.0, begin=0, end=0),
    # not in the paper: dict(iters=n, mask=m): the first n iterations
    # compose with the constant attention m (1: a CycleGAN on whole
    # images) and do not train the attention networks; iters 0 = off (paper)
    warmup=dict(iters=0, mask=1.0),
    # not in the paper: dict(weight=w, floor=f) adds w * mean over images of
    # relu(f - mean(a)) ** 2 per attention map while the attention trains
    # (no image's mask may close); weight 0 = off (paper)
    area_floor=dict(weight=0.0, floor=0.0),
    # not in the paper: weight of the mean attention A_s(t) on the other
    # domain's real images t while the attention trains; 0 = off (paper)
    domain_contrast=0.0,
    # not in the paper: a price per attended pixel, w * mean(a) per
    # attention map while the attention trains; 0 = off (paper)
    area_cost=0.0,
    # False (not in the paper): the cycle loss gives the attention networks
    # no gradient, they learn from the adversarial loss and the penalties
    cycle_trains_attention=True)
