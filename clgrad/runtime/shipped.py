"""Shipped kernel parameters: what the runtime uses on a device nobody has tuned yet.

Keyed ``"<vendor>/<type>"`` (vendor as ``tuning.normalize_vendor`` spells it, type cpu/gpu/
accelerator), then ``"*/<type>"``, then ``"*/*"``; below that kernel -> dtype (or ``"*"``) ->
size bucket (or ``"default"``) -> ``{"params": {...}}``, the same layout as a device's table in the
user database. Values are deliberately conservative: they must be good, not best, and every one is
still passed through the family's fit check before use.
"""


def _ew(ls, ept, vw, layout):
    return {"elementwise": {"*": {"default": {"params": {
        "LS": ls, "EPT": ept, "VW": vw, "LAYOUT": layout}}}}}


SHIPPED = {
    # GPUs: coalesced (interleaved) access, a few elements per work-item to hide latency.
    "NVIDIA/gpu": _ew(256, 4, 1, "interleaved"),
    "AMD/gpu": _ew(256, 4, 1, "interleaved"),
    "Intel/gpu": _ew(128, 4, 1, "interleaved"),
    "*/gpu": _ew(128, 4, 1, "interleaved"),
    # CPUs: each work-item streams a contiguous block with vector loads.
    "*/cpu": _ew(64, 16, 4, "blocked"),
    "*/*": _ew(64, 4, 1, "interleaved"),
}
