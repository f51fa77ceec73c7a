"""A stand-in for IPython where it is not installed (``tests/d2l/nbrun.py`` puts this folder
last on ``sys.path``): d2l's library imports ``IPython.display`` to show its training plots.
matplotlib, seeing a module named IPython, asks it for a shell and a version."""
version_info = (8, 24, 0)     # a current IPython: matplotlib patches nothing into it


def get_ipython():
    """The interactive shell: none, as in a plain Python process."""
    return None
