# tiny_cls.py on the ImageNet sample of tools/misc/make_sample_data.py (mmpretrain `ImageNet`
# dataset: class folders + meta/{train,val}.txt with the real 1000-class indices).
_base_ = './tiny_cls.py'
data_root = 'data/imagenet'
model = dict(head=dict(num_classes=1000))
data_preprocessor = dict(num_classes=1000)
train_dataloader = dict(
    batch_size=2,
    dataset=dict(type='ImageNet', data_root=data_root, split='train',
                 _delete_=True,
                 pipeline=[
                     dict(type='LoadImageFromFile'),
                     dict(type='Resize', scale=(32, 32)),
                     dict(type='PackInputs')
                 ]))
test_dataloader = dict(
    dataset=dict(type='ImageNet', data_root=data_root, split='val',
                 _delete_=True,
                 pipeline=[
                     dict(type='LoadImageFromFile'),
                     dict(type='Resize', scale=(32, 32)),
                     dict(type='PackInputs')
                 ]))
train_cfg = dict(max_iters=2)
