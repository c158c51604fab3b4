/* test_adamw.c - AdamW, global-norm clipping, the warm-up + cosine schedule
 * and the lazy row update (core/sr_adamw.h).
 *
 * Expected values are worked out by hand in the comments (and were re-derived
 * with python3 in double while writing the test). p, m and v are stored as
 * float between steps, so multi-step values carry float rounding: tolerances
 * are a few float ulps of the value.
 */
#include "sr_test.h"

#include <math.h>
#include <omp.h>

#include "sr_adamw.h"
#include "sr_rng.h"

/* cmocka 1.1.5's assert_float_equal rounds both sides to float and passes
 * when either is NaN or Inf; this check is in double and fails on both. */
#define assert_near(a, b, tol) assert_near_at((a), (b), (tol), #a, __LINE__)

static void assert_near_at(double a, double b, double tol, const char *what, int line)
{
    if (!isfinite(a) || !isfinite(b) || !(fabs(a - b) <= tol))
        fail_msg("line %d: %s = %.12g, expected %.12g (tolerance %g)", line, what, a, b, tol);
}

static sr_adamw_hparams hp_make(double lr, double wd)
{
    sr_adamw_hparams hp = { lr, 0.9, 0.999, 1e-8, wd };
    return hp;
}

/* ---- dense steps ------------------------------------------------------------------ */

/* One parameter p = 1, lr = 0.1, betas (0.9, 0.999), eps 1e-8, grads 0.5, -0.25, 0.1.
 * t=1: m = 0.1*0.5 = 0.05;             v = 0.001*0.25 = 0.00025
 *      m^ = 0.05/0.1 = 0.5;            v^ = 0.00025/0.001 = 0.25
 *      p = 1 - 0.1 * 0.5/(0.5 + 1e-8) = 0.900000002
 * t=2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02;  v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
 *      m^ = 0.02/(1 - 0.81) = 0.105263157895;  v^ = 0.00031225/(1 - 0.998001) = 0.156203101551
 *      p = 0.900000002 - 0.1 * 0.105263157895/0.395225380... = 0.873366298708
 * t=3: m = 0.9*0.02 + 0.1*0.1 = 0.028;     v = 0.999*0.00031225 + 0.001*0.01 = 0.00032193775
 *      m^ = 0.028/(1 - 0.729) = 0.10332103321; v^ = 0.00032193775/(1 - 0.997002999) = 0.107419967494
 *      p = 0.873366298708 - 0.1 * 0.10332103321/0.327749855... = 0.841841943026
 * With weight_decay 0.01, each step also subtracts lr * wd * p_old = 0.001 * p_old:
 *      t=1: 1 - 0.001 - 0.099999998 = 0.899000002
 *      t=2: 0.899000002 - 0.000899000002 - 0.0266337... = 0.871467298706
 *      t=3: 0.839071475725 */
static void test_adamw_three_steps_match_hand_values(void **state)
{
    (void)state;
    static const float g[3] = { 0.5f, -0.25f, 0.1f };
    static const double want_m[3] = { 0.05, 0.02, 0.028 };
    static const double want_v[3] = { 0.00025, 0.00031225, 0.00032193775 };
    static const double want_p[3] = { 0.900000002, 0.873366298708, 0.841841943026 };
    static const double want_pwd[3] = { 0.899000002, 0.871467298706, 0.839071475725 };
    float p = 1.0f, m = 0.0f, v = 0.0f;
    float q = 1.0f, mq = 0.0f, vq = 0.0f;
    sr_adamw_hparams hp = hp_make(0.1, 0.0), hpwd = hp_make(0.1, 0.01);
    for (int t = 1; t <= 3; t++) {
        sr_adamw_update(&p, &g[t - 1], &m, &v, 1, &hp, t);
        sr_adamw_update(&q, &g[t - 1], &mq, &vq, 1, &hpwd, t);
        assert_near(m, want_m[t - 1], 1e-8);
        assert_near(v, want_v[t - 1], 1e-10);
        assert_near(p, want_p[t - 1], 2e-7);
        assert_near(mq, want_m[t - 1], 1e-8); /* decay never enters the moments */
        assert_near(vq, want_v[t - 1], 1e-10);
        assert_near(q, want_pwd[t - 1], 2e-7);
    }
}

/* At t = 1, m^ = g and v^ = g^2, so the step is lr * g / (|g| + eps) ->
 * lr * sign(g) as eps -> 0, whatever the gradient's magnitude. A zero
 * gradient does not move the parameter (0 / (0 + eps) = 0). */
static void test_adamw_first_step_is_lr_times_sign_of_gradient(void **state)
{
    (void)state;
    static const float g[7] = { 1e-3f, -1e-3f, 0.37f, -5.0f, 1e3f, -2e-5f, 0.0f };
    float p[7], m[7] = { 0 }, v[7] = { 0 };
    for (int i = 0; i < 7; i++)
        p[i] = 0.5f;
    sr_adamw_hparams hp = { 0.01, 0.9, 0.999, 1e-12, 0.0 };
    sr_adamw_update(p, g, m, v, 7, &hp, 1);
    for (int i = 0; i < 6; i++) {
        double sign = g[i] > 0 ? 1.0 : -1.0;
        assert_near(p[i], 0.5 - 0.01 * sign, 1e-7);
    }
    assert_true(p[6] == 0.5f);
}

/* Decoupled decay: with a zero gradient the weights still shrink by
 * lr * wd * p per step: p = 2, lr 0.1, wd 0.5: 2 -> 2 - 0.1*0.5*2 = 1.9 ->
 * 1.9 * 0.95 = 1.805, while m and v stay 0.
 * Not L2: p = 1, g = 0.5, lr = 0.01, wd = 0.1 at t = 1 gives
 * 1 - 0.01*0.1*1 - 0.01*1 = 0.989; folding wd*p into the gradient (Adam + L2)
 * would give g' = 0.6 and a normalised step of exactly lr: 0.99. */
static void test_adamw_weight_decay_is_decoupled_from_gradient(void **state)
{
    (void)state;
    float p = 2.0f, m = 0.0f, v = 0.0f;
    const float zero = 0.0f;
    sr_adamw_hparams hp = hp_make(0.1, 0.5);
    sr_adamw_update(&p, &zero, &m, &v, 1, &hp, 1);
    assert_near(p, 1.9, 1e-7);
    sr_adamw_update(&p, &zero, &m, &v, 1, &hp, 2);
    assert_near(p, 1.805, 1e-7);
    assert_true(m == 0.0f && v == 0.0f);

    float q = 1.0f, mq = 0.0f, vq = 0.0f;
    const float g = 0.5f;
    sr_adamw_hparams hp2 = { 0.01, 0.9, 0.999, 1e-12, 0.1 };
    sr_adamw_update(&q, &g, &mq, &vq, 1, &hp2, 1);
    assert_near(q, 0.989, 1e-7);
}

/* 50,000 elements (several parallel chunks), 4 steps, against a plain loop
 * written here from the formula. */
static void test_adamw_dense_update_matches_reference_loop(void **state)
{
    (void)state;
    enum { N = 50000 };
    float *p = malloc(N * sizeof(float)), *m = calloc(N, sizeof(float));
    float *v = calloc(N, sizeof(float)), *g = malloc(N * sizeof(float));
    double *rp = malloc(N * sizeof(double)), *rm = calloc(N, sizeof(double));
    double *rv = calloc(N, sizeof(double));
    assert_true(p && m && v && g && rp && rm && rv);
    sr_rng r;
    sr_rng_seed(&r, 1);
    for (int i = 0; i < N; i++)
        rp[i] = p[i] = (float)(sr_rng_uniform(&r) - 0.5);
    sr_adamw_hparams hp = { 3e-3, 0.8, 0.99, 1e-6, 0.05 };
    for (int t = 1; t <= 4; t++) {
        for (int i = 0; i < N; i++)
            g[i] = (float)sr_rng_normal(&r);
        sr_adamw_update(p, g, m, v, N, &hp, t);
        for (int i = 0; i < N; i++) {
            rm[i] = 0.8 * rm[i] + 0.2 * g[i];
            rv[i] = 0.99 * rv[i] + 0.01 * (double)g[i] * g[i];
            double mh = rm[i] / (1 - pow(0.8, t)), vh = rv[i] / (1 - pow(0.99, t));
            rp[i] = rp[i] - 3e-3 * 0.05 * rp[i] - 3e-3 * mh / (sqrt(vh) + 1e-6);
        }
    }
    for (int i = 0; i < N; i++)
        assert_near(p[i], rp[i], 1e-6);
    free(p), free(m), free(v), free(g), free(rp), free(rm), free(rv);
}

/* ---- clipping ---------------------------------------------------------------------- */

/* Tensors [3, 4] and [12]: global norm sqrt(9 + 16 + 144) = 13.
 * max_norm 6.5: coefficient 6.5 / (13 + 1e-6), so the result is
 * (1.5, 2, 6) up to 1e-6 relative and its norm 6.5. */
static void test_adamw_clip_scales_global_norm_to_max(void **state)
{
    (void)state;
    float a[2] = { 3, 4 }, b[1] = { 12 };
    sr_adamw_grad list[2] = { { a, 1, 2, NULL }, { b, 1, 1, NULL } };
    double n = sr_adamw_clip(list, 2, 6.5);
    assert_true(n == 13.0);
    assert_near(a[0], 1.5, 1e-6);
    assert_near(a[1], 2.0, 1e-6);
    assert_near(b[0], 6.0, 1e-6);
    double after = sqrt((double)a[0] * a[0] + (double)a[1] * a[1] + (double)b[0] * b[0]);
    assert_near(after, 6.5, 2e-6);
    /* measuring again reports the clipped norm and changes nothing */
    assert_near(sr_adamw_clip(list, 2, 0.0), after, 1e-12);

    /* the 1e-6 in the coefficient matters only for tiny norms: (6e-7, 8e-7)
     * has norm 1e-6; max 5e-7 scales by 5e-7 / (1e-6 + 1e-6) = 0.25 */
    float c[2] = { 6e-7f, 8e-7f };
    sr_adamw_grad e = { c, 1, 2, NULL };
    assert_near(sr_adamw_clip(&e, 1, 5e-7), 1e-6, 1e-12);
    assert_near(c[0], 1.5e-7, 1e-12);
    assert_near(c[1], 2e-7, 1e-12);
}

/* At or below max_norm, or with max_norm <= 0, the gradients are untouched. */
static void test_adamw_clip_below_max_leaves_gradients_unchanged(void **state)
{
    (void)state;
    float a[3] = { 1, -2, 2 }; /* norm 3 */
    const float keep[3] = { 1, -2, 2 };
    sr_adamw_grad e = { a, 3, 1, NULL };
    assert_true(sr_adamw_clip(&e, 1, 3.0) == 3.0);
    assert_true(sr_adamw_clip(&e, 1, 100.0) == 3.0);
    assert_true(sr_adamw_clip(&e, 1, 0.0) == 3.0);
    assert_true(sr_adamw_clip(&e, 1, -1.0) == 3.0);
    assert_memory_equal(a, keep, sizeof a);
    assert_true(sr_adamw_clip(NULL, 0, 1.0) == 0.0);
}

/* With a touched mask only the touched rows count and are scaled: the other
 * rows hold 1000s (and a NaN) that would dominate the norm if read.
 * Touched rows (3, 4) and (0, 12): norm 13; max 1.3 scales them by 0.1. */
static void test_adamw_clip_touched_rows_only(void **state)
{
    (void)state;
    float g[4][2] = { { 1000, 1000 }, { 3, 4 }, { NAN, 1000 }, { 0, 12 } };
    const uint8_t touched[4] = { 0, 1, 0, 1 };
    sr_adamw_grad e = { &g[0][0], 4, 2, touched };
    assert_true(sr_adamw_clip(&e, 1, 1.3) == 13.0);
    assert_near(g[1][0], 0.3, 1e-7);
    assert_near(g[1][1], 0.4, 1e-7);
    assert_near(g[3][1], 1.2, 1e-7);
    assert_true(g[0][0] == 1000 && g[0][1] == 1000 && isnan(g[2][0]) && g[2][1] == 1000);
}

/* A NaN or Inf gradient makes the norm non-finite: it is returned as is and
 * nothing is scaled (the caller skips the step). */
static void test_adamw_clip_nonfinite_norm_leaves_gradients_unchanged(void **state)
{
    (void)state;
    float a[2] = { 3, NAN }, b[2] = { 1, INFINITY }, c[2] = { 5, 5 };
    sr_adamw_grad l1[2] = { { c, 1, 2, NULL }, { a, 1, 2, NULL } };
    assert_true(isnan(sr_adamw_clip(l1, 2, 1.0)));
    assert_true(c[0] == 5 && c[1] == 5 && a[0] == 3);
    sr_adamw_grad l2[2] = { { c, 1, 2, NULL }, { b, 1, 2, NULL } };
    assert_true(isinf(sr_adamw_clip(l2, 2, 1.0)));
    assert_true(c[0] == 5 && c[1] == 5 && b[0] == 1);
}

/* 300,000 elements plus a masked 5,000 x 16 table (both split into many
 * chunks): the norm is bit-identical with 1, 2 and 3 threads and agrees with
 * a plain double sum. */
static void test_adamw_clip_norm_independent_of_thread_count(void **state)
{
    (void)state;
    enum { N = 300000, R = 5000, C = 16 };
    float *a = malloc(N * sizeof(float)), *t = malloc(R * C * sizeof(float));
    uint8_t *touched = malloc(R);
    assert_true(a && t && touched);
    sr_rng r;
    sr_rng_seed(&r, 8);
    double ref = 0.0;
    for (int i = 0; i < N; i++) {
        a[i] = (float)sr_rng_normal(&r);
        ref += (double)a[i] * a[i];
    }
    for (int i = 0; i < R; i++) {
        touched[i] = sr_rng_uniform(&r) < 0.3;
        for (int d = 0; d < C; d++) {
            t[i * C + d] = (float)sr_rng_normal(&r);
            if (touched[i])
                ref += (double)t[i * C + d] * t[i * C + d];
        }
    }
    ref = sqrt(ref);
    sr_adamw_grad list[2] = { { a, 1, N, NULL }, { t, R, C, touched } };
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    double n1 = sr_adamw_clip(list, 2, 0.0);
    assert_near(n1, ref, 1e-9 * ref);
    for (int th = 2; th <= 3; th++) {
        omp_set_num_threads(th);
        double n = sr_adamw_clip(list, 2, 0.0);
        assert_memory_equal(&n, &n1, sizeof n);
    }
    omp_set_num_threads(keep);
    free(a), free(t), free(touched);
}

/* ---- schedule ------------------------------------------------------------------------ */

/* peak 1e-3, floor 1e-5, warm-up 10, total 110 (100 cosine steps):
 *   t = 1: 1e-3 * 1/10 = 1e-4 (t = 0 is taken as 1)   t = 5: 5e-4   t = 10: 1e-3
 *   t = 35: progress 0.25: 1e-5 + 9.9e-4 * (1 + cos(pi/4))/2 = 8.55017856687341e-4
 *   t = 60: progress 0.5: 1e-5 + 9.9e-4 / 2 = 5.05e-4
 *   t = 85: progress 0.75: 1e-5 + 9.9e-4 * (1 - cos(pi/4))/2 = 1.54982143312659e-4
 *   t = 110 and after: the floor 1e-5 */
static void test_adamw_schedule_values_at_chosen_steps(void **state)
{
    (void)state;
    sr_adamw_schedule s = { 1e-3, 1e-5, 10, 110 };
    assert_int_equal(sr_adamw_schedule_check(&s), SR_OK);
    static const int64_t t[] = { 0, 1, 5, 10, 35, 60, 85, 110, 1000 };
    static const double want[] = { 1e-4, 1e-4, 5e-4, 1e-3, 8.55017856687341e-4, 5.05e-4,
                                    1.54982143312659e-4, 1e-5, 1e-5 };
    for (size_t i = 0; i < SR_COUNTOF(t); i++)
        assert_near(sr_adamw_lr_at(&s, t[i]), want[i], 1e-15);
    /* monotone: rises through the warm-up, falls after it */
    for (int64_t k = 1; k < 120; k++) {
        double a = sr_adamw_lr_at(&s, k), b = sr_adamw_lr_at(&s, k + 1);
        if (k < 10)
            assert_true(b > a);
        else
            assert_true(b <= a);
    }
    /* no warm-up: the cosine starts at t = 1 (progress 1/4 there), t = 2 is half-way */
    sr_adamw_schedule c = { 2e-3, 0.0, 0, 4 };
    assert_int_equal(sr_adamw_schedule_check(&c), SR_OK);
    assert_near(sr_adamw_lr_at(&c, 2), 1e-3, 1e-15); /* progress 1/2 */
    assert_near(sr_adamw_lr_at(&c, 4), 0.0, 0.0);
}

static void test_adamw_schedule_check_rejects_bad_values(void **state)
{
    (void)state;
    sr_adamw_schedule s = { 1e-3, 1e-5, 10, 10 };
    assert_int_equal(sr_adamw_schedule_check(&s), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "total_steps=10"));
    s = (sr_adamw_schedule){ 0.0, 0.0, 0, 10 };
    assert_int_equal(sr_adamw_schedule_check(&s), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "lr_peak=0"));
    s = (sr_adamw_schedule){ 1e-3, 2e-3, 0, 10 };
    assert_int_equal(sr_adamw_schedule_check(&s), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "lr_floor=0.002"));
    s = (sr_adamw_schedule){ 1e-3, 0.0, -1, 10 };
    assert_int_equal(sr_adamw_schedule_check(&s), SR_ERR_ARG);
    s = (sr_adamw_schedule){ NAN, 0.0, 0, 10 };
    assert_int_equal(sr_adamw_schedule_check(&s), SR_ERR_ARG);
}

static void test_adamw_hparams_check_rejects_bad_values(void **state)
{
    (void)state;
    sr_adamw_hparams ok = hp_make(5e-3, 0.01);
    assert_int_equal(sr_adamw_hparams_check(&ok), SR_OK);
    sr_adamw_hparams h = ok;
    h.beta1 = 1.0;
    assert_int_equal(sr_adamw_hparams_check(&h), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "beta1=1"));
    h = ok;
    h.beta2 = -0.1;
    assert_int_equal(sr_adamw_hparams_check(&h), SR_ERR_ARG);
    h = ok;
    h.eps = 0.0;
    assert_int_equal(sr_adamw_hparams_check(&h), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "eps=0"));
    h = ok;
    h.lr = NAN;
    assert_int_equal(sr_adamw_hparams_check(&h), SR_ERR_ARG);
    h = ok;
    h.weight_decay = -1;
    assert_int_equal(sr_adamw_hparams_check(&h), SR_ERR_ARG);
    h = ok;
    h.lr = 0.5;
    h.weight_decay = 2.0;
    assert_int_equal(sr_adamw_hparams_check(&h), SR_ERR_ARG);
    assert_int_equal(sr_adamw_hparams_check(NULL), SR_ERR_ARG);
}

/* ---- lazy row update ---------------------------------------------------------------- */

enum { ROWS = 6, COLS = 5 };

typedef struct table {
    float p[ROWS * COLS], m[ROWS * COLS], v[ROWS * COLS], g[ROWS * COLS];
    int64_t t[ROWS];
} table;

static void table_init(table *x, sr_rng *r)
{
    memset(x, 0, sizeof *x);
    for (int i = 0; i < ROWS * COLS; i++)
        x->p[i] = (float)(sr_rng_uniform(r) - 0.5);
}

/* Row 0 is touched on every step, rows 1..5 never (their grad rows hold NaN,
 * which must not be read). Row 0 ends bit-identical to dense AdamW over the
 * whole table; rows 1..5 (param, m, v, step count) are bit-identical to their
 * start, whereas dense AdamW moves them through weight decay. */
static void test_adamw_rows_untouched_stay_bit_identical_touched_match_dense(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 4);
    table lazy, dense;
    table_init(&lazy, &r);
    dense = lazy;
    const table start = lazy;
    const uint8_t touched[ROWS] = { 1, 0, 0, 0, 0, 0 };
    sr_adamw_hparams hp = hp_make(0.05, 0.1);
    for (int step = 1; step <= 5; step++) {
        for (int i = 0; i < ROWS * COLS; i++) {
            float gi = i < COLS ? (float)sr_rng_normal(&r) : 0.0f;
            dense.g[i] = gi;
            lazy.g[i] = i < COLS ? gi : NAN;
        }
        sr_adamw_update(dense.p, dense.g, dense.m, dense.v, ROWS * COLS, &hp, step);
        sr_adamw_update_rows(lazy.p, lazy.g, lazy.m, lazy.v, lazy.t, touched, ROWS, COLS, &hp);
    }
    assert_int_equal(lazy.t[0], 5);
    assert_memory_equal(lazy.p, dense.p, COLS * sizeof(float));
    assert_memory_equal(lazy.m, dense.m, COLS * sizeof(float));
    assert_memory_equal(lazy.v, dense.v, COLS * sizeof(float));
    size_t rest = (ROWS - 1) * COLS * sizeof(float);
    assert_memory_equal(lazy.p + COLS, start.p + COLS, rest);
    assert_memory_equal(lazy.m + COLS, start.m + COLS, rest);
    assert_memory_equal(lazy.v + COLS, start.v + COLS, rest);
    for (int i = 1; i < ROWS; i++)
        assert_int_equal(lazy.t[i], 0);
    /* dense decayed the zero-gradient rows: (1 - 0.05*0.1)^5 = 0.975248753... */
    assert_near(dense.p[COLS], start.p[COLS] * pow(1 - 0.005, 5), 1e-7);
}

/* A row touched on steps 1 and 3 only takes exactly two AdamW steps with its
 * own counts t = 1, 2 (bias correction by row count) and its moments frozen
 * in between - the same bits as a 1-row dense AdamW fed only those two
 * gradients, and not the same as dense AdamW with a zero gradient at step 2. */
static void test_adamw_rows_lazy_row_resumes_with_its_own_step_count(void **state)
{
    (void)state;
    sr_adamw_hparams hp = hp_make(0.05, 0.1);
    float p[2 * COLS], m[2 * COLS] = { 0 }, v[2 * COLS] = { 0 }, g[2 * COLS];
    int64_t t[2] = { 0, 0 };
    float rp[COLS], rm[COLS] = { 0 }, rv[COLS] = { 0 };
    float zp[COLS], zm[COLS] = { 0 }, zv[COLS] = { 0 };
    float zero[COLS] = { 0 };
    sr_rng r;
    sr_rng_seed(&r, 6);
    for (int i = 0; i < 2 * COLS; i++)
        p[i] = (float)(sr_rng_uniform(&r) - 0.5);
    memcpy(rp, p + COLS, sizeof rp);
    memcpy(zp, p + COLS, sizeof zp);
    int64_t dense_t = 0;
    for (int step = 1; step <= 3; step++) {
        for (int i = 0; i < 2 * COLS; i++)
            g[i] = (float)sr_rng_normal(&r);
        uint8_t touched[2] = { 1, step != 2 };
        sr_adamw_update_rows(p, g, m, v, t, touched, 2, COLS, &hp);
        sr_adamw_update(zp, step != 2 ? g + COLS : zero, zm, zv, COLS, &hp, step);
        if (step != 2)
            sr_adamw_update(rp, g + COLS, rm, rv, COLS, &hp, ++dense_t);
    }
    assert_int_equal(t[0], 3);
    assert_int_equal(t[1], 2);
    assert_memory_equal(p + COLS, rp, sizeof rp);
    assert_memory_equal(m + COLS, rm, sizeof rm);
    assert_memory_equal(v + COLS, rv, sizeof rv);
    int differs = 0;
    for (int i = 0; i < COLS; i++)
        differs += fabsf(p[COLS + i] - zp[i]) > 1e-6f;
    assert_int_equal(differs, COLS);
}

/* A large table (parallel path): rows are updated independently, so 1 and 3
 * threads give the same bits. */
static void test_adamw_rows_independent_of_thread_count(void **state)
{
    (void)state;
    enum { R = 4000, C = 32 };
    size_t n = (size_t)R * C;
    float *p1 = malloc(n * sizeof(float)), *p3 = malloc(n * sizeof(float));
    float *m1 = calloc(n, sizeof(float)), *m3 = calloc(n, sizeof(float));
    float *v1 = calloc(n, sizeof(float)), *v3 = calloc(n, sizeof(float));
    float *g = malloc(n * sizeof(float));
    int64_t *t1 = calloc(R, sizeof(int64_t)), *t3 = calloc(R, sizeof(int64_t));
    uint8_t *touched = malloc(R);
    assert_true(p1 && p3 && m1 && m3 && v1 && v3 && g && t1 && t3 && touched);
    sr_rng r;
    sr_rng_seed(&r, 10);
    for (size_t i = 0; i < n; i++)
        p1[i] = p3[i] = (float)sr_rng_normal(&r);
    sr_adamw_hparams hp = hp_make(1e-2, 0.01);
    int keep = omp_get_max_threads();
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = (float)sr_rng_normal(&r);
        for (int i = 0; i < R; i++)
            touched[i] = sr_rng_uniform(&r) < 0.5;
        omp_set_num_threads(1);
        sr_adamw_update_rows(p1, g, m1, v1, t1, touched, R, C, &hp);
        omp_set_num_threads(3);
        sr_adamw_update_rows(p3, g, m3, v3, t3, touched, R, C, &hp);
    }
    omp_set_num_threads(keep);
    assert_memory_equal(p1, p3, n * sizeof(float));
    assert_memory_equal(m1, m3, n * sizeof(float));
    assert_memory_equal(v1, v3, n * sizeof(float));
    assert_memory_equal(t1, t3, R * sizeof(int64_t));
    free(p1), free(p3), free(m1), free(m3), free(v1), free(v3), free(g);
    free(t1), free(t3), free(touched);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_three_steps_match_hand_values),
        cmocka_unit_test(test_adamw_first_step_is_lr_times_sign_of_gradient),
        cmocka_unit_test(test_adamw_weight_decay_is_decoupled_from_gradient),
        cmocka_unit_test(test_adamw_dense_update_matches_reference_loop),
        cmocka_unit_test(test_adamw_clip_scales_global_norm_to_max),
        cmocka_unit_test(test_adamw_clip_below_max_leaves_gradients_unchanged),
        cmocka_unit_test(test_adamw_clip_touched_rows_only),
        cmocka_unit_test(test_adamw_clip_nonfinite_norm_leaves_gradients_unchanged),
        cmocka_unit_test(test_adamw_clip_norm_independent_of_thread_count),
        cmocka_unit_test(test_adamw_schedule_values_at_chosen_steps),
        cmocka_unit_test(test_adamw_schedule_check_rejects_bad_values),
        cmocka_unit_test(test_adamw_hparams_check_rejects_bad_values),
        cmocka_unit_test(test_adamw_rows_untouched_stay_bit_identical_touched_match_dense),
        cmocka_unit_test(test_adamw_rows_lazy_row_resumes_with_its_own_step_count),
        cmocka_unit_test(test_adamw_rows_independent_of_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
