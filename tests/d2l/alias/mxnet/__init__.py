"""``mxnet`` as another name for ``clgrad``, for the d2l library (``lib/d2l/mxnet.py``), which
imports ``mxnet`` and is kept unchanged. Only the clgrad runs put this folder on ``sys.path``.

``import mxnet`` gives the ``clgrad`` package itself, and every ``clgrad.X`` module is also
``mxnet.X`` in ``sys.modules`` (``import clgrad`` loads every module the library names, Gluon's
included), so that ``from mxnet.gluon.data.vision import transforms`` finds
``clgrad.gluon.data.vision.transforms``.
"""
import sys

import clgrad

for _name, _module in list(sys.modules.items()):
    if _name.startswith("clgrad."):
        sys.modules["mxnet" + _name[len("clgrad"):]] = _module
sys.modules[__name__] = clgrad
