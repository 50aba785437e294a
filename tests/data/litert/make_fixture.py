"""Write tests/data/litert/hswish_int8.tflite: a tiny int8 LiteRT model with int8 HARD_SWISH ops.

Run in the LiteRT converter environment (litert-torch, numpy 2; ``python tools/deployment/install_litert_env.py``):

    <env>/bin/python tests/data/litert/make_fixture.py

The model (conv 3->8 + h-swish, 1x1 conv 8->16 + h-swish, depthwise 3x3 + h-swish, SE-like mean + 1x1 convs +
hard-sigmoid gate, 1x1 conv 16->8, residual add, global mean, linear 8->5: a MobileNetV3 bneck) is quantized by
litert-torch's PT2E quantizer (per-channel weights, calibrated on 8 seeded normal inputs; ``fold_quantize=False``)
and saved with int8 input / output, as the converter writes it: the h-swish after the 1x1 expansion becomes an
int8 ``HARD_SWISH`` (the others stay float between dequantize / quantize). tests/test_deploy_litert.py runs
mmv3.deploy.tflite_graph's passes on it without the converter environment.
"""
import os.path as osp

import torch
import torch.nn as nn

HERE = osp.dirname(osp.abspath(__file__))


class Tiny(nn.Module):

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.expand = nn.Conv2d(8, 16, 1)
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
        self.se1, self.se2 = nn.Conv2d(16, 8, 1), nn.Conv2d(8, 16, 1)
        self.pw = nn.Conv2d(16, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = nn.functional.hardswish(self.stem(x))
        y = nn.functional.hardswish(self.expand(x))  # (its only consumer is the depthwise conv: int8 h-swish)
        y = nn.functional.hardswish(self.dw(y))
        g = nn.functional.hardsigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        y = self.pw(y * g) + x
        return (self.fc(y.mean((2, 3))), )


def main():
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer, quant_config
    from torchao.quantization.pt2e import quantize_pt2e
    torch.manual_seed(0)
    model = Tiny().eval()
    example = (torch.zeros(1, 3, 16, 16), )
    m = torch.export.export(model, example).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    m = quantize_pt2e.prepare_pt2e(m, quantizer)
    g = torch.Generator().manual_seed(1)
    for _ in range(8):
        m(torch.randn(1, 3, 16, 16, generator=g))
    m = quantize_pt2e.convert_pt2e(m, fold_quantize=False)
    path = osp.join(HERE, 'hswish_int8.tflite')
    litert_torch.convert(m, example, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer)).export(path)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
