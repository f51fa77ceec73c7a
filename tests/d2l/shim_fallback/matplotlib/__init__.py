"""A stand-in for matplotlib where it is not installed (``tests/d2l/nbrun.py`` puts this folder
last on ``sys.path``): d2l draws with ``matplotlib.pyplot``, and this one draws nothing but
checks its arguments as matplotlib would (``pyplot.py``)."""


def use(backend, force=True):
    """Choose a backend: there is only one, which draws nothing."""
