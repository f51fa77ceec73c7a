## im2col and its adjoint col2im for 2-D convolution, one work-item per element written.
##   kind "im2col": dst (N, C*KH*KW, OH*OW) from src = data (N, C, H, W) with any strides;
##                  row (c, ki, kj), column (oh, ow) holds x[c, oh*SH - PH + ki*DH,
##                  ow*SW - PW + kj*DW], or 0 in the padding.
##   kind "col2im": dst (N, C, H, W) from src = columns (N, C*KH*KW, OH*OW) with any strides:
##                  each input element gathers, in a fixed order, every column entry that was
##                  copied from it (deterministic; no atomics).
${prelude}

__kernel void ${name}(
    __global const ${src.ctype} *src, const long src_off,
    const long s0, const long s1, const long s2, const long s3,
    __global ${dst.ctype} *dst,
    const long C, const long H, const long W, const long OH, const long OW,
    const long KH, const long KW, const long SH, const long SW, const long PH, const long PW,
    const long DH, const long DW, const long total)
{
    const long gid = (long)get_global_id(0);
    if (gid >= total) return;
% if kind == "im2col":
    /* s0..s3: strides of the data's N, C, H, W */
    const long L = OH * OW;
    const long col = gid % L;
    long rem = gid / L;
    const long kk = KH * KW;
    const long row = rem % (C * kk);
    const long n = rem / (C * kk);
    const long c = row / kk;
    const long ki = (row % kk) / KW;
    const long kj = row % KW;
    const long oh = col / OW, ow = col % OW;
    const long h = oh * SH - PH + ki * DH;
    const long w = ow * SW - PW + kj * DW;
    ${dst.compute} v = (${dst.compute})0;
    if (h >= 0 && h < H && w >= 0 && w < W)
        v = ${load(src, "src", "src_off + n * s0 + c * s1 + h * s2 + w * s3")};
    ${store(dst, "dst", "gid", "v")};
% else:
    /* s0..s2: strides of the columns' N, row, column; s3 unused */
    const long w = gid % W;
    long rem = gid / W;
    const long h = rem % H;
    rem /= H;
    const long c = rem % C;
    const long n = rem / C;
    ${dst.compute} s = (${dst.compute})0;
    for (long ki = 0; ki < KH; ++ki) {
        const long th = h + PH - ki * DH;
        if (th < 0 || th % SH != 0) continue;
        const long oh = th / SH;
        if (oh >= OH) continue;
        for (long kj = 0; kj < KW; ++kj) {
            const long tw = w + PW - kj * DW;
            if (tw < 0 || tw % SW != 0) continue;
            const long ow = tw / SW;
            if (ow >= OW) continue;
            const long row = (c * KH + ki) * KW + kj;
            s += ${load(src, "src", "src_off + n * s0 + row * s1 + (oh * OW + ow) * s2")};
        }
    }
    ${store(dst, "dst", "gid", "s")};
% endif
}
