## Reduction over the "inner" (reduced) dimensions for each "outer" index, deterministic
## (fixed combination order, no atomics). The accumulator ``ACC`` is a scalar or a small struct
## (argmax's (value, index), logsumexp's (max, scaled sum), var's (count, mean, M2)); each kind
## supplies acc_init / acc_map / acc_combine / acc_final, so one skeleton serves every kind.
## Three layouts of the same family:
##   mode "group":  one work-group per (output, part); lanes stride over the part's range of k and
##                  combine through a local-memory tree (GPUs: coalesced reads across lanes).
##                  ``parts`` > 1 splits k for a second stage.
##   mode "serial": one work-item per (output, part), walking its range of k; with ``unroll`` > 1
##                  it keeps that many independent accumulators, over four equal runs of the range
##                  walked side by side, consecutive elements in each (CPUs: contiguous runs,
##                  vectorisable, several reads in flight, no loop-carried latency chain).
##   mode "cols":   one work-item per (part, block of ``bw`` consecutive outputs) of a reduction
##                  over a leading axis (outputs unit-stride, one strided inner dimension): it
##                  walks the part's rows in memory order and accumulates a row of partial ACCs
##                  in ``dst`` (CPUs: every read is a contiguous run; a stage 2 finishes).
## ``stage2`` kernels read partial accumulators (ACC structs) written by a non-final stage 1.
## Shapes and strides of both dimension groups are kernel arguments (``outer_nd``/``inner_nd``);
## k walks the inner dimensions in C order (the last fastest) without per-element division.
<%
    def inner_offset(kvar, base):
        """Offset of inner index ``kvar`` (divides only when there are two or more dims)."""
        if inner_nd == 0:
            return base
        if inner_nd == 1:
            # a unit stride is baked in, so the compiler sees consecutive loads
            return ("%s + %s" if inner_unit else "%s + %s * is0") % (base, kvar)
        return None
    def loadk(off):
        return "src[%s]" % off if stage2 else load(src, "src", off)
%>
${prelude}

${acc_decl}
#define S ${s_type}
#define OUT ${out_type}

${functions}

__kernel void ${name}(
% if stage2:
    __global const ACC * restrict src, const long src_off,
% else:
    __global const ${src.ctype} * restrict src, const long src_off,
% endif
% if final:
    __global ${dst.ctype} * restrict dst,
% else:
    __global ACC * restrict dst,
% endif
    const long M, const long K, const long chunk, const long parts
% for d in range(outer_nd):
    , const long on${d}, const long os${d}
% endfor
% for d in range(inner_nd):
    , const long in${d}, const long is${d}
% endfor
    , const long K_total
% if mode == "cols":
    , const long bw, const long nblk
% endif
    )
{
% if mode == "group":
    __local ACC scratch[${wg}];
    const long g = (long)get_group_id(0);
    const int lid = (int)get_local_id(0);
    const long m = g / parts;
    const long part = g - m * parts;
% elif mode == "serial":
    const long g = (long)get_global_id(0);
    if (g >= M * parts) return;
    const long m = g / parts;
    const long part = g - m * parts;
% else:
    /* cols: g -> (part, outer row, block of the unit-stride last outer dimension) */
    const long g = (long)get_global_id(0);
    const long per_part = (M / on${outer_nd - 1}) * nblk;
    if (g >= parts * per_part) return;
    const long part = g / per_part;
    const long rb = g - part * per_part;
    const long row = rb / nblk;
    const long j0 = (rb - row * nblk) * bw;
    const long width = min(bw, on${outer_nd - 1} - j0);
    const long m = row * on${outer_nd - 1} + j0;
% endif
    long base = src_off;
    {
        long rem = m;
% for d in range(outer_nd - 1, -1, -1):
        { const long c = rem % on${d}; rem /= on${d}; base += c * os${d}; }
% endfor
    }
    const long k0 = part * chunk;
    const long k1 = min(K, k0 + chunk);
% if mode == "cols":
    __global ACC * restrict acc = dst + part * M + m;
    for (long j = 0; j < width; ++j)
        acc[j] = acc_init();
    long k = k0;
    /* four rows per pass over the partial row: a quarter of its loads and stores */
    for (; k + 4 <= k1; k += 4) {
        const long r0 = ${inner_offset("k", "base")}, r1 = ${inner_offset("(k + 1)", "base")};
        const long r2 = ${inner_offset("(k + 2)", "base")}, r3 = ${inner_offset("(k + 3)", "base")};
        for (long j = 0; j < width; ++j)
            acc[j] = acc_combine(acc[j], acc_combine(
                acc_combine(acc_map(${loadk("r0 + j")}, k), acc_map(${loadk("r1 + j")}, k + 1)),
                acc_combine(acc_map(${loadk("r2 + j")}, k + 2),
                            acc_map(${loadk("r3 + j")}, k + 3))));
    }
    for (; k < k1; ++k) {
        const long row_off = ${inner_offset("k", "base")};
        for (long j = 0; j < width; ++j)
            acc[j] = acc_combine(acc[j], acc_map(${loadk("row_off + j")}, k));
    }
% elif mode == "group":
    ACC acc = acc_init();
    for (long k = k0 + lid; k < k1; k += ${wg}) {
%   if inner_nd <= 1:
        const long off = ${inner_offset("k", "base")};
%   else:
        long off = base;
        long rem = k;
%     for d in range(inner_nd - 1, -1, -1):
        { const long c = rem % in${d}; rem /= in${d}; off += c * is${d}; }
%     endfor
%   endif
%   if stage2:
        acc = acc_combine(acc, src[off]);
%   else:
        acc = acc_combine(acc, acc_map(${loadk("off")}, k));
%   endif
    }
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
%   for s in strides:
    if (lid < ${s}) scratch[lid] = acc_combine(scratch[lid], scratch[lid + ${s}]);
    barrier(CLK_LOCAL_MEM_FENCE);
%   endfor
    if (lid == 0) {
%   if final:
        const OUT r = acc_final(scratch[0], K_total);
        ${store(dst, "dst", "g", "r")};
%   else:
        dst[g] = scratch[0];
%   endif
    }
% else:
<%
    if stage2:
        map_ = lambda off, k: "src[%s]" % off
    else:
        map_ = lambda off, k: "acc_map(%s, %s)" % (loadk(off), k)
    off_k = lambda k: inner_offset(k, "base") if inner_nd else "base"
%>
%   if inner_nd <= 1 and unroll > 1:
<%
    S = 4 if unroll % 4 == 0 else 1      # concurrent read streams
    W = unroll // S                      # consecutive elements per stream and step
%>
    /* ${S} read streams (the range in ${S} equal runs walked side by side: more reads in flight
       than one stream), ${W} consecutive accumulators each, combined in a fixed order; arrays
       and short loops, which compilers vectorise */
    ACC a[${unroll}];
    for (int j = 0; j < ${unroll}; ++j)
        a[j] = acc_init();
    const long sub = ((k1 - k0) / ${S * W}) * ${W};
    for (long t = 0; t < sub; t += ${W}) {
%     for st in range(S):
        {
            const long k = k0 + ${st} * sub + t;
            for (int j = 0; j < ${W}; ++j)
                a[${st * W} + j] = acc_combine(a[${st * W} + j],
                                               ${map_(off_k("(k + j)"), "k + j")});
        }
%     endfor
    }
    for (long k = k0 + ${S} * sub; k < k1; ++k)
        a[0] = acc_combine(a[0], ${map_(off_k("k"), "k")});
    ACC acc = a[0];
    for (int j = 1; j < ${unroll}; ++j)
        acc = acc_combine(acc, a[j]);
%   elif inner_nd <= 1:
    ACC acc = acc_init();
    for (long k = k0; k < k1; ++k)
        acc = acc_combine(acc, ${map_(off_k("k"), "k")});
%   else:
    /* the inner multi-index advances like an odometer: one division per work-item, not per k */
    ACC acc = acc_init();
    long off = base;
    long ${", ".join("c%d" % d for d in range(inner_nd))};
    {
        long rem = k0;
%     for d in range(inner_nd - 1, -1, -1):
        c${d} = rem % in${d}; rem /= in${d}; off += c${d} * is${d};
%     endfor
    }
    for (long k = k0; k < k1; ++k) {
        acc = acc_combine(acc, ${map_("off", "k")});
        off += is${inner_nd - 1};
        if (++c${inner_nd - 1} == in${inner_nd - 1}) {
            c${inner_nd - 1} = 0; off -= in${inner_nd - 1} * is${inner_nd - 1};
%     for d in range(inner_nd - 2, -1, -1):
            off += is${d};
            if (++c${d} == in${d}) {
                c${d} = 0; off -= in${d} * is${d};
%     endfor
%     for d in range(inner_nd - 2, -1, -1):
            }
%     endfor
        }
    }
%   endif
%   if final:
    {
        const OUT r = acc_final(acc, K_total);
        ${store(dst, "dst", "m", "r")};
    }
%   else:
    dst[g] = acc;
%   endif
% endif
}
