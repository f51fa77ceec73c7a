## 2-D pooling over (N, C, H, W) planes, one work-item per element written. Window geometry
## (kernel, stride, pad) travels as arguments, so one binary serves every geometry.
##   kind "max" / "avg" / "sum":  forward; src = data (any strides), dst = (N, C, OH, OW).
##                                "max" also writes the winning plane index h * W + w (-1: none).
##   kind "max_bwd":  dst (N, C, H, W) = sum of g over the windows whose argmax is this element.
##   kind "avg_bwd" / "sum_bwd":  dst (N, C, H, W) = sum of g / divisor over covering windows.
##   kind "gather":   dst (N, C, OH, OW) = src[argmax] (the adjoint of "max_bwd").
## Backward kinds gather over the covering windows in a fixed order: deterministic, no atomics.
${prelude}

#define ACC ${acc}

static long pool_div(long oh, long ow, long H, long W, long KH, long KW, long SH, long SW,
                     long PH, long PW, int include_pad)
{
    long hs = oh * SH - PH, ws = ow * SW - PW;
    long he = min(hs + KH, H + PH), we = min(ws + KW, W + PW);
    long size = (he - hs) * (we - ws);
    hs = max(hs, 0L); ws = max(ws, 0L);
    he = min(he, H); we = min(we, W);
    if (!include_pad) size = (he - hs) * (we - ws);
    return size > 0 ? size : 1;
}

__kernel void ${name}(
    __global const ${src.ctype} *src, const long src_off,
    const long sN, const long sC, const long sH, const long sW,
% if kind == "max":
    __global int *argmax,
% elif kind in ("max_bwd", "gather"):
    __global const int *argmax,
% endif
    __global ${dst.ctype} *dst,
    const long C, const long H, const long W, const long OH, const long OW,
    const long KH, const long KW, const long SH, const long SW, const long PH, const long PW,
    const int include_pad, const long total)
{
    const long gid = (long)get_global_id(0);
    if (gid >= total) return;
% if kind in ("max", "avg", "sum", "gather"):
    const long ow = gid % OW;
    long rem = gid / OW;
    const long oh = rem % OH;
    rem /= OH;
    const long c = rem % C;
    const long n = rem / C;
    const long base = src_off + n * sN + c * sC;
%   if kind == "gather":
    const int a = argmax[gid];
    ACC v = (ACC)0;
    if (a >= 0) {
        const long h = a / W, w = a - (a / W) * W;
        v = ${load(src, "src", "base + h * sH + w * sW")};
    }
    ${store(dst, "dst", "gid", "v")};
%   else:
    const long hs = oh * SH - PH, ws = ow * SW - PW;
    const long h0 = max(hs, 0L), w0 = max(ws, 0L);
    const long h1 = min(hs + KH, H), w1 = min(ws + KW, W);
%     if kind == "max":
    ACC m = -INFINITY;
    int am = -1;
    for (long h = h0; h < h1; ++h)
        for (long w = w0; w < w1; ++w) {
            const ACC v = ${load(src, "src", "base + h * sH + w * sW")};
            if (v > m || (isnan(v) && !isnan(m)) || am < 0) { m = v; am = (int)(h * W + w); }
        }
    argmax[gid] = am;
    ${store(dst, "dst", "gid", "m")};
%     else:
    ACC s = (ACC)0;
    for (long h = h0; h < h1; ++h)
        for (long w = w0; w < w1; ++w)
            s += ${load(src, "src", "base + h * sH + w * sW")};
%       if kind == "avg":
    s /= (ACC)pool_div(oh, ow, H, W, KH, KW, SH, SW, PH, PW, include_pad);
%       endif
    ${store(dst, "dst", "gid", "s")};
%     endif
%   endif
% else:
    /* one input element (n, c, h, w); src is g over the (N, C, OH, OW) outputs */
    const long w = gid % W;
    long rem = gid / W;
    const long h = rem % H;
    rem /= H;
    const long c = rem % C;
    const long n = rem / C;
    const long base = src_off + n * sN + c * sC;
    /* windows oh with oh * SH - PH <= h < oh * SH - PH + KH */
    const long ohs = (h + PH - KH + 1) <= 0 ? 0 : (h + PH - KH + 1 + SH - 1) / SH;
    const long ohe = min((h + PH) / SH + 1, OH);
    const long ows = (w + PW - KW + 1) <= 0 ? 0 : (w + PW - KW + 1 + SW - 1) / SW;
    const long owe = min((w + PW) / SW + 1, OW);
    ACC s = (ACC)0;
%   if kind == "max_bwd":
    const int me = (int)(h * W + w);
    const long abase = (n * C + c) * OH * OW;
%   endif
    for (long oh = ohs; oh < ohe; ++oh)
        for (long ow = ows; ow < owe; ++ow) {
%   if kind == "max_bwd":
            if (argmax[abase + oh * OW + ow] == me)
                s += ${load(src, "src", "base + oh * sH + ow * sW")};
%   elif kind == "avg_bwd":
            s += ${load(src, "src", "base + oh * sH + ow * sW")} /
                 (ACC)pool_div(oh, ow, H, W, KH, KW, SH, SW, PH, PW, include_pad);
%   else:
            s += ${load(src, "src", "base + oh * sH + ow * sW")};
%   endif
        }
    ${store(dst, "dst", "gid", "s")};
% endif
}
