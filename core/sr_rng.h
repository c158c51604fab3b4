/* sr_rng.h - seeded, portable pseudo-random numbers (xoshiro256** seeded by
 * splitmix64). Same seed, same stream on every machine. */
#ifndef SR_RNG_H
#define SR_RNG_H

#include <stdint.h>

typedef struct sr_rng {
    uint64_t s[4];
} sr_rng;

void sr_rng_seed(sr_rng *r, uint64_t seed);
uint64_t sr_rng_u64(sr_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sr_rng_uniform(sr_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t sr_rng_below(sr_rng *r, uint64_t n);
/* Standard normal (Box-Muller; one value per call). */
double sr_rng_normal(sr_rng *r);

#endif /* SR_RNG_H */
