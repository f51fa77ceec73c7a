"""The plotting helpers of d2l that the Preliminaries chapters call, as d2l defines them
(d2l-en 23d7a5ae, chapter_preliminaries/calculus.md, the book's sample-code license).

``plt`` is matplotlib's pyplot on the Agg backend when matplotlib is installed; otherwise it is
the stand-in in ``shim_fallback/matplotlib``, which only checks its arguments as matplotlib
would (data converted with ``numpy.asarray``, matching lengths, known scales) and draws nothing.
"""
import matplotlib
from matplotlib import pyplot as plt

matplotlib.use("Agg")

__all__ = ["plot", "plt", "set_axes", "set_figsize", "use_svg_display"]


def use_svg_display():
    """Use the svg format to display a plot in Jupyter (nothing to do on Agg)."""


def set_figsize(figsize=(3.5, 2.5)):
    """Set the figure size for matplotlib."""
    use_svg_display()
    plt.rcParams['figure.figsize'] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend):
    """Set the axes for matplotlib."""
    axes.set_xlabel(xlabel), axes.set_ylabel(ylabel)
    axes.set_xscale(xscale), axes.set_yscale(yscale)
    axes.set_xlim(xlim), axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def plot(X, Y=None, xlabel=None, ylabel=None, legend=[], xlim=None,  # noqa: B006 (d2l's)
         ylim=None, xscale='linear', yscale='linear',
         fmts=('-', 'm--', 'g-.', 'r:'), figsize=(3.5, 2.5), axes=None):
    """Plot data points."""

    def has_one_axis(X):  # True if X (tensor or list) has 1 axis
        return (hasattr(X, "ndim") and X.ndim == 1 or isinstance(X, list)
                and not hasattr(X[0], "__len__"))

    if has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)

    set_figsize(figsize)
    if axes is None:
        axes = plt.gca()
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts):
        axes.plot(x, y, fmt) if len(x) else axes.plot(y, fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
