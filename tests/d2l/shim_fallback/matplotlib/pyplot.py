"""A pyplot that draws nothing, for where matplotlib is not installed. It checks what matplotlib
would: data is converted with ``numpy.asarray(data, float)``, as matplotlib's lines do, and
must have at most 2 axes; x and y must have the same first dimension; scales, limits, labels,
line positions and legend entries must be of the right kind. ``plot`` returns one line per
data group, as matplotlib does (d2l's ProgressBoard passes them to ``legend``)."""
import numpy

rcParams = {"figure.figsize": (6.4, 4.8)}
_SCALES = ("linear", "log", "symlog", "logit")


def _data(v):
    a = numpy.asarray(v, dtype=float)      # what matplotlib's Line2D does with its data
    if a.ndim > 2:
        raise ValueError(f"plot data must have at most 2 axes, got shape {a.shape}")
    return a


def _real(v, what):
    a = numpy.asarray(v)
    if a.ndim != 0 or a.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be a real number, got {v!r}")
    return float(a)


class Line2D:
    def __init__(self, data, label=None):
        self.data, self.label = data, label


class Axes:
    def __init__(self):
        self.lines = []

    def plot(self, *args, **kwargs):
        args, added = list(args), len(self.lines)
        while args:     # groups of [x,] y [, fmt]
            group = []
            while args and not isinstance(args[0], str) and len(group) < 2:
                group.append(_data(args.pop(0)))
            if args and isinstance(args[0], str):
                args.pop(0)
            if not group:
                raise TypeError("plot: a format string with no data")
            if len(group) == 2 and group[0].shape[:1] != group[1].shape[:1]:
                raise ValueError(f"x and y must have same first dimension, but have shapes "
                                 f"{group[0].shape} and {group[1].shape}")
            self.lines.append(group)
        if "label" in kwargs and not isinstance(kwargs["label"], str):
            raise TypeError("label must be a string")
        return [Line2D(group, kwargs.get("label")) for group in self.lines[added:]]

    def axhline(self, y=0, xmin=0, xmax=1, **kwargs):
        _real(y, "y"), _real(xmin, "xmin"), _real(xmax, "xmax")

    def _label(self, label, **kwargs):
        if label is not None and not isinstance(label, str):
            raise TypeError(f"a label must be a string, got {label!r}")

    set_xlabel = set_ylabel = _label

    def _scale(self, value, **kwargs):
        if value not in _SCALES:
            raise ValueError(f"{value!r} is not a valid scale; supported: {_SCALES}")

    set_xscale = set_yscale = _scale

    def _lim(self, left=None, right=None, **kwargs):
        if right is None and isinstance(left, (tuple, list)):
            left, right = left
        for v in (left, right):
            if v is not None:
                _real(v, "an axis limit")

    set_xlim = set_ylim = _lim

    def legend(self, *args, **kwargs):
        """legend(labels) or legend(handles, labels)."""
        if len(args) == 2:
            handles, args = args[0], args[1:]
            if not all(isinstance(h, Line2D) for h in handles):
                raise TypeError("legend handles must be artists")
        if args and not all(isinstance(s, str) for s in args[0]):
            raise TypeError("legend labels must be strings")

    def grid(self, *args, **kwargs):
        pass

    def cla(self):
        self.lines = []


class Figure:
    def __init__(self, figsize=None):
        self.figsize = figsize or rcParams["figure.figsize"]
        self.axes = [Axes()]


_figures = [Figure()]


def figure(figsize=None, **kwargs):
    """A new figure, the current one from now on."""
    if figsize is not None and len(figsize) != 2:
        raise ValueError(f"figsize must be (width, height), got {figsize!r}")
    _figures.append(Figure(figsize))
    return _figures[-1]


def gca():
    return _figures[-1].axes[0]


def close(fig=None):
    """Closes every figure (a new one is current)."""
    _figures[:] = [Figure()]


def plot(*args, **kwargs):
    return gca().plot(*args, **kwargs)


def axhline(*args, **kwargs):
    return gca().axhline(*args, **kwargs)


def legend(*args, **kwargs):
    return gca().legend(*args, **kwargs)


def xlabel(label, **kwargs):
    return gca().set_xlabel(label)


def ylabel(label, **kwargs):
    return gca().set_ylabel(label)


def show(*args, **kwargs):
    pass
