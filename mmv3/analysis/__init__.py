from .complexity import CONVENTIONS, count_model, count_params

__all__ = ['CONVENTIONS', 'count_model', 'count_params']
