## Stream compaction (the flat positions of non-zero elements, in order), in blocks of B
## elements: "count" writes each block's number of non-zeros; the host turns the counts into
## exclusive offsets (it needs the total anyway, to size the output); "write" walks each block
## again and writes the positions from its offset. Deterministic, no atomics.
${prelude}

__kernel void compact_count(__global const ${src.ctype} *src, const long off, const long n,
                            const long B, __global long *counts, const long nblocks)
{
    const long b = (long)get_global_id(0);
    if (b >= nblocks) return;
    const long end = min(n, (b + 1) * B);
    long c = 0;
    for (long i = b * B; i < end; ++i)
        c += (${load(src, "src", "off + i")} != 0);
    counts[b] = c;
}

__kernel void compact_write(__global const ${src.ctype} *src, const long off, const long n,
                            const long B, __global const long *offsets, __global long *out,
                            const long nblocks)
{
    const long b = (long)get_global_id(0);
    if (b >= nblocks) return;
    const long end = min(n, (b + 1) * B);
    long pos = offsets[b];
    for (long i = b * B; i < end; ++i)
        if (${load(src, "src", "off + i")} != 0) out[pos++] = i;
}
