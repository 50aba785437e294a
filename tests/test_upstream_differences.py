"""The differences a user from mmseg / mmpretrain trips over (issue 14 item 7): mmseg's
``reduction_factor`` accepted as an alias of ``reduce_tail='rf2'``, and a warning when an mmseg
MobileNetV3 checkpoint (same parameter names, different features) is loaded."""
import pytest
import torch

import mmv3.models  # noqa: F401
from mmv3.models.backbones import MobileNetV3


def test_reduction_factor_is_mmseg_alias_of_reduce_tail_rf2():
    a = MobileNetV3('large', reduction_factor=2, out_indices=(16, ))
    b = MobileNetV3('large', reduce_tail='rf2', out_indices=(16, ))
    plain = MobileNetV3('large', out_indices=(16, ))
    shapes = {k: v.shape for k, v in a.state_dict().items()}
    assert shapes == {k: v.shape for k, v in b.state_dict().items()}
    assert shapes != {k: v.shape for k, v in plain.state_dict().items()}
    assert a.out_channels == b.out_channels == (480, ) and plain.out_channels == (960, )
    assert MobileNetV3('small', reduction_factor=1).out_channels == MobileNetV3('small').out_channels
    with pytest.raises(ValueError, match=r"reduction_factor=4 .* reduce_tail='rf2'"):
        MobileNetV3('large', reduction_factor=4)
    with pytest.raises(ValueError, match='contradicts'):
        MobileNetV3('large', reduction_factor=2, reduce_tail='dagger')


def _save(path, meta):
    model = MobileNetV3('small', widen_factor=0.35)
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in model.state_dict().items()}, meta=meta), path)
    return str(path)


def test_loading_an_mmseg_mobilenetv3_checkpoint_warns(tmp_path):
    from mmv3.apis import load_weights
    from mmv3.apis.model import mmseg_checkpoint_origin

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = MobileNetV3('small', widen_factor=0.35)

    zoo = _save(tmp_path / 'mmseg_zoo.pth', dict(mmseg_version='0.11.0', config="model = dict(type='EncoderDecoder', "
                                                 "backbone=dict(type='MobileNetV3', arch='large'))"))
    with pytest.warns(UserWarning, match="written by mmseg .*TF-style \"same\" padding"):
        load_weights(Wrap(), zoo)
    v1 = _save(tmp_path / 'mmseg1.pth', dict(cfg="default_scope = 'mmseg'\nmodel = dict(backbone=dict("
                                              "type='MobileNetV3', arch='small'))"))
    assert mmseg_checkpoint_origin(torch.load(v1, weights_only=True)) is not None
    ours = _save(tmp_path / 'ours.pth', dict(cfg="default_scope = 'mmseg'\nmodel = dict(backbone=dict("
                                                "type='mmv3.MobileNetV3', arch='small'))"))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        load_weights(Wrap(), ours)  # mmv3's own checkpoint: no warning
    assert mmseg_checkpoint_origin(dict(meta=dict(iter=3))) is None
