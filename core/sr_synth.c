/* sr_synth.c - the embedded default dataset: MSSD-format CSV with planted,
 * learnable structure (docs/data.md, "Synthetic data").
 *
 * Dimension legend:
 *   T  tracks (o->tracks)              U  users (listeners)
 *   D  latent dimension (o->dim)       M  candidates drawn per play (SYNTH_CANDIDATES)
 *   L  session length, 10..20          C  calibration sessions (SYNTH_CALIB_MIN..MAX)
 *
 * Model of one session: a user u (uniform over U) with unit taste t_u; the
 * state s starts at normalize(t_u + noise). At each position M candidates are
 * drawn from a Zipf(zipf_s) popularity alias table and one is picked by
 * softmax(v . s / temp). skip_2 is then drawn: INFORMATIVE, logistic in the
 * standardised affinity v . s plus a per-position intercept calibrated so that
 * the rate at each position follows synth_rate[]; RANDOM, synth_rate[] alone,
 * whatever the track. Finally s takes a random-walk step, moves toward the
 * played track and, INFORMATIVE only, away from a skipped one. skip_1 and
 * skip_3 are drawn conditionally on skip_2 (nesting skip_1 => skip_2 => skip_3)
 * and every other column from MSSD's marginals.
 *
 * Determinism: every random number comes from sr_rng integers; the decision
 * path uses only IEEE-754 +, -, *, / and sqrt (all correctly rounded), our own
 * exp/log built from them, and a fixed summation order. So the CSV bytes are
 * the same on any machine with FLT_EVAL_METHOD == 0 and no FMA contraction
 * (GCC in ISO C mode never contracts; clang is told so below).
 */
#include "sr_synth.h"

#include "sr_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdio.h> /* rename */
#include <math.h> /* sqrt only: correctly rounded by IEEE 754 on every machine */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if FLT_EVAL_METHOD != 0
#error "sr_synth.c needs FLT_EVAL_METHOD == 0 for machine-independent output"
#endif

/* ---- model constants (docs/data.md, "Synthetic data") ----------------------- */
#define SYNTH_MIN_LEN 10u
#define SYNTH_MAX_LEN 20u
#define SYNTH_CANDIDATES 16u      /* M */
#define SYNTH_INV_TEMP 10.0       /* softmax temperature 0.1 on cosine affinity */
#define SYNTH_START_NOISE 0.5     /* session start = taste + this * unit-ish noise */
#define SYNTH_DRIFT 0.15          /* random-walk step per play */
#define SYNTH_PULL 0.15           /* the state moves toward every played track */
#define SYNTH_PUSH 0.35           /* INFORMATIVE: and away from a skipped one */
#define SYNTH_BETA 1.5            /* logistic slope on the standardised affinity */
#define SYNTH_CALIB_MIN 2048u   /* calibration sessions: sessions / 16 within these */
#define SYNTH_CALIB_MAX 16384u
#define SYNTH_CALIB_PASSES 3
#define SYNTH_BUF_SIZE (4u << 20)
#define SYNTH_ROW_MAX 512u        /* more than the longest row (about 200 bytes) */
#define SYNTH_DEFAULT_PROGRESS_ROWS 1000000u
#define SYNTH_DEFAULT_START 1531612800 /* 2018-07-15 00:00:00 UTC, MSSD's first day */
#define SYNTH_LAST_DAY 2932896    /* 9999-12-31 in days since 1970-01-01 */

#define SYNTH_P32(p) ((uint32_t)((p) * 4294967296.0))

/* skip_2 rate per position (index 0 = position 1): 0.41 at the start rising
 * to a 0.51 plateau (MSSD sample: 0.41, 0.47, 0.49, 0.50 at positions 2..5),
 * rate(p) = c - (c - 0.41) * 0.7^(p-1) with c chosen so that the row-weighted
 * mean under the length distribution (45% at 20, the rest uniform on 10..19)
 * is 0.490. Literals rather than pow() so no libm result enters. */
static const double synth_rate[SYNTH_MAX_LEN] = {
    0.410, 0.440, 0.461, 0.475, 0.486, 0.493, 0.498, 0.501, 0.504, 0.505,
    0.507, 0.507, 0.508, 0.508, 0.509, 0.509, 0.509, 0.509, 0.509, 0.509,
};
#define SYNTH_P_LEN20 0.45
#define SYNTH_P_SKIP1_GIVEN_SKIP2 (0.36 / 0.49)   /* skip_1 ~0.36 overall */
#define SYNTH_P_SKIP3_GIVEN_NOT2 (0.16 / 0.51)    /* skip_3 ~0.65 overall */
#define SYNTH_P_SHUFFLE 0.30
#define SYNTH_P_PREMIUM 0.80
#define SYNTH_P_SWITCH_AFTER_ENDPLAY 0.5

typedef struct synth_lit {
    const char *s;
    uint32_t len;
    uint32_t w; /* weight in a categorical table */
} synth_lit;
#define SYNTH_LIT(str, w) { str, (uint32_t)(sizeof(str) - 1), w }

/* Per-session context mix of MSSD (per mille). */
static const synth_lit synth_context[] = {
    SYNTH_LIT("user_collection,", 370), SYNTH_LIT("editorial_playlist,", 240),
    SYNTH_LIT("catalog,", 210), SYNTH_LIT("radio,", 120),
    SYNTH_LIT("personalized_playlist,", 40), SYNTH_LIT("charts,", 20),
};

/* Hour of day, weights rising through the day to an evening peak. */
static const uint32_t synth_hour_w[24] = {
    30, 20, 15, 10, 10, 15, 25, 35, 40, 45, 50, 50,
    55, 55, 55, 60, 65, 70, 70, 65, 60, 55, 50, 40,
};

/* no_pause, short_pause, long_pause as MSSD writes them: a short pause also
 * sets long_pause (sample: 81% / 16% / 3%). */
static const synth_lit synth_pause[] = {
    SYNTH_LIT("1,0,0,", 810), SYNTH_LIT("0,1,1,", 160), SYNTH_LIT("0,0,1,", 30),
};
static const synth_lit synth_seekfwd[] = {
    SYNTH_LIT("0,", 980), SYNTH_LIT("1,", 15), SYNTH_LIT("2,", 3), SYNTH_LIT("3,", 2),
};
static const synth_lit synth_seekback[] = {
    SYNTH_LIT("0,", 968), SYNTH_LIT("1,", 21), SYNTH_LIT("2,", 5),
    SYNTH_LIT("3,", 3), SYNTH_LIT("4,", 1), SYNTH_LIT("5,", 2),
};

typedef enum synth_reason {
    SYNTH_REASON_TRACKDONE = 0,
    SYNTH_REASON_FWDBTN,
    SYNTH_REASON_BACKBTN,
    SYNTH_REASON_ENDPLAY,
    SYNTH_REASON_CLICKROW,
    SYNTH_REASON_LOGOUT,
    SYNTH_REASON_REMOTE,
    SYNTH_REASON_APPLOAD,
    SYNTH_REASON_PLAYBTN,
    SYNTH_REASON_COUNT
} synth_reason;

static const synth_lit synth_reason_name[SYNTH_REASON_COUNT] = {
    SYNTH_LIT("trackdone", 0), SYNTH_LIT("fwdbtn", 0), SYNTH_LIT("backbtn", 0),
    SYNTH_LIT("endplay", 0), SYNTH_LIT("clickrow", 0), SYNTH_LIT("logout", 0),
    SYNTH_LIT("remote", 0), SYNTH_LIT("appload", 0), SYNTH_LIT("playbtn", 0),
};

/* reason_end per skip level (per mille, from the MSSD sample): 0 = not
 * skipped (skip_3 false), 1 = skip_3 only, 2 = skip_2 but not skip_1,
 * 3 = skip_1. Indexed by synth_reason. */
static const uint32_t synth_end_w[4][SYNTH_REASON_COUNT] = {
    { 958, 22, 8, 12, 0, 0, 0, 0, 0 },
    { 30, 690, 55, 220, 0, 5, 0, 0, 0 },
    { 5, 770, 20, 200, 0, 0, 5, 0, 0 },
    { 0, 760, 160, 80, 0, 0, 0, 0, 0 },
};
/* reason_start of a session's first play. */
static const uint32_t synth_first_start_w[SYNTH_REASON_COUNT] = {
    420, 370, 50, 0, 150, 0, 0, 5, 5,
};
/* Later plays start the way the previous one ended ("fwdbtn" -> "fwdbtn");
 * after "endplay" the user picks the next one ("clickrow"). */
static const synth_reason synth_next_start[SYNTH_REASON_COUNT] = {
    SYNTH_REASON_TRACKDONE, SYNTH_REASON_FWDBTN, SYNTH_REASON_BACKBTN,
    SYNTH_REASON_CLICKROW, SYNTH_REASON_CLICKROW, SYNTH_REASON_APPLOAD,
    SYNTH_REASON_REMOTE, SYNTH_REASON_TRACKDONE, SYNTH_REASON_TRACKDONE,
};

static const char synth_header[] =
    "session_id,session_position,session_length,track_id_clean,skip_1,skip_2,"
    "skip_3,not_skipped,context_switch,no_pause_before_play,"
    "short_pause_before_play,long_pause_before_play,"
    "hist_user_behavior_n_seekfwd,hist_user_behavior_n_seekback,"
    "hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,"
    "hist_user_behavior_reason_start,hist_user_behavior_reason_end\n";

/* ---- arithmetic from IEEE basic operations only ------------------------------ */

/* splitmix64's finaliser: a bijection on 64-bit words, so distinct inputs
 * give distinct ids. */
static inline uint64_t synth_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double synth_pow2i(int64_t k) /* k in [-1022, 1023] */
{
    uint64_t u = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* The range reduction of both exp approximations below: x = k ln2 + r with
 * k the integer nearest x / ln2 (halves away from zero), |r| <= ln2 / 2, ln2
 * split in a high and a low part (Cody-Waite) so that r keeps its precision.
 * Returns r. */
static inline double synth_exp_reduce(double x, int64_t *k)
{
    double kd = x * 1.4426950408889634;
    *k = (int64_t)(kd < 0.0 ? kd - 0.5 : kd + 0.5);
    return (x - (double)*k * 6.93147180369123816490e-01)
           - (double)*k * 1.90821492927058770002e-10;
}

/* exp(x) for x clamped to [-700, 700]: the reduction above, then a
 * degree-11 Taylor polynomial (relative error < 1e-14). */
static double synth_exp(double x)
{
    if (x < -700.0)
        x = -700.0;
    if (x > 700.0)
        x = 700.0;
    int64_t k;
    double r = synth_exp_reduce(x, &k);
    double p = 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return p * synth_pow2i(k);
}

/* exp(x) for the softmax weights, x in [-40, 0] (affinities are cosines, so
 * |dot - best| <= 2 and the temperature is 0.1): the same reduction with a
 * degree-7 polynomial (relative error < 1e-8, ample for sampling weights),
 * inlined because it runs M times per play. */
static inline double synth_exp_softmax(double x)
{
    if (x < -700.0)
        x = -700.0;
    int64_t k;
    double r = synth_exp_reduce(x, &k);
    double p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return p * synth_pow2i(k);
}

/* log(x) for finite x > 0 (normal): x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(f), f = (m-1)/(m+1), |f| < 0.172, series to f^23. */
static double synth_log(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    int64_t e = (int64_t)((u >> 52) & 0x7ff) - 1023;
    u = (u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    memcpy(&m, &u, sizeof m);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e += 1;
    }
    double f = (m - 1.0) / (m + 1.0);
    double f2 = f * f;
    double s = 1.0 / 23.0;
    for (int k = 21; k >= 1; k -= 2)
        s = s * f2 + 1.0 / (double)k;
    return (double)e * 6.93147180369123816490e-01
           + ((double)e * 1.90821492927058770002e-10 + 2.0 * f * s);
}

static inline double synth_sigmoid(double x)
{
    return 1.0 / (1.0 + synth_exp(-x));
}

/* Approximately standard normal from one 64-bit draw: the sum of four 16-bit
 * uniforms (Irwin-Hall), centred and scaled to unit variance. Bounded by
 * +-3.46, which is all the latent noise needs, and free of log/cos. */
static inline double synth_gauss(sr_rng *r)
{
    uint64_t x = sr_rng_u64(r);
    double s = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff)
               + (double)((x >> 32) & 0xffff) + (double)(x >> 48);
    return (s - 131070.0) * 2.6428997921303014e-05;
}

/* Four independent uniforms on [-sqrt(3), sqrt(3)) (unit variance) from one
 * 64-bit draw: the per-play random-walk noise, where the shape of the step
 * distribution does not matter but its cost (D values per play) does. */
static inline void synth_noise4(sr_rng *r, double out[4])
{
    uint64_t x = sr_rng_u64(r);
    for (int k = 0; k < 4; k++) {
        out[k] = ((double)(x & 0xffff) - 32767.5) * 5.285799583645255e-05; /* 2 sqrt(3) / 65536 */
        x >>= 16;
    }
}

static inline bool synth_bern(sr_rng *r, uint32_t thr)
{
    return (uint32_t)(sr_rng_u64(r) >> 32) < thr;
}

/* Index drawn from integer weights w[0..n). */
static uint32_t synth_pick(sr_rng *r, const uint32_t *w, uint32_t n)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += w[i];
    uint64_t x = sr_rng_below(r, total);
    for (uint32_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

static uint32_t synth_pick_lit(sr_rng *r, const synth_lit *t, uint32_t n)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += t[i].w;
    uint64_t x = sr_rng_below(r, total);
    for (uint32_t i = 0; i < n; i++) {
        if (x < t[i].w)
            return i;
        x -= t[i].w;
    }
    return n - 1;
}

/* Dot product with four fixed partial sums: faster than one serial chain and
 * still the same order of operations on every machine. */
static inline double synth_dot(const float *v, const double *s, uint32_t D)
{
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    uint32_t d = 0;
    for (; d + 4 <= D; d += 4) {
        a0 += (double)v[d] * s[d];
        a1 += (double)v[d + 1] * s[d + 1];
        a2 += (double)v[d + 2] * s[d + 2];
        a3 += (double)v[d + 3] * s[d + 3];
    }
    for (; d < D; d++)
        a0 += (double)v[d] * s[d];
    return (a0 + a1) + (a2 + a3);
}

static void synth_normalize(double *s, uint32_t D)
{
    double n2 = 0.0;
    for (uint32_t d = 0; d < D; d++)
        n2 += s[d] * s[d];
    if (n2 > 0.0) {
        double inv = 1.0 / sqrt(n2);
        for (uint32_t d = 0; d < D; d++)
            s[d] *= inv;
    }
}

/* ---- the model ---------------------------------------------------------------- */

/* Column c of the alias table: keep c when the low 32 bits of the draw are
 * below thr, else take idx. Interleaved so a draw touches one cache line. */
typedef struct synth_alias {
    uint32_t thr, idx;
} synth_alias;

typedef struct synth_model {
    uint32_t T, U, D;
    sr_synth_skips skips;
    float *track_vec;     /* [T][D] unit latent vectors */
    float *user_vec;      /* [U][D] unit tastes */
    synth_alias *alias;   /* [T] one popularity column per track */
    double start_scale;   /* SYNTH_START_NOISE / sqrt(D): noise of norm ~0.5 */
    double drift_scale;   /* SYNTH_DRIFT / sqrt(D) */
    double mu, inv_sd;    /* standardisation of the affinity v . s */
    double icpt[SYNTH_MAX_LEN]; /* logistic intercept per position */
    uint64_t key_session, key_track1, key_track2, key_premium, key_rng;
} synth_model;

static void synth_model_free(synth_model *m)
{
    free(m->track_vec);
    free(m->user_vec);
    free(m->alias);
    memset(m, 0, sizeof *m);
}

static void synth_unit_vectors(float *out, uint64_t n, uint32_t D, sr_rng *r)
{
    double g[SR_SYNTH_MAX_DIM];
    for (uint64_t i = 0; i < n; i++) {
        for (uint32_t d = 0; d < D; d++)
            g[d] = synth_gauss(r);
        synth_normalize(g, D);
        for (uint32_t d = 0; d < D; d++)
            out[i * D + d] = (float)g[d];
    }
}

/* Vose's alias method over Zipf weights w_k = (k+1)^-s (track k has rank k):
 * O(1) per draw, which keeps 16 candidates per play cheap. */
static sr_err synth_alias_build(synth_model *m, double s)
{
    uint32_t T = m->T;
    sr_err err = SR_OK;
    double *q = malloc((size_t)T * sizeof *q);            /* [T] scaled weights */
    uint32_t *stack = malloc((size_t)T * sizeof *stack);  /* [T] small from the front, large from the back */
    if (!q || !stack) {
        err = sr_errorf(SR_ERR_NOMEM, "synth: no memory for the popularity table of %u tracks", T);
        goto done;
    }
    double sum = 0.0;
    for (uint32_t k = 0; k < T; k++) {
        double w;
        if (s == 0.0)
            w = 1.0;
        else if (s == 1.0)
            w = 1.0 / (double)(k + 1);
        else
            w = synth_exp(-s * synth_log((double)(k + 1)));
        q[k] = w;
        sum += w;
    }
    uint32_t n_small = 0, n_large = 0;
    for (uint32_t k = 0; k < T; k++) {
        q[k] = q[k] * (double)T / sum;
        if (q[k] < 1.0)
            stack[n_small++] = k;
        else
            stack[T - 1 - n_large++] = k;
    }
    while (n_small > 0 && n_large > 0) {
        uint32_t sm = stack[--n_small];
        uint32_t lg = stack[T - n_large];
        m->alias[sm].thr = SYNTH_P32(q[sm]);
        m->alias[sm].idx = lg;
        q[lg] = (q[lg] + q[sm]) - 1.0;
        if (q[lg] < 1.0) {
            n_large--;
            stack[n_small++] = lg;
        }
    }
    /* What is left has weight 1 up to rounding: always keep its own column. */
    while (n_small > 0) {
        uint32_t k = stack[--n_small];
        m->alias[k].thr = UINT32_MAX;
        m->alias[k].idx = k;
    }
    while (n_large > 0) {
        uint32_t k = stack[T - n_large--];
        m->alias[k].thr = UINT32_MAX;
        m->alias[k].idx = k;
    }
done:
    free(q);
    free(stack);
    return err;
}

static inline uint32_t synth_alias_draw(const synth_model *m, sr_rng *r)
{
    uint64_t x = sr_rng_u64(r);
    uint32_t c = (uint32_t)(((x >> 32) * (uint64_t)m->T) >> 32);
    synth_alias a = m->alias[c];
    return (uint32_t)x < a.thr ? c : a.idx;
}

/* One session of `len` plays: tracks[len] and skip2[len]. With rate_only the
 * skip decision uses synth_rate[] even in INFORMATIVE mode (the first
 * calibration pass); z_out[pos * z_stride], when given, receives v . s. */
static void synth_simulate(const synth_model *m, sr_rng *r, uint32_t user, uint32_t len,
                           bool rate_only, uint32_t *tracks, uint8_t *skip2,
                           double *z_out, size_t z_stride)
{
    uint32_t D = m->D;
    bool informative = m->skips == SR_SYNTH_SKIPS_INFORMATIVE;
    double s[SR_SYNTH_MAX_DIM];            /* [D] session state, unit norm */
    uint32_t cand[SYNTH_CANDIDATES];
    double dot[SYNTH_CANDIDATES], w[SYNTH_CANDIDATES];

    const float *taste = m->user_vec + (size_t)user * D;
    for (uint32_t d = 0; d < D; d++)
        s[d] = (double)taste[d] + m->start_scale * synth_gauss(r);
    synth_normalize(s, D);

    for (uint32_t pos = 0; pos < len; pos++) {
        /* Draw all candidates first and prefetch their vectors: tail tracks
         * miss the cache, and the misses then overlap. */
        for (uint32_t c = 0; c < SYNTH_CANDIDATES; c++) {
            cand[c] = synth_alias_draw(m, r);
            __builtin_prefetch(m->track_vec + (size_t)cand[c] * D);
        }
        double best = -2.0;
        for (uint32_t c = 0; c < SYNTH_CANDIDATES; c++) {
            dot[c] = synth_dot(m->track_vec + (size_t)cand[c] * D, s, D);
            if (dot[c] > best)
                best = dot[c];
        }
        double total = 0.0;
        for (uint32_t c = 0; c < SYNTH_CANDIDATES; c++) {
            w[c] = synth_exp_softmax((dot[c] - best) * SYNTH_INV_TEMP);
            total += w[c];
        }
        double u = sr_rng_uniform(r) * total;
        uint32_t pick = 0;
        double acc = w[0];
        while (pick + 1 < SYNTH_CANDIDATES && u >= acc)
            acc += w[++pick];

        uint32_t t = cand[pick];
        double z = dot[pick];
        double p = (informative && !rate_only)
                       ? synth_sigmoid(m->icpt[pos] - SYNTH_BETA * (z - m->mu) * m->inv_sd)
                       : synth_rate[pos];
        bool skipped = sr_rng_uniform(r) < p;
        tracks[pos] = t;
        skip2[pos] = skipped;
        if (z_out)
            z_out[pos * z_stride] = z;

        /* RANDOM moves the same way whatever the label, so its skips tell
         * nothing about the tracks that follow either. */
        double coef = SYNTH_PULL - ((informative && skipped) ? SYNTH_PUSH : 0.0);
        const float *v = m->track_vec + (size_t)t * D;
        double noise[4];
        for (uint32_t d = 0; d < D; d++) {
            if ((d & 3) == 0)
                synth_noise4(r, noise);
            s[d] += m->drift_scale * noise[d & 3] + coef * (double)v[d];
        }
        synth_normalize(s, D);
    }
}

/* The intercept a with mean_i sigmoid(a - x_i) = target: safeguarded Newton
 * (the mean is increasing in a with derivative mean sigma (1 - sigma)). */
static double synth_solve_icpt(const double *x, size_t n, double target)
{
    double lo = -40.0, hi = 40.0;
    double a = synth_log(target / (1.0 - target));
    for (int it = 0; it < 100; it++) {
        double f = 0.0, df = 0.0;
        for (size_t i = 0; i < n; i++) {
            double sg = synth_sigmoid(a - x[i]);
            f += sg;
            df += sg * (1.0 - sg);
        }
        f = f / (double)n - target;
        df = df / (double)n;
        if (f < 0.0)
            lo = a;
        else
            hi = a;
        if (f < 1e-13 && f > -1e-13)
            break;
        double next = df > 0.0 ? a - f / df : 0.5 * (lo + hi);
        if (!(next > lo && next < hi))
            next = 0.5 * (lo + hi);
        a = next;
    }
    return a;
}

/* INFORMATIVE: calibrate the per-position intercepts on C simulated sessions
 * of length 20 (drawn from their own stream, so the output's sessions are not
 * disturbed). The overall rate's calibration error has a standard deviation
 * of about 0.004 at C = 2048, so C grows with the output (sessions / 16, up
 * to 16384: about 5% of the run) to stay below the output's own noise. Pass 1 decides skips by synth_rate[] and fixes the affinity's
 * mean and spread; each later pass re-simulates with the current intercepts
 * (the push after a skip changes what follows) and re-solves them. */
static sr_err synth_calibrate(synth_model *m, uint64_t key, uint64_t sessions)
{
    if (m->skips != SR_SYNTH_SKIPS_INFORMATIVE)
        return SR_OK;
    const size_t C = sessions / 16 < SYNTH_CALIB_MIN   ? SYNTH_CALIB_MIN
                     : sessions / 16 > SYNTH_CALIB_MAX ? SYNTH_CALIB_MAX
                                                       : (size_t)(sessions / 16);
    double *z = malloc(C * SYNTH_MAX_LEN * sizeof *z);  /* [L][C] affinities */
    double *x = malloc(C * sizeof *x);                  /* [C] logistic offsets */
    uint32_t tracks[SYNTH_MAX_LEN];
    uint8_t skip2[SYNTH_MAX_LEN];
    if (!z || !x) {
        free(z);
        free(x);
        return sr_errorf(SR_ERR_NOMEM, "synth: no memory for calibration");
    }
    m->mu = 0.0;
    m->inv_sd = 1.0;
    for (int pass = 0; pass < SYNTH_CALIB_PASSES; pass++) {
        sr_rng r;
        sr_rng_seed(&r, key);
        for (size_t c = 0; c < C; c++) {
            uint32_t user = (uint32_t)sr_rng_below(&r, m->U);
            synth_simulate(m, &r, user, SYNTH_MAX_LEN, pass == 0, tracks, skip2, z + c, C);
        }
        if (pass == 0) {
            double sum = 0.0, sum2 = 0.0;
            size_t n = C * SYNTH_MAX_LEN;
            for (size_t i = 0; i < n; i++)
                sum += z[i];
            double mu = sum / (double)n;
            for (size_t i = 0; i < n; i++)
                sum2 += (z[i] - mu) * (z[i] - mu);
            double var = sum2 / (double)n;
            m->mu = mu;
            m->inv_sd = var > 1e-24 ? 1.0 / sqrt(var) : 0.0;
        }
        for (uint32_t pos = 0; pos < SYNTH_MAX_LEN; pos++) {
            for (size_t c = 0; c < C; c++)
                x[c] = SYNTH_BETA * (z[pos * C + c] - m->mu) * m->inv_sd;
            m->icpt[pos] = synth_solve_icpt(x, C, synth_rate[pos]);
        }
    }
    free(z);
    free(x);
    return SR_OK;
}

static sr_err synth_model_init(synth_model *m, const sr_synth_opts *o, uint32_t users)
{
    memset(m, 0, sizeof *m);
    m->T = o->tracks;
    m->U = users;
    m->D = o->dim;
    m->skips = o->skips;
    uint64_t k = synth_mix(o->seed ^ 0x5eed5eed5eed5eedull);
    m->key_session = synth_mix(k ^ 1);
    m->key_track1 = synth_mix(k ^ 2);
    m->key_track2 = synth_mix(k ^ 3);
    m->key_premium = synth_mix(k ^ 4);
    m->key_rng = synth_mix(k ^ 5);
    m->start_scale = SYNTH_START_NOISE / sqrt((double)m->D);
    m->drift_scale = SYNTH_DRIFT / sqrt((double)m->D);

    m->track_vec = malloc((size_t)m->T * m->D * sizeof *m->track_vec);
    m->user_vec = malloc((size_t)m->U * m->D * sizeof *m->user_vec);
    m->alias = malloc((size_t)m->T * sizeof *m->alias);
    if (!m->track_vec || !m->user_vec || !m->alias) {
        synth_model_free(m);
        return sr_errorf(SR_ERR_NOMEM,
                         "synth: no memory for %u tracks and %u users of dimension %u",
                         o->tracks, users, o->dim);
    }
    sr_rng r;
    sr_rng_seed(&r, synth_mix(k ^ 6));
    synth_unit_vectors(m->track_vec, m->T, m->D, &r);
    sr_rng_seed(&r, synth_mix(k ^ 7));
    synth_unit_vectors(m->user_vec, m->U, m->D, &r);
    sr_err err = synth_alias_build(m, o->zipf_s);
    if (err == SR_OK)
        err = synth_calibrate(m, synth_mix(k ^ 8), o->sessions);
    if (err != SR_OK)
        synth_model_free(m);
    return err;
}

/* ---- formatting --------------------------------------------------------------- */

static const char synth_hexdig[] = "0123456789abcdef";

static inline void synth_hex(char *p, uint64_t x, int n) /* the low 4n bits */
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = synth_hexdig[x & 15];
        x >>= 4;
    }
}

/* "t_xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx": the first 64 bits are a bijection
 * of the index, so ids never collide. */
static inline char *synth_put_track(const synth_model *m, uint32_t t, char *p)
{
    uint64_t h1 = synth_mix((uint64_t)t ^ m->key_track1);
    uint64_t h2 = synth_mix((uint64_t)t ^ m->key_track2);
    p[0] = 't';
    p[1] = '_';
    synth_hex(p + 2, h1 >> 32, 8);
    p[10] = '-';
    synth_hex(p + 11, h1 >> 16, 4);
    p[15] = '-';
    synth_hex(p + 16, h1, 4);
    p[20] = '-';
    synth_hex(p + 21, h2 >> 48, 4);
    p[25] = '-';
    synth_hex(p + 26, h2, 12);
    return p + 38;
}

static inline char *synth_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static inline char *synth_put_bool(char *p, bool b)
{
    return b ? synth_put(p, "True,", 5) : synth_put(p, "False,", 6);
}

static char *synth_put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* Howard Hinnant's days_from_civil inverse: proleptic Gregorian, integers only. */
static void synth_civil(int64_t z, int64_t *y, unsigned *mo, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *mo = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*mo <= 2);
}

static char *synth_put_date(char *p, int64_t day)
{
    int64_t y;
    unsigned mo, d;
    synth_civil(day, &y, &mo, &d);
    p[0] = (char)('0' + (y / 1000) % 10);
    p[1] = (char)('0' + (y / 100) % 10);
    p[2] = (char)('0' + (y / 10) % 10);
    p[3] = (char)('0' + y % 10);
    p[4] = '-';
    p[5] = (char)('0' + mo / 10);
    p[6] = (char)('0' + mo % 10);
    p[7] = '-';
    p[8] = (char)('0' + d / 10);
    p[9] = (char)('0' + d % 10);
    return p + 10;
}

/* ---- output ------------------------------------------------------------------- */

typedef struct synth_out {
    const char *path;
    char *tmp;           /* "<path>.tmp" */
    int fd;
    bool created;        /* tmp exists and is ours to remove */
    gzFile gz;           /* NULL for plain CSV */
    char *buf;           /* [SYNTH_BUF_SIZE] */
    size_t used;
    uint64_t raw_bytes;  /* CSV bytes handed to the file */
} synth_out;

static sr_err synth_out_flush(synth_out *w)
{
    const char *p = w->buf;
    size_t n = w->used;
    w->raw_bytes += n;
    w->used = 0;
    if (w->gz) {
        while (n > 0) {
            unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
            int k = gzwrite(w->gz, p, chunk);
            if (k <= 0) {
                int zerr = 0;
                const char *msg = gzerror(w->gz, &zerr);
                return sr_errorf(SR_ERR_IO, "synth: write %s: %s", w->tmp,
                                 zerr == Z_ERRNO ? strerror(errno) : msg);
            }
            p += k;
            n -= (size_t)k;
        }
        return SR_OK;
    }
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return sr_errorf(SR_ERR_IO, "synth: write %s: %s", w->tmp, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return SR_OK;
}

static bool synth_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static sr_err synth_out_open(synth_out *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->path = path;
    size_t n = strlen(path);
    w->tmp = malloc(n + 5);
    w->buf = malloc(SYNTH_BUF_SIZE);
    if (!w->tmp || !w->buf)
        return sr_errorf(SR_ERR_NOMEM, "synth: no memory for the output buffer of %s", path);
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->fd = sr_tmpfile_create(w->tmp, false);
    if (w->fd < 0)
        return sr_errorf(SR_ERR_IO, "synth: create %s: %s", w->tmp, strerror(errno));
    w->created = true;
    if (synth_ends_with(path, ".gz")) {
        /* gzclose closes the fd it was given: hand it a duplicate and keep
         * ours for the fsync. Level 1: the file is a regenerable artefact and
         * level 6 would be several times slower than generating it. */
        int fd2 = dup(w->fd);
        if (fd2 < 0)
            return sr_errorf(SR_ERR_IO, "synth: dup %s: %s", w->tmp, strerror(errno));
        w->gz = gzdopen(fd2, "wb1");
        if (!w->gz) {
            close(fd2);
            return sr_errorf(SR_ERR_NOMEM, "synth: gzdopen %s failed", w->tmp);
        }
        gzbuffer(w->gz, 1u << 20);
    }
    return SR_OK;
}

/* Flush, close and fsync the temporary file; *bytes = its size. */
static sr_err synth_out_finish(synth_out *w, uint64_t *bytes)
{
    sr_err err = synth_out_flush(w);
    if (err != SR_OK)
        return err;
    if (w->gz) {
        int zr = gzclose(w->gz);
        w->gz = NULL;
        if (zr != Z_OK)
            return sr_errorf(SR_ERR_IO, "synth: finish %s: zlib error %d (%s)", w->tmp, zr,
                             zr == Z_ERRNO ? strerror(errno) : "compression failed");
    }
    if (fsync(w->fd) != 0)
        return sr_errorf(SR_ERR_IO, "synth: fsync %s: %s", w->tmp, strerror(errno));
    struct stat st;
    if (fstat(w->fd, &st) != 0)
        return sr_errorf(SR_ERR_IO, "synth: stat %s: %s", w->tmp, strerror(errno));
    *bytes = (uint64_t)st.st_size;
    int rc = close(w->fd);
    w->fd = -1;
    if (rc != 0)
        return sr_errorf(SR_ERR_IO, "synth: close %s: %s", w->tmp, strerror(errno));
    return SR_OK;
}

/* Release everything; with `remove` also delete the temporary file. */
static void synth_out_close(synth_out *w, bool remove)
{
    if (w->gz) {
        gzclose(w->gz);
        w->gz = NULL;
    }
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (remove && w->created)
        unlink(w->tmp);
    free(w->tmp);
    free(w->buf);
    w->tmp = NULL;
    w->buf = NULL;
}

/* Make the rename durable; a directory that cannot be fsynced (some file
 * systems refuse) does not make the data wrong, so that is not an error. */
static void synth_fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (!slash) {
        dir = malloc(2);
        if (dir)
            memcpy(dir, ".", 2);
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* ---- public API ----------------------------------------------------------------- */

void sr_synth_opts_default(sr_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sessions = 10000;
    o->tracks = 20000;
    o->users = 0;
    o->dim = 16;
    o->seed = 42;
    o->skips = SR_SYNTH_SKIPS_INFORMATIVE;
    o->zipf_s = 1.0;
    o->start_date = SYNTH_DEFAULT_START;
    o->days = 14;
    o->progress_rows = 0;
}

static const char *const sr_synth_skips_names[] = {
    [SR_SYNTH_SKIPS_INFORMATIVE] = "informative",
    [SR_SYNTH_SKIPS_RANDOM] = "random",
};

sr_err sr_synth_skips_parse(sr_str s, sr_synth_skips *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_synth_skips_names, SR_COUNTOF(sr_synth_skips_names), "synth skips", &i);
    if (err == SR_OK)
        *out = (sr_synth_skips)i;
    return err;
}

const char *sr_synth_skips_name(sr_synth_skips s)
{
    return sr_name_at(sr_synth_skips_names, SR_COUNTOF(sr_synth_skips_names), (unsigned)s);
}

static sr_err synth_check_opts(const char *path, const sr_synth_opts *o, uint32_t *users)
{
    if (!path || !path[0])
        return sr_errorf(SR_ERR_ARG, "synth: empty output path");
    if (o->sessions < 1 || o->sessions > SR_SYNTH_MAX_SESSIONS)
        return sr_errorf(SR_ERR_ARG, "synth: sessions %llu outside [1, %llu]",
                         (unsigned long long)o->sessions, SR_SYNTH_MAX_SESSIONS);
    if (o->tracks < 1 || o->tracks > SR_SYNTH_MAX_TRACKS)
        return sr_errorf(SR_ERR_ARG, "synth: tracks %u outside [1, %u]", o->tracks,
                         SR_SYNTH_MAX_TRACKS);
    if (o->users > SR_SYNTH_MAX_USERS)
        return sr_errorf(SR_ERR_ARG, "synth: users %u outside [0 (auto), %u]", o->users,
                         SR_SYNTH_MAX_USERS);
    if (o->dim < 1 || o->dim > SR_SYNTH_MAX_DIM)
        return sr_errorf(SR_ERR_ARG, "synth: dim %u outside [1, %u]", o->dim, SR_SYNTH_MAX_DIM);
    if (o->skips != SR_SYNTH_SKIPS_INFORMATIVE && o->skips != SR_SYNTH_SKIPS_RANDOM)
        return sr_errorf(SR_ERR_ARG, "synth: unknown skips mode %d", (int)o->skips);
    if (!(o->zipf_s >= 0.0 && o->zipf_s <= SR_SYNTH_MAX_ZIPF_S))
        return sr_errorf(SR_ERR_ARG, "synth: zipf_s %g outside [0, %g]", o->zipf_s,
                         SR_SYNTH_MAX_ZIPF_S);
    if (o->days < 1 || o->days > SR_SYNTH_MAX_DAYS)
        return sr_errorf(SR_ERR_ARG, "synth: days %u outside [1, %u]", o->days,
                         SR_SYNTH_MAX_DAYS);
    if (o->start_date < 0 || o->start_date / 86400 + (int64_t)o->days - 1 > SYNTH_LAST_DAY)
        return sr_errorf(SR_ERR_ARG,
                         "synth: start_date %lld with %u days leaves 1970-01-01..9999-12-31",
                         (long long)o->start_date, o->days);
    uint64_t u = o->users;
    if (u == 0) {
        u = o->sessions / 4;
        if (u < 1)
            u = 1;
        if (u > SR_SYNTH_MAX_USERS)
            u = SR_SYNTH_MAX_USERS;
    }
    if (((uint64_t)o->tracks + u) * o->dim > SR_SYNTH_MAX_LATENT)
        return sr_errorf(SR_ERR_LIMIT,
                         "synth: (tracks %u + users %llu) * dim %u latent floats exceed %llu",
                         o->tracks, (unsigned long long)u, o->dim, SR_SYNTH_MAX_LATENT);
    *users = (uint32_t)u;
    return SR_OK;
}

sr_err sr_synth_write(const char *path, const sr_synth_opts *opts,
                      sr_progress_fn progress, void *ud, sr_synth_summary *out)
{
    sr_synth_opts defaults;
    if (!opts) {
        sr_synth_opts_default(&defaults);
        opts = &defaults;
    }
    const sr_synth_opts *o = opts;
    uint32_t users = 0;
    sr_err err = synth_check_opts(path, o, &users);
    if (err != SR_OK)
        return err;

    /* Open the output first: an unwritable path fails before the model is
     * built and calibrated. */
    synth_model m;
    synth_out w;
    bool keep = false;
    memset(&m, 0, sizeof m);
    err = synth_out_open(&w, path);
    if (err == SR_OK)
        err = synth_model_init(&m, o, users);
    if (err != SR_OK)
        goto done;

    const uint64_t S = o->sessions;
    const uint64_t every = o->progress_rows ? o->progress_rows : SYNTH_DEFAULT_PROGRESS_ROWS;
    const int64_t first_day = o->start_date / 86400;
    uint64_t rows = 0, skipped = 0, next_report = every;
    uint32_t tracks[SYNTH_MAX_LEN];
    uint8_t skip2[SYNTH_MAX_LEN];
    char prefix[32];   /* "s_<16 hex>," */
    char tail[96];     /* "<shuffle>,<hour>,<date>,<premium>,<context_type>," */
    char lenstr[24];   /* "<length>," */

    if (progress && !progress(ud, "synth", 0, S)) {
        err = sr_errorf(SR_ERR_CANCELLED, "synth %s: cancelled before the first session", path);
        goto done;
    }
    w.used = sizeof synth_header - 1;
    memcpy(w.buf, synth_header, w.used);

    for (uint64_t i = 0; i < S; i++) {
        sr_rng r;
        sr_rng_seed(&r, synth_mix(m.key_rng ^ i));
        uint32_t len = synth_bern(&r, SYNTH_P32(SYNTH_P_LEN20))
                           ? SYNTH_MAX_LEN
                           : SYNTH_MIN_LEN + (uint32_t)sr_rng_below(&r, SYNTH_MAX_LEN - SYNTH_MIN_LEN);
        uint32_t user = (uint32_t)sr_rng_below(&r, m.U);
        uint32_t hour = synth_pick(&r, synth_hour_w, 24);
        uint32_t ctx = synth_pick_lit(&r, synth_context, SR_COUNTOF(synth_context));
        bool shuffle = synth_bern(&r, SYNTH_P32(SYNTH_P_SHUFFLE));
        bool premium = (uint32_t)(synth_mix((uint64_t)user ^ m.key_premium) >> 32)
                       < SYNTH_P32(SYNTH_P_PREMIUM);
        /* Days grow with the session index, like MSSD's daily files. */
        int64_t day = first_day + (int64_t)((i * (uint64_t)o->days) / S);

        char *p = prefix;
        *p++ = 's';
        *p++ = '_';
        synth_hex(p, synth_mix(i ^ m.key_session), 16);
        p += 16;
        *p++ = ',';
        size_t prefix_len = (size_t)(p - prefix);
        p = synth_put_u64(lenstr, len);
        *p++ = ',';
        size_t lenstr_len = (size_t)(p - lenstr);
        p = synth_put_bool(tail, shuffle);
        p = synth_put_u64(p, hour);
        *p++ = ',';
        p = synth_put_date(p, day);
        *p++ = ',';
        p = synth_put_bool(p, premium);
        p = synth_put(p, synth_context[ctx].s, synth_context[ctx].len);
        size_t tail_len = (size_t)(p - tail);

        synth_simulate(&m, &r, user, len, false, tracks, skip2, NULL, 0);

        synth_reason prev_end = SYNTH_REASON_TRACKDONE;
        for (uint32_t pos = 0; pos < len; pos++) {
            bool s2 = skip2[pos];
            bool s1 = s2 && synth_bern(&r, SYNTH_P32(SYNTH_P_SKIP1_GIVEN_SKIP2));
            bool s3 = s2 || synth_bern(&r, SYNTH_P32(SYNTH_P_SKIP3_GIVEN_NOT2));
            int level = s1 ? 3 : s2 ? 2 : s3 ? 1 : 0;
            bool cswitch = false;
            synth_reason start;
            if (pos == 0) {
                start = (synth_reason)synth_pick(&r, synth_first_start_w, SYNTH_REASON_COUNT);
            } else {
                start = synth_next_start[prev_end];
                if (prev_end == SYNTH_REASON_ENDPLAY)
                    cswitch = synth_bern(&r, SYNTH_P32(SYNTH_P_SWITCH_AFTER_ENDPLAY));
            }
            synth_reason end = (synth_reason)synth_pick(&r, synth_end_w[level], SYNTH_REASON_COUNT);
            uint32_t pause = synth_pick_lit(&r, synth_pause, SR_COUNTOF(synth_pause));
            uint32_t sf = synth_pick_lit(&r, synth_seekfwd, SR_COUNTOF(synth_seekfwd));
            uint32_t sb = synth_pick_lit(&r, synth_seekback, SR_COUNTOF(synth_seekback));
            prev_end = end;

            if (w.used + SYNTH_ROW_MAX > SYNTH_BUF_SIZE) {
                err = synth_out_flush(&w);
                if (err != SR_OK)
                    goto done;
            }
            p = w.buf + w.used;
            p = synth_put(p, prefix, prefix_len);
            p = synth_put_u64(p, pos + 1);
            *p++ = ',';
            p = synth_put(p, lenstr, lenstr_len);
            p = synth_put_track(&m, tracks[pos], p);
            *p++ = ',';
            p = synth_put_bool(p, s1);
            p = synth_put_bool(p, s2);
            p = synth_put_bool(p, s3);
            p = synth_put_bool(p, !s3);
            p = synth_put(p, cswitch ? "1," : "0,", 2);
            p = synth_put(p, synth_pause[pause].s, synth_pause[pause].len);
            p = synth_put(p, synth_seekfwd[sf].s, synth_seekfwd[sf].len);
            p = synth_put(p, synth_seekback[sb].s, synth_seekback[sb].len);
            p = synth_put(p, tail, tail_len);
            p = synth_put(p, synth_reason_name[start].s, synth_reason_name[start].len);
            *p++ = ',';
            p = synth_put(p, synth_reason_name[end].s, synth_reason_name[end].len);
            *p++ = '\n';
            w.used = (size_t)(p - w.buf);
            skipped += s2;
        }
        rows += len;
        if (rows >= next_report) {
            /* Keep to the grid of multiples of `every`; the last session is
             * reported by the final call below. */
            while (next_report <= rows)
                next_report += every;
            if (i + 1 < S && progress && !progress(ud, "synth", i + 1, S)) {
                err = sr_errorf(SR_ERR_CANCELLED, "synth %s: cancelled after %llu of %llu sessions",
                                path, (unsigned long long)(i + 1), (unsigned long long)S);
                goto done;
            }
        }
    }

    uint64_t bytes = 0;
    err = synth_out_finish(&w, &bytes);
    if (err != SR_OK)
        goto done;
    if (progress && !progress(ud, "synth", S, S)) {
        err = sr_errorf(SR_ERR_CANCELLED, "synth %s: cancelled after the last session", path);
        goto done;
    }
    if (rename(w.tmp, path) != 0) {
        err = sr_errorf(SR_ERR_IO, "synth: rename %s to %s: %s", w.tmp, path, strerror(errno));
        goto done;
    }
    keep = true;
    synth_fsync_dir(path);
    sr_log(SR_LOG_LEVEL_DEBUG, "synth: wrote %s: %llu sessions, %llu rows, skip_2 rate %.3f (%s)",
           path, (unsigned long long)S, (unsigned long long)rows,
           rows ? (double)skipped / (double)rows : 0.0, sr_synth_skips_name(o->skips));
    if (out) {
        out->sessions = S;
        out->rows = rows;
        out->skipped_2 = skipped;
        out->bytes = bytes;
    }
done:
    synth_out_close(&w, !keep);
    synth_model_free(&m);
    return err;
}
