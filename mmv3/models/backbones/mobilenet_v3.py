from mmv3.registry import MODELS

from .base_mobilenet import MobileNet


@MODELS.register_module()
class MobileNetV3(MobileNet):
    """MobileNetV3-Large / -Small (paper Tables 1 and 2).

    ``out_indices`` numbering is mmpretrain's and mmseg's: 0 = stem, 1-15 = the bnecks of
    Large (1-11 of Small), 16 = Large's final 1x1 conv (12 for Small). Submodule names
    (``layer{i}.expand_conv.conv`` ...) match mmpretrain's MobileNetV3 too.

    Args:
        arch (str): ``'large'`` or ``'small'``. Default: ``'large'`` (mmpretrain's and mmseg's
            default is ``'small'``).
        reduction_factor (int, optional): mmseg's name, accepted as an alias: ``2`` is
            ``reduce_tail='rf2'``, ``1`` is ``reduce_tail=None``; other values raise ``ValueError``.
        **kwargs: See :class:`~mmv3.models.backbones.base_mobilenet.MobileNet`: ``widen_factor``,
            ``out_indices``, ``output_stride``, ``reduce_tail`` (``'rf2'`` for segmentation,
            ``'dagger'`` for detection), ``hswish_from`` / ``act_cfg`` (Table 5),
            ``arch_overrides`` (per-row final widths), ``pad_type`` (``'same'``: TF padding,
            ``'keras'``: Keras applications'), ``minimalistic`` (3x3, no SE, ReLU: TF / Keras'),
            ``se_gate_cfg`` (``dict(type='mmv3.QSigmoid')``: TF slim's / DeepLab's SE gate),
            ``frozen_stages``, ``norm_cfg``, ``norm_eval``, ``with_cp``, ``init_cfg``.

    Example:
        >>> backbone = MobileNetV3('large', out_indices=('13.expand', 16))
        >>> backbone.out_channels
        (672, 960)
    """

    ARCHS = dict(large='mobilenet_v3_large', small='mobilenet_v3_small')

    def __init__(self, arch='large', reduction_factor=None, **kwargs):
        if reduction_factor is not None:  # mmseg's spelling of the paper's halved last stage
            if reduction_factor not in (1, 2) or isinstance(reduction_factor, bool):
                raise ValueError(f'MobileNetV3: reduction_factor={reduction_factor!r} (mmseg\'s name) is accepted '
                                 "as 1 or 2 only; mmv3 spells it reduce_tail='rf2' (2) or None (1)")
            want = 'rf2' if reduction_factor == 2 else None
            if 'reduce_tail' in kwargs and kwargs['reduce_tail'] != want:
                raise ValueError(f'MobileNetV3: reduction_factor={reduction_factor} contradicts '
                                 f'reduce_tail={kwargs["reduce_tail"]!r}; give only reduce_tail')
            kwargs['reduce_tail'] = want
        if arch not in self.ARCHS:
            raise ValueError(f"MobileNetV3: unknown arch={arch!r}; allowed: {sorted(self.ARCHS)} "
                             "(e.g. type='mmv3.MobileNetV3', arch='large')")
        super().__init__(self.ARCHS[arch], **kwargs)
