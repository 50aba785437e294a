# tiny_cls.py plus fault-injection hooks (tests/data/mmv3_test_faults.py). They do nothing
# unless the environment variables they read are set, so runs with and without a fault share
# one config.
_base_ = './tiny_cls.py'
custom_imports = dict(
    imports=['mmv3', 'mmv3.models', 'mmv3.engine', 'mmv3_test_faults'], allow_failed_imports=False)
train_cfg = dict(by_epoch=False, max_iters=6)
custom_hooks = [dict(type='mmv3.SleepAfterIterHook'), dict(type='mmv3.InjectNaNHook')]
default_hooks = dict(
    checkpoint=dict(type='mmv3.SafeCheckpointHook', by_epoch=False, interval=2,
                    backend_args=dict(backend='mmv3_test_slow_local')))
