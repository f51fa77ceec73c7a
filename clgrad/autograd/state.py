"""Thread-local recording and training flags, and the scopes that set them.

As in MXNet, the default is not recording and predict mode. Every scope restores the previous
values on exit, also when its body raises (KeyboardInterrupt included).
"""
import threading

_tls = threading.local()


def is_recording():
    return getattr(_tls, "recording", False)


def is_training():
    return getattr(_tls, "training", False)


def set_recording(is_recording):
    """Set the recording flag; returns the previous value."""
    prev = getattr(_tls, "recording", False)
    _tls.recording = bool(is_recording)
    return prev


def set_training(train_mode):
    """Set the training flag; returns the previous value."""
    prev = getattr(_tls, "training", False)
    _tls.training = bool(train_mode)
    return prev


class _RecordingStateScope:
    """Sets whichever of the two flags is not None, and restores both on exit."""

    __slots__ = ("_enter_record", "_enter_train", "_prev_record", "_prev_train")

    def __init__(self, is_record, train_mode):
        self._enter_record = is_record
        self._enter_train = train_mode
        self._prev_record = None
        self._prev_train = None

    def __enter__(self):
        self._prev_record = is_recording()
        self._prev_train = is_training()
        if self._enter_record is not None:
            set_recording(self._enter_record)
        if self._enter_train is not None:
            set_training(self._enter_train)
        return self

    def __exit__(self, *exc):
        _tls.recording = self._prev_record
        _tls.training = self._prev_train
        return False


def record(train_mode=True):
    """Record the operations in this scope for backward; ``train_mode`` sets the training flag."""
    return _RecordingStateScope(True, train_mode)


def pause(train_mode=False):
    """Stop recording inside this scope (for updates and metrics inside a ``record`` block)."""
    return _RecordingStateScope(False, train_mode)


def train_mode():
    """Training behaviour (dropout, batch statistics) without touching the recording flag."""
    return _RecordingStateScope(None, True)


def predict_mode():
    """Prediction behaviour without touching the recording flag."""
    return _RecordingStateScope(None, False)
