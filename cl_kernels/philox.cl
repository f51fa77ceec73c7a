/* Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 * A counter-based generator: the same (counter, key) gives the same four 32-bit words on every
 * device, so a seed reproduces a stream everywhere. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; ++r) {
        const uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        const uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += PHILOX_W0;
        k.y += PHILOX_W1;
    }
    return c;
}

/* A float in [0, 1) from the top 24 bits; in (0, 1] with the +1 variant (safe for log). */
static float u01_f(uint x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
static float u01_open_f(uint x) { return ((float)(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }
