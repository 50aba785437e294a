import torch.nn as nn
import torch.nn.functional as F

from mmv3.registry import MODELS


@MODELS.register_module()
class QSigmoid(nn.Module):
    """``relu6(x + 3) * scale``: the hard sigmoid of TensorFlow's reference MobileNetV3 code.

    TF slim's ``nets/mobilenet/mobilenet_v3.py`` gates its Squeeze-and-Excite blocks with
    ``tf.nn.relu6(x+3)*0.16667`` and DeepLab's ``core/utils.py`` defines ``q_sigmoid`` the same way
    (``--image_se_uses_qsigmoid``: the LR-ASPP gate of the released Cityscapes models). ``0.16667`` is not
    ``1/6``: the gate saturates at 1.00002, not 1, a relative difference of 2e-5 in every gated channel, which
    adds up over the SE blocks to more than the 1e-5 agreement the converted checkpoints are held to
    (``tests/test_converter_tf1.py``). ``type='mmv3.QSigmoid'`` in a ``gate_cfg`` / ``act_cfg``.

    Args:
        scale (float): The factor after ``relu6(x + 3)``. Default: 0.16667 (TF's constant; ``1 / 6`` is
            PyTorch's ``nn.Hardsigmoid``).
        inplace (bool): Accepted for mmcv's activation interface; the op is never in place.
    """

    def __init__(self, scale=0.16667, inplace=False):
        super().__init__()
        self.scale = float(scale)

    def forward(self, x):
        return F.relu6(x + 3.0) * self.scale

    def extra_repr(self):
        return f'scale={self.scale}'
