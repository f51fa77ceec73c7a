"""A test-only stand-in for the ``d2l`` library (``from d2l import mxnet as d2l``): just the
helpers that the Preliminaries chapters call. The real library imports MXNet and Gluon, so it
cannot run on clgrad; ``tests/d2l/nbrun.py`` puts this package first on ``sys.path``.

``d2l.mxnet`` and ``d2l.clgrad`` are the same helpers: the chapters run under MXNet as written
and under clgrad with ``mxnet`` replaced by ``clgrad``, which turns the import into
``from d2l import clgrad as d2l``.
"""
