/* sr_gradcheck.h - finite-difference gradient checks shared by the op, loss
 * and model tests (header-only; include after sr_test.h).
 *
 * Recipe: to check op y = f(x), draw random upstream weights w and define the
 * scalar loss L = sum_i w_i * y_i (so dL/dy = w); run the op's backward with
 * dy = w to get the analytic dL/dx; compare with central differences
 * (L(x + e) - L(x - e)) / 2e computed in double on the float kernels.
 * An entry passes when |analytic - numeric| <= atol + rtol * max(|a|, |n|).
 */
#ifndef SR_GRADCHECK_H
#define SR_GRADCHECK_H

#include <math.h>
#include <stdio.h>

#include "sr_rng.h"
#include "sr_test.h"

/* Recompute the scalar loss at the current inputs (the check perturbs them). */
typedef double (*sr_gc_loss_fn)(void *ctx);

static inline void sr_gc_fill(sr_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)sr_rng_uniform(r);
}

/* Weighted sum in double: the scalar that turns a tensor into a loss. */
static inline double sr_gc_dot(const float *y, const float *w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * (double)w[i];
    return s;
}

/* Check grad[0..n) = dL/dx against central differences on x[0..n). When n
 * exceeds max_checks, a seeded sample of entries is checked. Fails the test
 * with the worst entry when any entry is off; returns the worst relative
 * error otherwise. x is restored exactly. */
static inline double sr_gc_check(const char *what, float *x, const float *grad, size_t n,
                                 sr_gc_loss_fn loss, void *ctx, float eps, double atol,
                                 double rtol, size_t max_checks)
{
    sr_rng r;
    sr_rng_seed(&r, 12345u + n);
    size_t checks = n < max_checks ? n : max_checks;
    double worst = 0.0;
    size_t worst_i = 0;
    double worst_a = 0.0, worst_n = 0.0;
    int bad = 0;
    for (size_t c = 0; c < checks; c++) {
        size_t i = n <= max_checks ? c : (size_t)sr_rng_below(&r, n);
        float keep = x[i];
        x[i] = keep + eps;
        double lp = loss(ctx);
        x[i] = keep - eps;
        double lm = loss(ctx);
        x[i] = keep;
        /* the perturbation actually applied, after float rounding */
        double h = (double)(keep + eps) - (double)(keep - eps);
        double num = (lp - lm) / h;
        double ana = (double)grad[i];
        double diff = fabs(ana - num);
        double scale = fmax(fabs(ana), fabs(num));
        double rel = scale > 0 ? diff / scale : 0.0;
        /* written so that a NaN on either side fails the check */
        if (!(diff <= atol + rtol * scale)) {
            bad++;
            if (bad == 1 || rel > worst) {
                worst_i = i;
                worst_a = ana;
                worst_n = num;
            }
        }
        if (rel > worst && diff > atol)
            worst = rel;
    }
    if (bad)
        fail_msg("%s: %d of %zu entries off; worst [%zu] analytic %.8g numeric %.8g", what, bad,
                 checks, worst_i, worst_a, worst_n);
    return worst;
}

#endif /* SR_GRADCHECK_H */
