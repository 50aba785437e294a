from . import backbones, decode_heads, dense_heads, heads, layers, necks, task_modules  # noqa: F401
