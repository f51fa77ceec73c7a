## Random numbers from Philox-4x32-10: work-item i draws counter (base + i) and writes elements
## 4i .. 4i+3 of the (contiguous) output. ``dist`` selects the transform of the four words.
${prelude}
${philox}

__kernel void ${name}(__global ${out.ctype} *dst, const long n, const uint key0, const uint key1,
                      const ulong base, const ${param_t} p0, const ${param_t} p1)
{
    const long i = (long)get_global_id(0);
    if (4 * i >= n) return;
    const ulong ctr = base + (ulong)i;
    const uint4 w = philox4x32_10((uint4)((uint)ctr, (uint)(ctr >> 32), 0x5EEDu, 0u),
                                  (uint2)(key0, key1));
    ${param_t} r[4];
% if dist == "uniform":
%   if param_t == "double":
    const uint4 w2 = philox4x32_10((uint4)((uint)ctr, (uint)(ctr >> 32), 0x5EEDu, 1u),
                                   (uint2)(key0, key1));
    const uint a[4] = {w.x, w.y, w.z, w.w};
    const uint b[4] = {w2.x, w2.y, w2.z, w2.w};
    for (int j = 0; j < 4; ++j) {
        const double u = ((double)(a[j] >> 5) * 67108864.0 + (double)(b[j] >> 6))
                         * (1.0 / 9007199254740992.0);
        r[j] = p0 + (p1 - p0) * u;
    }
%   else:
    r[0] = p0 + (p1 - p0) * u01_f(w.x);
    r[1] = p0 + (p1 - p0) * u01_f(w.y);
    r[2] = p0 + (p1 - p0) * u01_f(w.z);
    r[3] = p0 + (p1 - p0) * u01_f(w.w);
%   endif
% elif dist == "normal":
    {
        const ${param_t} two_pi = (${param_t})6.283185307179586;
        const ${param_t} ra = sqrt((${param_t})-2 * log((${param_t})u01_open_f(w.x)));
        const ${param_t} rb = sqrt((${param_t})-2 * log((${param_t})u01_open_f(w.z)));
        const ${param_t} ta = two_pi * (${param_t})u01_f(w.y);
        const ${param_t} tb = two_pi * (${param_t})u01_f(w.w);
        r[0] = p0 + p1 * ra * cos(ta);
        r[1] = p0 + p1 * ra * sin(ta);
        r[2] = p0 + p1 * rb * cos(tb);
        r[3] = p0 + p1 * rb * sin(tb);
    }
% elif dist == "randint":
    {
        /* p0 = low, p1 = high - low (the range); mul_hi maps a word onto [0, range). A range
         * wider than 32 bits takes 64 bits per value, the low words from a second block. */
        const ulong range = (ulong)p1;
        const uint a[4] = {w.x, w.y, w.z, w.w};
        if (range <= 0xFFFFFFFFul) {
            for (int j = 0; j < 4; ++j)
                r[j] = p0 + (${param_t})mul_hi(a[j], (uint)range);
        } else {
            const uint4 w2 = philox4x32_10((uint4)((uint)ctr, (uint)(ctr >> 32), 0x5EEDu, 1u),
                                           (uint2)(key0, key1));
            const uint b[4] = {w2.x, w2.y, w2.z, w2.w};
            for (int j = 0; j < 4; ++j)
                r[j] = p0 + (${param_t})((((ulong)a[j] << 32) | (ulong)b[j]) % range);
        }
    }
% elif dist == "bernoulli":
    r[0] = u01_f(w.x) < p0 ? 1 : 0;
    r[1] = u01_f(w.y) < p0 ? 1 : 0;
    r[2] = u01_f(w.z) < p0 ? 1 : 0;
    r[3] = u01_f(w.w) < p0 ? 1 : 0;
% endif
    for (int j = 0; j < 4; ++j) {
        const long idx = 4 * i + j;
        if (idx < n) { ${store(out, "dst", "idx", "r[j]")}; }
    }
}
