"""A stand-in for pandas where it is not installed (``tests/d2l/nbrun.py`` puts this folder
last on ``sys.path``): d2l's library imports it; only chapters that read data sets with it
(Kaggle's house prices, ...) use it, and none checked here does."""


def __getattr__(name):
    raise AttributeError(f"pandas.{name}: pandas is not installed (tests/d2l's stand-in)")
