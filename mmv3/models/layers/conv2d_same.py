import torch.nn as nn
import torch.nn.functional as F

PAD_TYPES = ('', 'same', 'keras')


def same_pad_total(size, kernel_size, stride, dilation):
    """TensorFlow ``padding='SAME'``: the total padding of one spatial axis of length ``size``.

    ``max((ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)``, written as
    ``(k - 1) * d - (size - 1) % s`` (equal whenever that is >= 0, which holds for every
    ``(k - 1) * d >= s - 1``), so that a traced ``size`` keeps it a graph expression and a
    dynamic-shape ONNX export computes the padding per input instead of freezing it.
    TF puts ``total // 2`` before and the rest after: at stride 2 an even size gets one
    more pixel after than before, an odd size is padded symmetrically.
    """
    eff = (kernel_size - 1) * dilation
    if eff >= stride - 1:
        return eff - (size - 1) % stride
    return max(eff - (size - 1) % stride, 0)


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's ``'SAME'`` padding, computed from the input size at run time.

    The input is zero-padded with ``F.pad`` (an ONNX ``Pad``; its amounts follow the input's
    shape in a dynamic export), ``total // 2`` before and the rest after on each axis, then
    convolved without padding. Same parameters (``weight``, ``bias``) and arguments as
    ``nn.Conv2d``; ``padding`` must be 0 (it is what ``F.pad`` adds).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int]): Kernel size.
        stride (int | tuple[int]): Stride. Default: 1.
        padding (int): Must be 0. Default: 0.
        dilation (int | tuple[int]): Dilation. Default: 1.
        groups (int): Groups. Default: 1.
        bias (bool): Whether the conv has a bias. Default: True.
        padding_mode (str): Must be ``'zeros'`` (TF pads with zeros). Default: ``'zeros'``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode='zeros'):
        if padding not in (0, (0, 0)) or padding_mode != 'zeros':
            raise ValueError(f'Conv2dSame pads at run time: padding must be 0 and padding_mode "zeros", got '
                             f'{padding!r}, {padding_mode!r}')
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias)

    def same_padding(self, height, width):
        """``(left, right, top, bottom)`` for an input of ``height`` x ``width`` (``F.pad`` order)."""
        ph = same_pad_total(height, self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = same_pad_total(width, self.kernel_size[1], self.stride[1], self.dilation[1])
        return [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]

    def forward(self, x):
        return super().forward(F.pad(x, self.same_padding(x.shape[-2], x.shape[-1])))


class Conv2dSameEven(Conv2dSame):
    """:class:`Conv2dSame` whose padding is that of an input size divisible by the stride, whatever the size.

    A constant padding: ``total = (k - 1) * d - (s - 1)`` (``same_pad_total`` of a size ``n`` with
    ``n % s == 0``), ``total // 2`` before and the rest after; at stride 2 and kernel 3 / 5 that is
    ``(0, 1)`` / ``(1, 2)``. This is what Keras applications (MobileNet, MobileNetV2, MobileNetV3) put
    before their strided depthwise convs, ``ZeroPadding2D(correct_pad(x, k))`` + a VALID conv, in a
    model built without a fixed input shape (``input_shape=None``, the default): ``correct_pad`` then
    assumes an even size. It equals TF SAME whenever the input size is even (e.g. every strided
    depthwise conv of a 224x224 input) and pads one pixel less before it at odd sizes (the output
    is then one pixel smaller). Same parameters and arguments as :class:`Conv2dSame`.
    """

    def same_padding(self, height, width):
        """``(left, right, top, bottom)``: TF SAME's for a size divisible by the stride (constant)."""
        ph = same_pad_total(self.stride[0], self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = same_pad_total(self.stride[1], self.kernel_size[1], self.stride[1], self.dilation[1])
        return [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]
