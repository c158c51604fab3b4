/* sr_rng.c - xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "sr_rng.h"

#include <math.h>

static uint64_t sr_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sr_rng_seed(sr_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sr_rng_splitmix(&x);
}

static inline uint64_t sr_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sr_rng_u64(sr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sr_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sr_rng_rotl(s[3], 45);
    return result;
}

double sr_rng_uniform(sr_rng *r)
{
    return (double)(sr_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t sr_rng_below(sr_rng *r, uint64_t n)
{
    /* Lemire's rejection: unbiased for every n. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = sr_rng_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

double sr_rng_normal(sr_rng *r)
{
    double u1 = sr_rng_uniform(r);
    double u2 = sr_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
