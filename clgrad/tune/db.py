"""The per-device database of tuned kernel parameters that the runtime reads."""


def params_for(device, kernel, dtype, size_key, default):
    """Tuned parameters for ``kernel`` on ``device`` (dict), or ``default`` when none are stored.

    ``size_key`` is a small hashable describing the problem size bucket (e.g. "large").
    """
    return dict(default)
