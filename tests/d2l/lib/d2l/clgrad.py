"""``from d2l import clgrad as d2l``: d2l's MXNet library (``mxnet.py``, unchanged) on clgrad.

Not part of d2l. A chapter's cells run on clgrad with ``mxnet`` replaced by ``clgrad``, which
turns ``from d2l import mxnet as d2l`` into this import; ``tests/d2l/alias`` (on ``sys.path``
for the clgrad runs) makes the library's own ``from mxnet import ...`` import clgrad. This module
becomes ``d2l.mxnet`` itself, so both names are one library.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("d2l.mxnet")
