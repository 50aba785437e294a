from . import backbones, decode_heads, heads, layers, task_modules  # noqa: F401
