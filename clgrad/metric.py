"""``clgrad.metric``: MXNet 1.x's name for ``clgrad.gluon.metric`` (``mx.metric``)."""
from .gluon.metric import *  # noqa: F401,F403
from .gluon.metric import __all__  # noqa: F401
