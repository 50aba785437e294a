"""Classification heads: the efficient last stage (Figure 5) and mmv3.DropoutLinearClsHead."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample

import mmv3  # noqa: F401
import mmv3.models.heads  # noqa: F401  (registers the heads even before mmv3.models imports them)
from mmv3.models.heads import DropoutLinearClsHead


def test_stacked_linear_head_is_the_efficient_last_stage():
    """GAP + StackedLinearClsHead(mid=[1280], HSwish, dropout 0.2) == Table 1's last rows:
    pool 7x7 -> conv2d 1x1 NBN 1280 (bias) + HS -> dropout -> conv2d 1x1 NBN k."""
    init_default_scope('mmpretrain')
    neck = CLS_MODELS.build(dict(type='GlobalAveragePooling'))
    head = CLS_MODELS.build(dict(type='StackedLinearClsHead', num_classes=1001, in_channels=960,
                                 mid_channels=[1280], dropout_rate=0.2, act_cfg=dict(type='HSwish')))
    head.eval()
    x = torch.randn(2, 960, 7, 7)
    conv1 = nn.Conv2d(960, 1280, 1, bias=True)
    conv2 = nn.Conv2d(1280, 1001, 1, bias=True)
    conv1.weight.data = head.layers[0].fc.weight.data[:, :, None, None]
    conv1.bias.data = head.layers[0].fc.bias.data
    conv2.weight.data = head.layers[1].fc.weight.data[:, :, None, None]
    conv2.bias.data = head.layers[1].fc.bias.data
    pooled = F.avg_pool2d(x, 7)
    ref = conv2(F.hardswish(conv1(pooled))).flatten(1)
    with torch.no_grad():
        out = head(neck((x, )))
    assert out.shape == (2, 1001)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    # no BN anywhere, dropout only after the 1280 activation
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in head.modules())
    assert head.layers[0].dropout.p == 0.2 and head.layers[1].dropout is None
    assert sum(p.numel() for p in head.parameters()) == 960 * 1280 + 1280 + 1280 * 1001 + 1001


def test_dropout_linear_head_forward_and_dropout():
    head = DropoutLinearClsHead(num_classes=10, in_channels=32, dropout_rate=0.2)
    x = torch.randn(4, 32)
    head.eval()
    with torch.no_grad():
        torch.testing.assert_close(head((x, )), head.fc(x))
    head.train()
    torch.manual_seed(0)
    a = head((x, ))
    b = head((x, ))
    assert a.shape == (4, 10) and not torch.allclose(a, b)  # dropout active while training
    assert isinstance(head.dropout, nn.Dropout) and head.dropout.p == 0.2
    assert isinstance(DropoutLinearClsHead(10, 32, dropout_rate=0).dropout, nn.Identity)


def test_dropout_linear_head_state_dict_is_linear_cls_heads():
    ours = DropoutLinearClsHead(num_classes=10, in_channels=32)
    theirs = LinearClsHead(num_classes=10, in_channels=32)
    assert set(ours.state_dict()) == set(theirs.state_dict()) == {'fc.weight', 'fc.bias'}
    ours.load_state_dict(theirs.state_dict(), strict=True)


def test_dropout_linear_head_registry_and_loss():
    init_default_scope('mmpretrain')
    head = CLS_MODELS.build(dict(type='mmv3.DropoutLinearClsHead', num_classes=5, in_channels=16,
                                 loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
    assert isinstance(head, DropoutLinearClsHead)
    samples = [DataSample().set_gt_label(i) for i in (0, 3)]
    feats = (torch.randn(2, 16, requires_grad=True), )
    losses = head.loss(feats, samples)
    losses['loss'].backward()
    assert losses['loss'].item() > 0 and feats[0].grad is not None
    preds = head.predict(feats)
    assert len(preds) == 2 and preds[0].pred_score.shape == (5, )


@pytest.mark.parametrize('bad', [1.0, -0.1, 0.8 + 1, '0.2', True])
def test_dropout_linear_head_bad_rate(bad):
    with pytest.raises(ValueError, match='dropout_rate'):
        DropoutLinearClsHead(num_classes=10, in_channels=8, dropout_rate=bad)
