def make_divisible(value, divisor=8, min_value=None, min_ratio=0.9):
    """Round ``value`` to the nearest multiple of ``divisor`` (the MobileNet/TF convention).

    The result is at least ``min_value`` (default: ``divisor``) and never more than
    ``1 - min_ratio`` (10%) below ``value``.

    Args:
        value (float): The unrounded channel count.
        divisor (int): The result is a multiple of this. Default: 8.
        min_value (int, optional): Lower bound. Default: ``divisor``.
        min_ratio (float): The result is at least ``min_ratio * value``. Default: 0.9.

    Returns:
        int: The rounded channel count.
    """
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return int(new_value)
