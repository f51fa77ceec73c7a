"""``clgrad.gluon.rnn``: MXNet 2.x Gluon's recurrent cells (stepped one time step at a time or
unrolled) and recurrent layers (RNN, LSTM, GRU over whole sequences)."""
from .rnn_cell import *
from .rnn_layer import *
