## Streaming kernel of the elementwise tunable: out = alpha * x + y over n contiguous elements.
## Parameters: each work-item handles EPT elements in vectors of VW; LAYOUT "interleaved" strides
## the vectors by the global size (coalesced, suits GPUs), "blocked" gives each work-item one
## contiguous run (suits CPUs). Any local size works: indices come from the global size, and every
## access is bounds-checked, so the host may pad the global size to whole work-groups.
<%
    half = T == "half"
    def vld(ptr, idx):
        if half:
            return "vload_half%s(0, %s + %s)" % ("" if VW == 1 else VW, ptr, idx)
        return vload(T, VW, "%s + %s" % (ptr, idx))
    def vst(val, ptr, idx):
        if half:
            return "vstore_half%s_rte(%s, 0, %s + %s);" % ("" if VW == 1 else VW, val, ptr, idx)
        return vstore(T, VW, val, "%s + %s" % (ptr, idx))
    def sload(ptr, idx):
        return ("vload_half(0, %s + %s)" % (ptr, idx)) if half else "%s[%s]" % (ptr, idx)
    def sstore(val, ptr, idx):
        return ("vstore_half_rte(%s, 0, %s + %s)" % (val, ptr, idx)) if half else \
            "%s[%s] = %s" % (ptr, idx, val)
    CV = C if VW == 1 else "%s%d" % (C, VW)
%>
${prelude}
% if VW not in (1, 2, 4, 8, 16):
#error "tune_stream: vector width VW=${VW} is not one of 1, 2, 4, 8, 16"
% elif LAYOUT not in ("interleaved", "blocked"):
#error "tune_stream: LAYOUT=${LAYOUT} is neither interleaved nor blocked"
% elif EPT % VW != 0:
#error "tune_stream: EPT=${EPT} is not a multiple of VW=${VW}"
% else:
#define NVEC ${EPT // VW}

__kernel void ${name}(__global ${T} *out, const long out_off, const ${C} alpha,
                      __global const ${T} *x, const long x_off,
                      __global const ${T} *y, const long y_off, const long n)
{
    const long gid = (long)get_global_id(0);
    __global ${T} *o = out + out_off;
    __global const ${T} *xs = x + x_off;
    __global const ${T} *ys = y + y_off;
% if LAYOUT == "interleaved":
    const long gsize = (long)get_global_size(0);
% endif
    for (int k = 0; k < NVEC; ++k) {
% if LAYOUT == "interleaved":
        const long e = (gid + (long)k * gsize) * ${VW};
% else:
        const long e = (gid * NVEC + k) * ${VW};
% endif
% if VW == 1:
        if (e < n) {
            const ${C} r = alpha * (${C})${sload("xs", "e")} + (${C})${sload("ys", "e")};
            ${sstore("r", "o", "e")};
        }
% else:
        if (e + ${VW} <= n) {
            const ${CV} r = alpha * ${vld("xs", "e")} + ${vld("ys", "e")};
            ${vst("r", "o", "e")}
        } else {
            for (long i = e; i < n; ++i) {   /* the ragged tail */
                const ${C} r = alpha * (${C})${sload("xs", "i")} + (${C})${sload("ys", "i")};
                ${sstore("r", "o", "i")};
            }
        }
% endif
    }
}
% endif
