"""Trained weights that convert exactly into an mmv3 config: source, the source's published accuracy,
and the commands (optional ``row``: the README table's row column, default "no row (variant)").
Read by :mod:`mmv3.analysis.model_index` (metafile ``Results`` / ``Converted From``) and mirrored in
README.md's "Weights" section.

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
    # TF slim's released ImageNet classifiers (research/slim/nets/mobilenet/README.md; top-1 as that README
    # reports it). tests/test_converter_tf1.py: the converted model computes slim's logits (random-weight fixtures
    # from the reference code) and the released variable sets convert into these configs.
    'mobilenet-v3-large_tf-slim_in1k': dict(
        source='TF slim (research/slim/nets/mobilenet) v3-large_224_1.0_float',
        weights='https://storage.googleapis.com/mobilenet_v3/checkpoints/v3-large_224_1.0_float.tgz',
        training_data='ImageNet-1k',
        task='Image Classification',
        dataset='ImageNet-1k val',
        metrics={'Top 1 Accuracy (TF slim)': 75.2},
        convert=('python tools/model_converters/tf2mmv3.py v3-large_224_1.0_float/ema '
                 'mobilenet-v3-large_tf-slim.pth --source slim --arch large'),
        test=('python tools/test.py configs/cls/mobilenet-v3-large_tf-slim_in1k.py '
              'mobilenet-v3-large_tf-slim.pth'),
    ),
    'mobilenet-v3-large-075_tf-slim_in1k': dict(
        source='TF slim (research/slim/nets/mobilenet) v3-large_224_0.75_float',
        weights='https://storage.googleapis.com/mobilenet_v3/checkpoints/v3-large_224_0.75_float.tgz',
        training_data='ImageNet-1k',
        task='Image Classification',
        dataset='ImageNet-1k val',
        metrics={'Top 1 Accuracy (TF slim)': 73.3},
        convert=('python tools/model_converters/tf2mmv3.py v3-large_224_0.75_float/ema '
                 'mobilenet-v3-large-075_tf-slim.pth --source slim --arch large'),
        test=('python tools/test.py configs/cls/mobilenet-v3-large-075_tf-slim_in1k.py '
              'mobilenet-v3-large-075_tf-slim.pth'),
    ),
    'mobilenet-v3-small_tf-slim_in1k': dict(
        source='TF slim (research/slim/nets/mobilenet) v3-small_224_1.0_float',
        weights='https://storage.googleapis.com/mobilenet_v3/checkpoints/v3-small_224_1.0_float.tgz',
        training_data='ImageNet-1k',
        task='Image Classification',
        dataset='ImageNet-1k val',
        metrics={'Top 1 Accuracy (TF slim)': 67.5},
        convert=('python tools/model_converters/tf2mmv3.py v3-small_224_1.0_float/ema '
                 'mobilenet-v3-small_tf-slim.pth --source slim --arch small'),
        test=('python tools/test.py configs/cls/mobilenet-v3-small_tf-slim_in1k.py '
              'mobilenet-v3-small_tf-slim.pth'),
    ),
    'mobilenet-v3-small-075_tf-slim_in1k': dict(
        source='TF slim (research/slim/nets/mobilenet) v3-small_224_0.75_float',
        weights='https://storage.googleapis.com/mobilenet_v3/checkpoints/v3-small_224_0.75_float.tgz',
        training_data='ImageNet-1k',
        task='Image Classification',
        dataset='ImageNet-1k val',
        metrics={'Top 1 Accuracy (TF slim)': 65.4},
        convert=('python tools/model_converters/tf2mmv3.py v3-small_224_0.75_float/ema '
                 'mobilenet-v3-small-075_tf-slim.pth --source slim --arch small'),
        test=('python tools/test.py configs/cls/mobilenet-v3-small-075_tf-slim_in1k.py '
              'mobilenet-v3-small-075_tf-slim.pth'),
    ),
    # DeepLab's released LR-ASPP Cityscapes models (research/deeplab/g3doc/model_zoo.md; val mIoU at output
    # stride 32, single scale, as the zoo reports it): not Table 7 rows 8 / 11 (the configs list the flags).
    'lraspp_v3_large_tf-deeplab_cityscapes': dict(
        source='DeepLab model zoo (research/deeplab/g3doc/model_zoo.md) deeplab_mnv3_large_cityscapes_trainfine',
        weights='http://download.tensorflow.org/models/deeplab_mnv3_large_cityscapes_trainfine_2019_11_15.tar.gz',
        training_data='Cityscapes train_fine (from scratch, no ImageNet)',
        task='Semantic Segmentation',
        dataset='Cityscapes val',
        metrics={'mIoU (DeepLab model zoo)': 72.41},
        convert=('python tools/model_converters/tf2mmv3.py deeplab_mnv3_large_cityscapes_trainfine/model.ckpt '
                 'lraspp_v3_large_tf-deeplab.pth --source deeplab --arch large'),
        test=('python tools/test.py configs/seg/lraspp_v3_large_tf-deeplab_cityscapes.py '
              'lraspp_v3_large_tf-deeplab.pth'),
    ),
    'lraspp_v3_small_tf-deeplab_cityscapes': dict(
        source='DeepLab model zoo (research/deeplab/g3doc/model_zoo.md) deeplab_mnv3_small_cityscapes_trainfine',
        weights='http://download.tensorflow.org/models/deeplab_mnv3_small_cityscapes_trainfine_2019_11_15.tar.gz',
        training_data='Cityscapes train_fine (from scratch, no ImageNet)',
        task='Semantic Segmentation',
        dataset='Cityscapes val',
        metrics={'mIoU (DeepLab model zoo)': 68.99},
        convert=('python tools/model_converters/tf2mmv3.py deeplab_mnv3_small_cityscapes_trainfine/model.ckpt '
                 'lraspp_v3_small_tf-deeplab.pth --source deeplab --arch small'),
        test=('python tools/test.py configs/seg/lraspp_v3_small_tf-deeplab_cityscapes.py '
              'lraspp_v3_small_tf-deeplab.pth'),
    ),
}
# Keras applications' MobileNetV3Large / MobileNetV3Small (alpha 1.0): the TF checkpoints ported to Keras, the
# files keras.applications downloads. Accuracy: Keras' table in the MobileNetV3 docstring of
# keras/src/applications/mobilenet_v3.py (Keras' number; measured by Keras / TF, not here).
for _arch, _top1 in (('large', 75.6), ('small', 68.1)):
    _file = f'weights_mobilenet_v3_{_arch}_224_1.0_float.h5'
    CONVERTED[f'mobilenet-v3-{_arch}_keras-in1k'] = dict(
        source=f'keras.applications.MobileNetV3{_arch.capitalize()}(weights="imagenet") (alpha 1.0)',
        weights=f'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/{_file}',
        training_data='ImageNet-1k',
        task='Image Classification',
        dataset='ImageNet-1k',
        metrics={'Top 1 Accuracy (Keras)': _top1},
        # the README table's row column: the architecture of Table 3's row, TF-trained (TF padding)
        row=f'Table 3 V3-{_arch.capitalize()} 1.0 architecture, pad_type=keras',
        convert=f'python tools/model_converters/keras2mmv3.py {_file} mobilenet-v3-{_arch}_keras_mmv3.pth '
                f'--arch {_arch}',
        test=f'python tools/test.py configs/cls/mobilenet-v3-{_arch}_keras-in1k.py mobilenet-v3-{_arch}_keras_mmv3.pth',
    )
del _arch, _top1, _file
