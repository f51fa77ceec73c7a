"""The oracle's comparison can fail (runs without MXNet)."""
from compare import differences, mismatch


def arr(value, dtype="float32"):
    return {"kind": "array", "dtype": dtype, "shape": [len(value)], "value": value}


def test_mismatch_finds_each_kind_of_difference():
    assert mismatch(arr([1.0, 2.0]), arr([1.0, 2.0])) is None
    assert "dtype" in mismatch(arr([1.0]), arr([1.0], "float64"))
    assert "values" in mismatch(arr([1.0, 2.0]), arr([1.0, 2.1]))
    assert mismatch(arr(["nan"]), arr(["nan"])) is None
    err = {"kind": "error", "category": ["ValueError"]}
    assert mismatch(err, {"kind": "error", "category": ["MXNetError", "ValueError"]}) is None
    assert "not caught" in mismatch(err, {"kind": "error", "category": ["MXNetError"]})
    assert "raised" in mismatch(err, arr([1.0]))
    pair = {"kind": "tuple", "items": [arr([1.0]), arr([2.0])]}
    assert "item 1" in mismatch(pair, {"kind": "tuple", "items": [arr([1.0]), arr([3.0])]})


def test_differences_reports_missing_and_uncaught():
    mx = {"s": [["a", arr([1.0])], ["b", arr([2.0])]]}
    cl = {"s": [["a", arr([1.0])], ["(uncaught)", {"kind": "error", "category": ["TypeError"]}]]}
    d = differences(mx, cl)
    assert set(d) == {("s", "b"), ("s", "(uncaught)")}
