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
## ``pro`` (clgrad.hybrid's fusion; None otherwise, ops/reduce/prologue.py): an elementwise op whose
## value a first stage reduces in place of loading it (``pro_value`` over the source's element and
## the other operands' elements at the same place, each array with its own offset and strides).
## ``stage2`` kernels read partial accumulators (ACC structs) written by a non-final stage 1.
## Shapes and strides of both dimension groups are kernel arguments (``outer_nd``/``inner_nd``);
## k walks the inner dimensions in C order (the last fastest) without per-element division.
<%
    # the arrays read at each element: the source (suffix "") and, with an elementwise
    # prologue (``pro``, clgrad.hybrid's fusion), its other array operands (suffix "_<i>"),
    # each with its own offset and strides over the same dimensions
    sfxs = [""] + ([] if pro is None else
                   ["_%d" % i for i in pro.extra() if pro.operands[i].is_array])
    def inner_offset(kvar, base, sfx=""):
        """Offset of inner index ``kvar`` (divides only when there are two or more dims)."""
        if inner_nd == 0:
            return base
        if inner_nd == 1:
            # a unit stride is baked in, so the compiler sees consecutive loads
            return ("%s + %s" if inner_unit and sfx == "" else "%s + %s * is0" + sfx) % (base, kvar)
        return None
    def offs(kvar, names=None):
        """The offsets of every array read at inner index ``kvar`` (one or no inner dims)."""
        return [inner_offset(kvar, (names or "base") + x, x) for x in sfxs]
    def loadk(offsets):
        if stage2:
            return "src[%s]" % offsets[0]
        if pro is None:
            return load(src, "src", offsets[0])
        vals, it = [], iter(offsets[1:])
        for i, o in enumerate(pro.operands):
            if i == pro.first:
                vals.append(load(o, "src", offsets[0]))
            elif o.is_array:
                vals.append(load(o, "p%d" % i, next(it)))
            else:
                vals.append("s%d" % i)
        return "pro_value(%s)" % ", ".join(vals)
%>
${prelude}

${acc_decl}
#define S ${s_type}
#define OUT ${out_type}

${functions}
% if pro is not None:
${pro.function(s_type)}
% endif

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
% if pro is not None:
%   for i in pro.extra():
<%    o = pro.operands[i] %>
%     if o.is_array:
    , __global const ${o.ctype} * restrict p${i}, const long p${i}_off
%       for d in range(outer_nd):
    , const long os${d}_${i}
%       endfor
%       for d in range(inner_nd):
    , const long is${d}_${i}
%       endfor
%     else:
    , const ${o.compute} s${i}
%     endif
%   endfor
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
% for x in sfxs:
    long base${x} = ${"src_off" if x == "" else "p%s_off" % x[1:]};
% endfor
    {
        long rem = m;
% for d in range(outer_nd - 1, -1, -1):
        { const long c = rem % on${d}; rem /= on${d};${"".join(" base%s += c * os%d%s;" % (x, d, x) for x in sfxs)} }
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
<%
    # consecutive outputs j: unit-stride in the source; any stride in a prologue's operands
    def row(r):
        return [("r%d%s + j" % (r, x)) if pro is None else
                ("r%d%s + j * os%d%s" % (r, x, outer_nd - 1, x)) for x in sfxs]
%>
    for (; k + 4 <= k1; k += 4) {
% for x in sfxs:
        const long r0${x} = ${inner_offset("k", "base" + x, x)}, r1${x} = ${inner_offset("(k + 1)", "base" + x, x)};
        const long r2${x} = ${inner_offset("(k + 2)", "base" + x, x)}, r3${x} = ${inner_offset("(k + 3)", "base" + x, x)};
% endfor
        for (long j = 0; j < width; ++j)
            acc[j] = acc_combine(acc[j], acc_combine(
                acc_combine(acc_map(${loadk(row(0))}, k), acc_map(${loadk(row(1))}, k + 1)),
                acc_combine(acc_map(${loadk(row(2))}, k + 2),
                            acc_map(${loadk(row(3))}, k + 3))));
    }
    for (; k < k1; ++k) {
% for x in sfxs:
        const long r0${x} = ${inner_offset("k", "base" + x, x)};
% endfor
        for (long j = 0; j < width; ++j)
            acc[j] = acc_combine(acc[j], acc_map(${loadk(row(0))}, k));
    }
% elif mode == "group":
    ACC acc = acc_init();
    for (long k = k0 + lid; k < k1; k += ${wg}) {
%   if inner_nd <= 1:
%     for x in sfxs:
        const long off${x} = ${inner_offset("k", "base" + x, x)};
%     endfor
%   else:
%     for x in sfxs:
        long off${x} = base${x};
%     endfor
        long rem = k;
%     for d in range(inner_nd - 1, -1, -1):
        { const long c = rem % in${d}; rem /= in${d};${"".join(" off%s += c * is%d%s;" % (x, d, x) for x in sfxs)} }
%     endfor
%   endif
%   if stage2:
        acc = acc_combine(acc, src[off]);
%   else:
        acc = acc_combine(acc, acc_map(${loadk(["off" + x for x in sfxs])}, k));
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
        map_ = lambda offsets, k: "src[%s]" % offsets[0]
    else:
        map_ = lambda offsets, k: "acc_map(%s, %s)" % (loadk(offsets), k)
    off_k = lambda k: offs(k)
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
%   for x in sfxs:
    long off${x} = base${x};
%   endfor
    long ${", ".join("c%d" % d for d in range(inner_nd))};
    {
        long rem = k0;
%     for d in range(inner_nd - 1, -1, -1):
        c${d} = rem % in${d}; rem /= in${d};${"".join(" off%s += c%d * is%d%s;" % (x, d, d, x) for x in sfxs)}
%     endfor
    }
    for (long k = k0; k < k1; ++k) {
        acc = acc_combine(acc, ${map_(["off" + x for x in sfxs], "k")});
<%  last = inner_nd - 1 %>
        ${" ".join("off%s += is%d%s;" % (x, last, x) for x in sfxs)}
        if (++c${last} == in${last}) {
            c${last} = 0;${"".join(" off%s -= in%d * is%d%s;" % (x, last, last, x) for x in sfxs)}
%     for d in range(inner_nd - 2, -1, -1):
            ${" ".join("off%s += is%d%s;" % (x, d, x) for x in sfxs)}
            if (++c${d} == in${d}) {
                c${d} = 0;${"".join(" off%s -= in%d * is%d%s;" % (x, d, d, x) for x in sfxs)}
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
