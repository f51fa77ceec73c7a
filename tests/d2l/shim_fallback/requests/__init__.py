"""A stand-in for requests where it is not installed (``tests/d2l/nbrun.py`` puts this folder
last on ``sys.path``): d2l's library imports it; only ``d2l.download`` uses it, and no chapter
checked here downloads."""


def __getattr__(name):
    raise AttributeError(f"requests.{name}: requests is not installed (tests/d2l's stand-in)")
