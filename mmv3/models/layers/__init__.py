from .conv2d_same import Conv2dSame, Conv2dSameEven, same_pad_total
from .conv_module import ConvModule, build_act
from .inverted_residual import DepthwiseSeparable, InvertedResidual
from .make_divisible import make_divisible
from .q_sigmoid import QSigmoid
from .se_layer import SELayer

__all__ = ['Conv2dSame', 'Conv2dSameEven', 'same_pad_total', 'ConvModule', 'build_act', 'DepthwiseSeparable',
           'InvertedResidual', 'make_divisible', 'QSigmoid', 'SELayer']
