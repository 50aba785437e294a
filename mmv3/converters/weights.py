"""Trained weights that convert exactly into an mmv3 config: source, the source's published accuracy,
and the commands. Read by :mod:`mmv3.analysis.model_index` (metafile ``Results`` / ``Converted From``)
and mirrored in README.md's "Weights" section.

The accuracies are the sources' own numbers (their model cards), not re-measured here.
"""

CONVERTED = {
    'lraspp_mobilenet-v3-large_torchvision_coco-voc': dict(
        source='torchvision.models.segmentation.lraspp_mobilenet_v3_large (COCO_WITH_VOC_LABELS_V1)',
        weights='https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth',
        training_data='COCO train2017 (20 VOC categories + background)',
        task='Semantic Segmentation',
        dataset='COCO val2017 (VOC labels)',
        metrics={'mIoU (torchvision)': 57.9, 'pixel accuracy (torchvision)': 91.2},
        convert=('python tools/model_converters/torchvision2mmv3.py lraspp_mobilenet_v3_large-d234d4ea.pth '
                 'lraspp_tv_mmv3.pth --model lraspp_mobilenet_v3_large --verify'),
        test=('python tools/test.py configs/seg/lraspp_mobilenet-v3-large_torchvision_coco-voc.py '
              'lraspp_tv_mmv3.pth'),
    ),
    'ssdlite_mobilenet-v3-large_torchvision_coco': dict(
        source='torchvision.models.detection.ssdlite320_mobilenet_v3_large (COCO_V1)',
        weights='https://download.pytorch.org/models/ssdlite320_mobilenet_v3_large_coco-a79551df.pth',
        training_data='COCO train2017',
        task='Object Detection',
        dataset='COCO val2017',
        metrics={'box AP (torchvision)': 21.3},
        convert=('python tools/model_converters/torchvision2mmv3.py ssdlite320_mobilenet_v3_large_coco-a79551df.pth '
                 'ssdlite_tv_mmv3.pth --model ssdlite320_mobilenet_v3_large --verify'),
        test=('python tools/test.py configs/det/ssdlite_mobilenet-v3-large_torchvision_coco.py '
              'ssdlite_tv_mmv3.pth'),
    ),
}
