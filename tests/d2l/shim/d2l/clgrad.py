"""``from d2l import clgrad as d2l``: the shim's helpers (``d2l/_helpers.py``)."""
from ._helpers import plot, plt, set_axes, set_figsize, use_svg_display

__all__ = ["plot", "plt", "set_axes", "set_figsize", "use_svg_display"]
