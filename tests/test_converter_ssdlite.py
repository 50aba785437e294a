"""torchvision's ssdlite320_mobilenet_v3_large -> configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py.

The reference is torchvision's own model, built live with random weights and random BN statistics (the architecture
its COCO_V1 weights load into: ``weights_backbone=None`` builds the reduced tail, as loading those weights does).
Checked: raw head outputs, anchors, box decoding, the network input from an image file, and the final detections of
mmdet's inference path against ``model([img])``."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmv3.converters import ConversionError, convert_ssdlite
from mmv3.converters.torchvision_dense import build_ssdlite, ssdlite_head_outputs, ssdlite_model_config
from mmv3.testing.random_weights import randomize_weights

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLI = osp.join(ROOT, 'tools', 'model_converters', 'torchvision2mmv3.py')
CFG = osp.join(ROOT, 'configs', 'det', 'ssdlite_mobilenet-v3-large_torchvision_coco.py')
IMG_HW = (237, 389)  # a non-square image: boxes go back to it with different x / y ratios
BACKGROUND_LOGIT = 9.0  # see tv_ssdlite
HIGH_SLOTS = (1, 3, 12, 18, 62, 90)  # torchvision slots = COCO category ids; 12 is "N/A"


def _tv_model():
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large
    return ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)


@pytest.fixture(scope='module')
def tv_ssdlite():
    """Random torchvision SSDLite whose predictions look like a trained detector's rather than near-uniform 1/91
    scores: class logits scaled to std 1.5 with the background logit raised by BACKGROUND_LOGIT (then ~50k
    (anchor, class) pairs of an image pass the 0.001 threshold, ~600 per class: the per-class top-300, NMS and the
    300-per-image cap all bind, scores up to ~0.1), and on the last (1x1) map each of the 6 anchors strongly
    predicts one slot of HIGH_SLOTS (scores > 0.5; slot 12 is an "N/A" id). Box regressions scaled to std 1."""
    torch.manual_seed(0)
    model = randomize_weights(_tv_model(), conv_gain=1.0)
    x = torch.rand(1, 3, 320, 320, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        ref = model.head(list(model.backbone(x).values()))
        for head, key, std in ((model.head.classification_head, 'cls_logits', 1.5),
                               (model.head.regression_head, 'bbox_regression', 1.0)):
            k = std / ref[key].std().item()
            for block in head.module_list:
                block[1].weight.mul_(k)
                block[1].bias.mul_(k)
        for block in model.head.classification_head.module_list:
            block[1].bias.view(6, 91)[:, 0] += BACKGROUND_LOGIT
        last = model.head.classification_head.module_list[-1][1].bias.view(6, 91)
        for anchor, slot in enumerate(HIGH_SLOTS):
            last[anchor, slot] += BACKGROUND_LOGIT + 4
    return model


@pytest.fixture(scope='module')
def converted(tv_ssdlite):
    out, slots = convert_ssdlite(tv_ssdlite.state_dict())
    return build_ssdlite(ssdlite_model_config(CFG), out)


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    """A PNG (lossless: both sides decode the same pixels) with blocky content plus noise."""
    from PIL import Image
    rng = np.random.default_rng(0)
    h, w = IMG_HW
    blocks = np.kron(rng.random((h // 8 + 1, w // 8 + 1, 3)), np.ones((8, 8, 1)))[:h, :w]
    img = ((0.7 * blocks + 0.3 * rng.random((h, w, 3))) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp('img') / 'img.png'
    Image.fromarray(img).save(path)
    return str(path)


def _tv_input(path):
    """What torchvision's reference evaluation feeds the model: PIL RGB -> float in [0, 1]."""
    import torchvision.transforms.functional as TF
    from PIL import Image
    return TF.to_tensor(Image.open(path).convert('RGB'))


def test_architecture_is_torchvisions(tv_ssdlite, converted):
    """Same tensors one to one (every source tensor read once, strict load), same parameter count as the live
    model and as torchvision's published count for the COCO_V1 weights."""
    from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights
    sd = tv_ssdlite.state_dict()
    assert len(converted.state_dict()) == len(sd)
    params = sum(p.numel() for p in converted.parameters())
    assert params == sum(p.numel() for p in tv_ssdlite.parameters())
    assert params == SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta['num_params']
    # the COCO weights' backbone is the reduced tail (bneck 14's expansion 480, final conv 480)
    assert sd['backbone.features.1.1.block.0.0.weight'].shape == (480, 80, 1, 1)
    assert converted.backbone.reduce_tail == 'dagger'


def test_raw_head_outputs_equal(tv_ssdlite, converted):
    x = torch.rand(2, 3, 320, 320, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        ref = tv_ssdlite.head(list(tv_ssdlite.backbone(x).values()))
        logits, deltas = ssdlite_head_outputs(converted, x)
    for got, want in ((logits, ref['cls_logits']), (deltas, ref['bbox_regression'])):
        assert got.shape == want.shape
        assert (got - want).abs().max() <= 1e-5 * want.abs().max()
    assert logits.shape == (2, 3234, 91)  # 6 anchors on each of 20x20, 10x10, 5x5, 3x3, 2x2, 1x1
    # background is slot 0 in torchvision, the last channel in mmdet: the permutation matters
    assert (ref['cls_logits'][..., 0].mean() - ref['cls_logits'][..., 1:].mean()) > 0.5 * BACKGROUND_LOGIT


def test_anchors_equal(tv_ssdlite, converted):
    from torchvision.models.detection.image_list import ImageList
    x = torch.zeros(1, 3, 320, 320)
    with torch.no_grad():
        feats = list(tv_ssdlite.backbone(x).values())
    ref = tv_ssdlite.anchor_generator(ImageList(x, [(320, 320)]), feats)[0]
    got = torch.cat(converted.bbox_head.prior_generator.grid_priors([f.shape[-2:] for f in feats], device='cpu'))
    assert torch.equal(got, ref)  # bitwise
    assert converted.bbox_head.prior_generator.num_base_priors == [6] * 6
    wh = ref[:, 2:] - ref[:, :2]
    assert wh.max() == 320  # relative sizes clipped to 1 (unclipped: 0.95 * sqrt(3) * 320 = 527)
    assert ref[:, :2].min() < 0 and ref[:, 2:].max() > 320  # centres are not clipped: boxes hang over the border


def test_box_decoding_equals_torchvisions():
    """DeltaXYWHBBoxCoder(stds 0.1, 0.1, 0.2, 0.2) + clipping = BoxCoder(10, 10, 5, 5) + clip_boxes_to_image,
    up to float rounding, including the exp clamp at log(1000 / 16); mmdet alone also clamps from below."""
    import math

    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.ops import clip_boxes_to_image
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(5000, 2, generator=g) * 320
    anchors = torch.cat([xy, xy + torch.rand(5000, 2, generator=g) * 300 + 1], 1)
    deltas = torch.randn(5000, 4, generator=g) * 2
    deltas[:10, 2:] = 30.0  # beyond the clamp: exp(log(1000 / 16)) for both
    ref = clip_boxes_to_image(BoxCoder(weights=(10., 10., 5., 5.)).decode_single(deltas, anchors), (320, 320))
    got = DeltaXYWHBBoxCoder(target_means=[0.] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]).decode(
        anchors, deltas, max_shape=(320, 320))
    assert (got - ref).abs().max() <= 1e-4
    assert BoxCoder(weights=(10., 10., 5., 5.)).bbox_xform_clip == abs(math.log(16 / 1000)) == math.log(1000 / 16)


def test_network_input_equals_torchvisions(tv_ssdlite, converted, image_file):
    """The config's test pipeline + data preprocessor give torchvision's transformed image (normalise-then-resize
    vs resize-then-normalise: float rounding only); mmdet's uint8 cv2 Resize would be ~100x further off."""
    from mmcv.transforms import Compose
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    cfg = Config.fromfile(CFG)
    with torch.no_grad():
        ref = tv_ssdlite.transform([_tv_input(image_file)])[0].tensors

    def network_input(pipeline):
        data = Compose(pipeline)(dict(img_path=image_file, img_id=0))
        return converted.data_preprocessor(pseudo_collate([data]), False)['inputs']
    diff = (network_input(cfg.test_pipeline) - ref).abs().max().item()
    assert diff <= 1e-6
    uint8 = [dict(p) for p in cfg.test_pipeline]
    uint8[1] = dict(type='Resize', scale=(320, 320), keep_ratio=False)
    assert (network_input(uint8) - ref).abs().max().item() > 100 * max(diff, 1e-7)


def _compare(tv_model, mm_model, image_file):
    """torchvision's model([img]) vs mmdet's inference_detector on the same file: same detections, same order."""
    from mmdet.apis import inference_detector
    from mmengine.config import Config
    mm_model.cfg = Config.fromfile(CFG)
    with torch.no_grad():
        ref = tv_model([_tv_input(image_file)])[0]
    got = inference_detector(mm_model, image_file).pred_instances
    category_ids = torch.tensor(mm_model.bbox_head.label_slots) + 1  # mmdet label -> COCO category id
    coco = torch.isin(ref['labels'], category_ids)  # torchvision also outputs its 10 "N/A" slots
    assert got.labels.shape == (int(coco.sum()), )
    assert torch.equal(category_ids[got.labels], ref['labels'][coco])
    assert (got.scores - ref['scores'][coco]).abs().max() <= 1e-5 * ref['scores'].max()
    assert (got.bboxes - ref['boxes'][coco]).abs().max() <= 1e-3  # pixels (~1e-5 relative to the image)
    return ref, coco


def test_detections_equal_torchvisions(tv_ssdlite, converted, image_file):
    ref, coco = _compare(tv_ssdlite, converted, image_file)
    boxes = ref['boxes'][coco]
    # a meaningful comparison: the 300 cap binds, the strong predictions lead, the "N/A" one is dropped
    assert len(ref['labels']) == 300 and sorted(ref['labels'][:6].tolist()) == list(HIGH_SLOTS)
    assert ref['scores'][5] > 0.5 and 12 not in ref['labels'][coco]
    assert boxes[:, 2].max() > 300 and boxes[:, 3].max() <= IMG_HW[0]  # mapped back per axis to 389 x 237
    # the caps: few candidates per class and per image; "N/A" slots compete for the 20 places, then are dropped
    tv_ssdlite.topk_candidates, tv_ssdlite.detections_per_img = 3, 20
    test_cfg = converted.bbox_head.test_cfg
    test_cfg['topk_per_class'], test_cfg['max_per_img'] = 3, 20
    try:
        ref, coco = _compare(tv_ssdlite, converted, image_file)
    finally:
        tv_ssdlite.topk_candidates, tv_ssdlite.detections_per_img = 300, 300
        test_cfg['topk_per_class'], test_cfg['max_per_img'] = 300, 300
    assert len(ref['labels']) == 20 and 0 < int(coco.sum()) < 20


def test_mmdet_postprocessing_would_differ(tv_ssdlite, converted, image_file):
    """Why the head has postprocess='torchvision': mmdet's own (the nms_pre best (anchor, class) pairs per level,
    no per-class limit) gives other detections for the same weights and thresholds."""
    import copy

    from mmdet.apis import inference_detector
    from mmengine.config import Config
    model = copy.deepcopy(converted)
    model.cfg = Config.fromfile(CFG)
    model.bbox_head.postprocess = 'mmdet'
    model.bbox_head.test_cfg = Config(dict(nms_pre=300, score_thr=0.001, nms=dict(type='nms', iou_threshold=0.55),
                                           min_bbox_size=0, max_per_img=300))
    with torch.no_grad():
        ref = tv_ssdlite([_tv_input(image_file)])[0]
    got = inference_detector(model, image_file).pred_instances
    category_ids = torch.tensor(model.bbox_head.label_slots) + 1
    coco = torch.isin(ref['labels'], category_ids)
    assert len(got) != int(coco.sum()) or not torch.allclose(got.bboxes, ref['boxes'][coco], atol=1e-3)


def test_label_slots_in_training(converted):
    """Ground-truth labels are mapped to their slots in the loss: label i == slot label_slots[i]."""
    import copy

    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    head = converted.bbox_head
    plain = copy.deepcopy(head)
    plain.label_slots = None
    feats = converted.extract_feat(torch.rand(1, 3, 320, 320, generator=torch.Generator().manual_seed(4)) * 2 - 1)
    meta = dict(img_shape=(320, 320), pad_shape=(320, 320), batch_input_shape=(320, 320))
    boxes = torch.tensor([[10., 20., 200., 180.], [150., 100., 300., 310.]])
    labels = torch.tensor([11, 79])  # stop sign (category id 13, slot 12), toothbrush (id 90, slot 89)

    def loss(h, lab):
        s = DetDataSample(metainfo=meta)
        s.gt_instances = InstanceData(bboxes=boxes, labels=lab)
        with torch.no_grad():
            return h.loss(feats, [s])
    got, ref = loss(head, labels), loss(plain, torch.tensor([12, 89]))
    assert torch.allclose(sum(got['loss_cls']), sum(ref['loss_cls']))
    assert not torch.allclose(sum(loss(plain, labels)['loss_cls']), sum(ref['loss_cls']))


def test_head_and_generator_arguments_checked():
    from mmv3.models.dense_heads import SSDLiteHead
    from mmv3.models.task_modules import SSDDefaultBoxGenerator
    cfg = ssdlite_model_config(CFG)['bbox_head']
    cfg.pop('type')
    with pytest.raises(ValueError, match='label_slots must be distinct'):
        SSDLiteHead(**dict(cfg, label_slots=[0, 0]))
    with pytest.raises(ValueError, match='label_slots must be distinct'):
        SSDLiteHead(**dict(cfg, label_slots=[90]))
    with pytest.raises(ValueError, match="postprocess='yolo' is not one of"):
        SSDLiteHead(**dict(cfg, postprocess='yolo'))
    with pytest.raises(ValueError, match='nms_pre is mmdet'):
        SSDLiteHead(**dict(cfg, test_cfg=dict(nms_pre=1000, score_thr=0.02, nms=dict(iou_threshold=0.45),
                                              max_per_img=200)))
    with pytest.raises(ValueError, match='aspect_ratios must list'):
        SSDDefaultBoxGenerator(aspect_ratios=[2, 3])
    with pytest.raises(ValueError, match='scales needs 3 values'):
        SSDDefaultBoxGenerator(aspect_ratios=[[2], [2]], scales=[0.1, 0.5])


def test_refusals(tv_ssdlite):
    import torchvision
    sd = tv_ssdlite.state_dict()
    with pytest.raises(ConversionError, match='not a torchvision ssdlite320_mobilenet_v3_large'):
        convert_ssdlite(torchvision.models.segmentation.lraspp_mobilenet_v3_large(
            weights=None, weights_backbone=None).state_dict())
    key = 'backbone.features.1.0.2.fc1.bias'  # bneck 13's SE, behind the C4 split
    with pytest.raises(ConversionError, match=f"'{key}' is missing"):
        convert_ssdlite({k: v for k, v in sd.items() if k != key})
    with pytest.raises(ConversionError, match='1 source tensors have no place'):
        convert_ssdlite(dict(sd, **{'backbone.extra.4.0.0.weight': torch.zeros(1)}))
    bad = dict(sd, **{'head.classification_head.module_list.5.1.weight': torch.zeros(6 * 21, 128, 1, 1)})
    with pytest.raises(ConversionError, match='not 6 anchors x the slots'):
        convert_ssdlite(bad)
    bad = dict(sd, **{'backbone.extra.0.2.0.weight': torch.zeros(512, 128, 1, 1)})
    out, _ = convert_ssdlite(bad)
    with pytest.raises(ConversionError, match='do not fit the mmv3 model'):
        build_ssdlite(ssdlite_model_config(CFG), out)


@pytest.mark.slow
def test_ssdlite_cli(tv_ssdlite, tmp_path, capsys):
    src = tmp_path / 'ssdlite.pth'
    torch.save(tv_ssdlite.state_dict(), src)
    res = subprocess.run([sys.executable, CLI, str(src), str(tmp_path / 'out.pth'), '--model',
                          'ssdlite320_mobilenet_v3_large', '--verify'], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count('verify: ') == 2
    ckpt = torch.load(tmp_path / 'out.pth', map_location='cpu', weights_only=False)
    assert set(ckpt['state_dict']) == set(build_ssdlite(ssdlite_model_config(CFG)).state_dict())

    # refusals, in-process as the tool's __main__ runs it: one line, exit 2, nothing written
    import importlib.util

    from mmv3.apis import run_cli
    sys.path.insert(0, osp.dirname(CLI))
    spec = importlib.util.spec_from_file_location('torchvision2mmv3', CLI)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    def refused(*args):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            run_cli(tool.main, 'torchvision2mmv3.py', [*map(str, args), str(tmp_path / 'x.pth')])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and not (tmp_path / 'x.pth').exists()
        return err
    (tmp_path / 'cut.pth').write_bytes(src.read_bytes()[:100000])  # a truncated download
    err = refused(tmp_path / 'cut.pth', '--model', 'ssdlite320_mobilenet_v3_large')
    assert 'is truncated' in err and err.count('\n') == 1
    import torchvision
    other = tmp_path / 'mnv3.pth'  # another model's checkpoint
    torch.save(torchvision.models.mobilenet_v3_large(weights=None).state_dict(), other)
    err = refused(other, '--model', 'ssdlite320_mobilenet_v3_large')
    assert 'not a torchvision ssdlite320_mobilenet_v3_large state dict' in err and err.count('\n') == 1
    assert "invalid choice: 'ssd300_vgg16'" in refused(src, '--model', 'ssd300_vgg16')


@pytest.mark.slow
def test_converted_ssdlite_runs_tools_test(tv_ssdlite, tmp_path):
    """The converted checkpoint + config evaluate with tools/test.py on the COCO-format sample data."""
    sys.path.insert(0, osp.join(ROOT, 'tests', 'data'))
    from mmv3_tool_helpers import run_tool

    from mmv3.testing import make_coco
    root = str(tmp_path / 'coco') + '/'
    make_coco(root, num_train=1, num_val=4, img_size=(180, 260), seed=0)
    out, _ = convert_ssdlite(tv_ssdlite.state_dict())
    ckpt = tmp_path / 'ssdlite_tv_mmv3.pth'
    torch.save(dict(state_dict=out, meta=dict(source='test')), ckpt)
    p = run_tool('test.py', [CFG, ckpt, '--work-dir', tmp_path / 'w', '--cfg-options',
                             f'test_dataloader.dataset.data_root={root}',
                             f'test_evaluator.ann_file={root}annotations/instances_val2017.json',
                             'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'])
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'coco/bbox_mAP:' in p.stdout + p.stderr
