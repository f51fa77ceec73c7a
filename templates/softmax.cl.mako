## Fused row kernels of the softmax family: one row = all elements along the softmax axis for
## one index of the other ("outer") dimensions. Every operand has its own offset, outer strides
## and stride along the axis, so any axis and any view works without a copy.
##   kind "softmax" / "log_softmax":  max, sum of exp and normalise, per row (numerically stable).
##   kind "softmax_bwd":      gx = y * (g - sum(g * y)) * inv_t   (src = y, the forward output)
##   kind "log_softmax_bwd":  gx = (g - exp(y) * sum(g)) * inv_t
## With ``use_length`` only the first length[row] elements take part; the rest are written as 0.
##   mode "serial": one work-item per row (short rows, or CPUs, many rows). With ``unroll`` > 1
##                  the row's max and sums keep that many independent accumulators over
##                  consecutive elements (vectorisable, no loop-carried latency chain).
##   mode "group":  one work-group per row; lanes stride over the row and combine through a
##                  local-memory tree (every lane reaches every barrier).
## With ``reuse`` (softmax, float output computed in ACC) pass 2 stores exp(z - max) and the last
## pass rescales what it stored, so each element costs one exp, not two.
## With ``vw`` > 0 (serial rows of unit stride, every operand in ACC) the passes run on vectors of
## ``vw`` elements (vector reads and writes; four accumulators, then one), then a scalar tail:
## CPU runtimes vectorise builtins such as exp only when they are called on vector types.
<%
    U = unroll if mode == "serial" else 1
    V = vw if mode == "serial" else 0
    NV = 4      # vector accumulators per row: independent chains (1 -> 4 measured +10% on PoCL)
    lanes = ["s%x" % j for j in range(V)]
    def red(init, update, combine, var, vupdate=None, vpre=None):
        """A sum/max over k of ``update`` (an expression of k) into ``var``: U accumulators, or
        vectors of V lanes (``vupdate``: the vector expression, ``vpre``: a statement before it)."""
        if V and vupdate is not None:
            accs = ["va%d" % j for j in range(NV)]
            lines = ["ACC %s;" % var, "{"]
            for a in accs:
                lines.append("    ACCV %s = (ACCV)(%s);" % (a, init))
            lines.append("    long k = 0;")

            def step(a, k):
                body = ([vpre(k)] if vpre is not None else []) + [
                    "const ACCV t = %s;" % vupdate(k), combine(a, "t")]
                return "        { %s }" % " ".join(body)
            lines.append("    for (; k + %d <= len; k += %d) {" % (NV * V, NV * V))
            for j, a in enumerate(accs):
                lines.append(step(a, "(k + %d)" % (j * V) if j else "k"))
            lines.append("    }")
            lines.append("    for (; k + %d <= len; k += %d) {" % (V, V))
            lines.append(step(accs[0], "k"))
            lines.append("    }")
            for a in accs[1:]:
                lines.append("    { const ACCV t = %s; %s }" % (a, combine(accs[0], "t")))
            lines.append("    ACC a0 = va0.s0;")
            for ln in lanes[1:]:
                lines.append("    { const ACC t = va0.%s; %s }" % (ln, combine("a0", "t")))
            lines.append("    for (; k < len; ++k) { const ACC t = %s; %s }" % (update("k"),
                                                                             combine("a0", "t")))
            lines.append("    %s = a0;" % var)
            lines.append("}")
            return "\n    ".join(lines)
        if U == 1:
            return ("ACC %s = %s;\n    for (long k = k_start; k < len; k += k_step) {\n"
                    "        const ACC t = %s;\n        %s\n    }") % (
                var, init, update("k"), combine(var, "t"))
        lines = ["ACC %s;" % var, "{"]
        for j in range(U):
            lines.append("    ACC a%d = %s;" % (j, init))
        lines.append("    long k = 0;")
        lines.append("    for (; k + %d <= len; k += %d) {" % (U, U))
        for j in range(U):
            lines.append("        { const ACC t = %s; %s }" % (update("(k + %d)" % j),
                                                              combine("a%d" % j, "t")))
        lines.append("    }")
        lines.append("    for (; k < len; ++k) { const ACC t = %s; %s }" % (update("k"),
                                                                         combine("a0", "t")))
        for j in range(1, U):
            lines.append("    { const ACC t = a%d; %s }" % (j, combine("a0", "t")))
        lines.append("    %s = a0;" % var)
        lines.append("}")
        return "\n    ".join(lines)
    def mx_comb(a, t):
        # a NaN is skipped here and still reaches every output through the sum of exp(z - max);
        # a comparison, not fmax or isnan, which some CPU runtimes call out of line
        return "%s = (%s > %s) ? %s : %s;" % (a, t, a, t, a)
    def sum_comb(a, t):
        return "%s += %s;" % (a, t)
%>
${prelude}

#define ACC ${acc}
#define SRC(k) ${load(src, "src", "sb + (k) * src_ks")}
% if V:
#define ACCV ${acc}${V}
#define VSRC(k) ${vload(acc, V, "src + sb + (k)")}
%   if bwd:
#define VGRAD(k) ${vload(acc, V, "gp + gb + (k)")}
%   endif
% endif
% if bwd:
#define GRAD(k) ${load(g, "gp", "gb + (k) * g_ks")}
% endif
% if reuse:
/* stores e at position k of the row and evaluates to it */
#define STORE_E(k, e) (dst[db + (k) * dst_ks] = (e))
% endif

__kernel void ${name}(
    __global const ${src.ctype} *src, const long src_off, const long src_ks,
% if bwd:
    __global const ${g.ctype} *gp, const long g_off, const long g_ks,
% endif
    __global ${dst.ctype} *dst, const long dst_off, const long dst_ks,
% if use_length:
    __global const ${ln.ctype} *lp, const long l_off,
% endif
    const long M, const long K, const ACC inv_t
% for d in range(outer_nd):
    , const long n${d}, const long ss${d}
%   if bwd:
    , const long gs${d}
%   endif
    , const long ds${d}
%   if use_length:
    , const long ls${d}
%   endif
% endfor
    )
{
% if mode == "group":
    __local ACC scratch[${wg}];
    const long m = (long)get_group_id(0);
    const int lid = (int)get_local_id(0);
    const long k_start = lid;
    const long k_step = ${wg};
% else:
    const long m = (long)get_global_id(0);
    if (m >= M) return;
    const long k_start = 0;
    const long k_step = 1;
% endif
    long sb = src_off;
    long db = dst_off;
% if bwd:
    long gb = g_off;
% endif
% if use_length:
    long lb = l_off;
% endif
    {
        long rem = m;
% for d in range(outer_nd - 1, -1, -1):
        {
            const long c = rem % n${d};
            rem /= n${d};
            sb += c * ss${d};
            db += c * ds${d};
%   if bwd:
            gb += c * gs${d};
%   endif
%   if use_length:
            lb += c * ls${d};
%   endif
        }
% endfor
    }
    long len = K;
% if use_length:
    {
        const long L = (long)lp[lb];
        len = L < 0 ? 0 : (L < K ? L : K);
    }
% endif

% if not bwd:
    /* pass 1: the row maximum of the scaled values (NaN propagates through pass 2's sum) */
    ${red("-INFINITY", lambda k: "SRC(%s) * inv_t" % k, mx_comb, "mx",
          lambda k: "VSRC(%s) * inv_t" % k)}
%   if mode == "group":
    scratch[lid] = mx;
    barrier(CLK_LOCAL_MEM_FENCE);
%     for s in strides:
    if (lid < ${s}) {
        const ACC o = scratch[lid + ${s}];
        const ACC a = scratch[lid];
        scratch[lid] = (o > a || isnan(o)) ? o : a;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
%     endfor
    mx = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
%   endif
    /* pass 2: the sum of exp(z - max) */
%   if reuse:
    /* each exp is stored, and rescaled by the last pass (serial: one lane per row; group: a
       lane rescales only what it stored) */
    ${red("(ACC)0", lambda k: "STORE_E(%s, exp(SRC(%s) * inv_t - mx))" % (k, k), sum_comb, "s",
          lambda k: "e", lambda k: "const ACCV e = exp(VSRC(%s) * inv_t - mx); %s" % (
              k, vstore(acc, V, "e", "dst + db + %s" % k)))}
%   else:
    ${red("(ACC)0", lambda k: "exp(SRC(%s) * inv_t - mx)" % k, sum_comb, "s",
          lambda k: "exp(VSRC(%s) * inv_t - mx)" % k)}
%   endif
% else:
    /* the row's dot product (softmax) or sum (log_softmax) of the incoming gradient */
%   if kind == "softmax_bwd":
    ${red("(ACC)0", lambda k: "GRAD(%s) * SRC(%s)" % (k, k), sum_comb, "s",
          lambda k: "VGRAD(%s) * VSRC(%s)" % (k, k))}
%   else:
    ${red("(ACC)0", lambda k: "GRAD(%s)" % k, sum_comb, "s", lambda k: "VGRAD(%s)" % k)}
%   endif
% endif
% if mode == "group":
    scratch[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
%   for st in strides:
    if (lid < ${st}) scratch[lid] += scratch[lid + ${st}];
    barrier(CLK_LOCAL_MEM_FENCE);
%   endfor
    s = scratch[0];
% endif

% if kind == "softmax":
    const ACC r = (ACC)1 / s;
% elif kind == "log_softmax":
    const ACC lse = log(s);
% endif
% if V:
    long k0 = 0;
    for (; k0 + ${V} <= len; k0 += ${V}) {
%   if kind == "softmax" and reuse:
        const ACCV v = ${vload(acc, V, "dst + db + k0")} * r;
%   elif kind == "softmax":
        const ACCV v = exp(VSRC(k0) * inv_t - mx) * r;
%   elif kind == "log_softmax":
        const ACCV v = VSRC(k0) * inv_t - mx - lse;
%   elif kind == "softmax_bwd":
        const ACCV v = VSRC(k0) * (VGRAD(k0) - s) * inv_t;
%   else:
        const ACCV v = (VGRAD(k0) - exp(VSRC(k0)) * s) * inv_t;
%   endif
        ${vstore(acc, V, "v", "dst + db + k0")}
    }
    for (long k = k0; k < len; ++k) {
% else:
    for (long k = k_start; k < len; k += k_step) {
% endif
% if kind == "softmax" and reuse:
        const ACC v = (ACC)dst[db + k * dst_ks] * r;
% elif kind == "softmax":
        const ACC v = exp(SRC(k) * inv_t - mx) * r;
% elif kind == "log_softmax":
        const ACC v = SRC(k) * inv_t - mx - lse;
% elif kind == "softmax_bwd":
        const ACC y = SRC(k);
        const ACC v = y * (GRAD(k) - s) * inv_t;
% else:
        const ACC v = (GRAD(k) - exp(SRC(k)) * s) * inv_t;
% endif
        ${store(dst, "dst", "db + k * dst_ks", "v")};
    }
% if use_length:
    for (long k = len + k_start; k < K; k += k_step)
        ${store(dst, "dst", "db + k * dst_ks", "(ACC)0")};
% endif
}
