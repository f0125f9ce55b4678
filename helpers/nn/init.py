"""Weight initialisers ``(fan_in, fan_out, rng, dtype) -> W`` of shape ``(fan_in, fan_out)``.

Samples are drawn in float64 and then cast, so a float32 and a float64 model built
with the same seed start from the same (rounded) weights. Biases start at zero.
"""

import numpy as np


def _scaled_normal(fan_in, fan_out, rng, dtype, std):
    return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)


def he(fan_in, fan_out, rng, dtype=np.float32):
    """He/Kaiming normal, std ``sqrt(2 / fan_in)``: suited to ReLU."""
    return _scaled_normal(fan_in, fan_out, rng, dtype, np.sqrt(2.0 / fan_in))


def xavier(fan_in, fan_out, rng, dtype=np.float32):
    """Glorot/Xavier normal, std ``sqrt(2 / (fan_in + fan_out))``: suited to tanh/sigmoid."""
    return _scaled_normal(fan_in, fan_out, rng, dtype, np.sqrt(2.0 / (fan_in + fan_out)))


def small_normal(fan_in, fan_out, rng, dtype=np.float32):
    """The seed notebooks' ``randn / 1000``: std ``1e-3`` regardless of layer size."""
    return _scaled_normal(fan_in, fan_out, rng, dtype, 1e-3)


INITIALIZERS = {"he": he, "xavier": xavier, "small_normal": small_normal}
