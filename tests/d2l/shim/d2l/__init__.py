"""A test-only stand-in for the ``d2l`` library (``from d2l import mxnet as d2l``): just the
helpers that the Preliminaries chapters call, which were checked before clgrad had Gluon.
``tests/d2l/nbrun.py`` puts this package first on ``sys.path``; with ``--library`` it puts
d2l's own library (``tests/d2l/lib``) there instead.

``d2l.mxnet`` and ``d2l.clgrad`` are the same helpers: the chapters run under MXNet as written
and under clgrad with ``mxnet`` replaced by ``clgrad``, which turns the import into
``from d2l import clgrad as d2l``.
"""
