## Fused row kernels of the softmax family: one row = all elements along the softmax axis for
## one index of the other ("outer") dimensions. Every operand has its own offset, outer strides
## and stride along the axis, so any axis and any view works without a copy.
##   kind "softmax" / "log_softmax":  max, sum of exp and normalise, per row (numerically stable).
##   kind "softmax_bwd":      gx = y * (g - sum(g * y)) * inv_t   (src = y, the forward output)
##   kind "log_softmax_bwd":  gx = (g - exp(y) * sum(g)) * inv_t
## With ``use_length`` only the first length[row] elements take part; the rest are written as 0.
##   mode "serial": one work-item per row (short rows, many of them).
##   mode "group":  one work-group per row; lanes stride over the row and combine through a
##                  local-memory tree (every lane reaches every barrier).
${prelude}

#define ACC ${acc}
#define SRC(k) ${load(src, "src", "sb + (k) * src_ks")}
% if bwd:
#define GRAD(k) ${load(g, "gp", "gb + (k) * g_ks")}
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
    /* pass 1: the row maximum of the scaled values (NaN wins, so it propagates) */
    ACC mx = -INFINITY;
    for (long k = k_start; k < len; k += k_step) {
        const ACC z = SRC(k) * inv_t;
        mx = (z > mx || isnan(z)) ? z : mx;
    }
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
    ACC s = (ACC)0;
    for (long k = k_start; k < len; k += k_step)
        s += exp(SRC(k) * inv_t - mx);
% else:
    /* the row's dot product (softmax) or sum (log_softmax) of the incoming gradient */
    ACC s = (ACC)0;
    for (long k = k_start; k < len; k += k_step) {
%   if kind == "softmax_bwd":
        s += GRAD(k) * SRC(k);
%   else:
        s += GRAD(k);
%   endif
    }
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
    for (long k = k_start; k < len; k += k_step) {
% if kind == "softmax":
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
