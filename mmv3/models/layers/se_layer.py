import torch.nn as nn

from .conv_module import ConvModule


class SELayer(nn.Module):
    """Squeeze-and-Excite: global pool -> 1x1 conv + act -> 1x1 conv + gate -> scale.

    Both 1x1 convs have biases and no norm (as in the paper's reference models).

    Args:
        channels (int): Channels of the input (the expanded representation).
        squeeze_channels (int): Width of the bottleneck.
        act_cfg (dict): Activation after the first conv. Default: ReLU.
        gate_cfg (dict): The gate. Default: hard-sigmoid (MobileNetV3); MnasNet uses Sigmoid.
    """

    def __init__(self, channels, squeeze_channels, act_cfg=dict(type='ReLU'),
                 gate_cfg=dict(type='HSigmoid')):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, squeeze_channels, 1, norm_cfg=None, act_cfg=act_cfg)
        self.conv2 = ConvModule(squeeze_channels, channels, 1, norm_cfg=None, act_cfg=gate_cfg)

    def forward(self, x):
        return x * self.conv2(self.conv1(self.pool(x)))
