/* test_train.c - the training loop: configuration text round trip, learning
 * a planted structure, early stopping, and resume from a checkpoint giving a
 * bit-identical model (sr_train.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_ckpt.h"
#include "sr_rng.h"
#include "sr_store.h"
#include "sr_train.h"
#include "sr_test.h"

#define CYC_TRACKS 40
#define CYC_SESSIONS 300

/* Sessions walking the catalogue in a cycle: a, a+1, a+2 ... (mod I), so the
 * next track is a function of the last one - a model that learns anything
 * must find it. 30% of plays are marked skipped at random. Leave-last split. */
static void write_cycle_store(const char *path, uint64_t seed)
{
    sr_store_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.split = SR_SPLIT_KIND_LEAVE_LAST;
    meta.source = SR_SOURCE_FORMAT_SYNTH;
    snprintf(meta.name, sizeof meta.name, "cycle");
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(path, &meta, &w), SR_OK);
    sr_rng r;
    sr_rng_seed(&r, seed);
    uint32_t plays[CYC_TRACKS] = { 0 }, skips[CYC_TRACKS] = { 0 };
    for (int s = 0; s < CYC_SESSIONS; s++) {
        int32_t track[12];
        uint8_t fb[12];
        uint16_t pos[12];
        int64_t t[12];
        uint32_t ctx[12] = { 0 };
        uint32_t n = 4 + (uint32_t)sr_rng_below(&r, 7); /* 4..10 */
        int32_t a = (int32_t)sr_rng_below(&r, CYC_TRACKS);
        for (uint32_t i = 0; i < n; i++) {
            track[i] = (a + (int32_t)i) % CYC_TRACKS;
            bool sk = sr_rng_uniform(&r) < 0.3;
            fb[i] = sk ? (uint8_t)(SR_FB_SKIP_2 | SR_FB_SKIPPED) : (uint8_t)SR_FB_NOT_SKIPPED;
            pos[i] = (uint16_t)(i + 1);
            t[i] = 1000 * s + (int64_t)i;
            if (i + 2 < n) {
                plays[track[i]]++;
                skips[track[i]] += sk;
            }
        }
        assert_int_equal(sr_store_writer_add(w, SR_SPLIT_ALL, 1000 * s, n, track, fb, pos, t, ctx),
                         SR_OK);
    }
    sr_str ids[CYC_TRACKS];
    char names[CYC_TRACKS][8];
    for (int i = 0; i < CYC_TRACKS; i++) {
        snprintf(names[i], sizeof names[i], "t%02d", i);
        ids[i] = sr_str_c(names[i]);
    }
    assert_int_equal(sr_store_writer_finish(&w, CYC_TRACKS, ids, plays, skips, NULL), SR_OK);
}

static sr_train_config tiny_config(void)
{
    sr_train_config c;
    assert_int_equal(sr_train_config_preset(SR_MODEL_KIND_SASREC, "fast", &c), SR_OK);
    c.model.D = 16;
    c.model.layers = 1;
    c.model.heads = 2;
    c.model.F = 32;
    c.model.L = 8;
    c.model.dropout = 0.1f;
    c.model.chunk = 16;
    c.batch = 16;
    c.eval_batch = 16;
    c.epochs = 6;
    c.eval_every = 20;
    c.valid_queries = 0;
    c.patience = 0;
    c.ckpt_every = 7;
    c.threads = 1;
    c.optim.schedule.lr_peak = 0.01;
    c.optim.schedule.warmup_steps = 10;
    return c;
}

static void test_config_text_round_trip(void **state)
{
    (void)state;
    sr_train_config c = tiny_config();
    assert_int_equal(sr_train_config_set(&c, "lambda", sr_str_c("0.25")), SR_OK);
    assert_int_equal(sr_train_config_set_line(&c, sr_str_c(" target = next_listened ")), SR_OK);
    assert_int_equal(sr_train_config_set(&c, "seed", sr_str_c("18446744073709551615")), SR_OK);
    assert_int_equal(sr_train_config_set(&c, "lr", sr_str_c("0.1")), SR_OK);
    char *text = sr_train_config_text(&c);
    assert_non_null(text);
    assert_non_null(strstr(text, "lambda = 0.25\n"));
    assert_non_null(strstr(text, "target = next_listened\n"));
    assert_non_null(strstr(text, "seed = 18446744073709551615\n"));
    sr_train_config d;
    assert_int_equal(sr_train_config_preset(SR_MODEL_KIND_BERT4REC, "paper", &d), SR_OK);
    assert_int_equal(sr_train_config_apply_text(&d, sr_str_c(text)), SR_OK);
    char *text2 = sr_train_config_text(&d);
    assert_string_equal(text, text2);
    /* every field round-trips exactly, doubles included */
    assert_true(d.optim.schedule.lr_peak == 0.1);
    assert_true(d.model.lambda == 0.25f);
    assert_int_equal(d.model.kind, SR_MODEL_KIND_SASREC);
    assert_true(d.model.seed == UINT64_MAX);
    free(text);
    free(text2);
}

/* Float keys at the edge of their range survive the text round trip (the
 * value is range-checked as the float it is stored and printed as). */
static void test_config_float_bounds_round_trip(void **state)
{
    (void)state;
    sr_train_config c = tiny_config();
    assert_int_equal(sr_train_config_set(&c, "tau", sr_str_c("1e-6")), SR_OK);
    assert_int_equal(sr_train_config_set(&c, "dropout", sr_str_c("0.99")), SR_OK);
    assert_int_equal(sr_train_config_set(&c, "init_std", sr_str_c("1e-6")), SR_OK);
    char *text = sr_train_config_text(&c);
    assert_non_null(text);
    sr_train_config d = tiny_config();
    assert_int_equal(sr_train_config_apply_text(&d, sr_str_c(text)), SR_OK);
    assert_true(d.model.tau == c.model.tau && d.model.dropout == c.model.dropout &&
                d.model.init_std == c.model.init_std);
    free(text);
}

static void test_config_rejects_bad_settings(void **state)
{
    (void)state;
    sr_train_config c = tiny_config();
    sr_train_config before = c;
    assert_int_equal(sr_train_config_set(&c, "no_such_key", sr_str_c("1")), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "no_such_key"));
    assert_int_equal(sr_train_config_set(&c, "dropout", sr_str_c("1.5")), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "dropout"));
    assert_int_equal(sr_train_config_set(&c, "dim", sr_str_c("12x")), SR_ERR_ARG);
    assert_int_equal(sr_train_config_set(&c, "loss", sr_str_c("hinge")), SR_ERR_ARG);
    assert_int_equal(sr_train_config_set(&c, "epochs", sr_str_c("-3")), SR_ERR_ARG);
    assert_int_equal(sr_train_config_set(&c, "lr", sr_str_c("nan")), SR_ERR_ARG);
    assert_int_equal(sr_train_config_set_line(&c, sr_str_c("lambda")), SR_ERR_ARG);
    assert_int_equal(sr_train_config_set(&c, "metric", sr_str_c("ndcg@10\nlr = 9")), SR_ERR_ARG);
    assert_int_equal(sr_train_config_set(&c, "seed", sr_str_c("18446744073709551616")), SR_ERR_ARG);
    assert_memory_equal(&c, &before, sizeof c);
    /* a metric that is no evaluation key is refused before any training */
    sr_train_config m = c;
    m.model.I = 10;
    assert_int_equal(sr_train_config_set(&m, "metric", sr_str_c("bogus@10")), SR_OK);
    assert_int_equal(sr_train_config_check(&m), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "bogus@10"));
    sr_train_config p;
    assert_int_equal(sr_train_config_preset(SR_MODEL_KIND_SASREC, "huge", &p), SR_ERR_ARG);
}

typedef struct stop_at {
    uint64_t step;      /* ask to stop at the first report at or after this step */
    const char *ckpt;   /* copy the checkpoint and model files aside at that report */
    const char *best;
    const char *ckpt_copy, *best_copy;
    bool copied;
    uint64_t reports;
} stop_at;

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    void *data = sr_test_read_file(from, &len);
    assert_non_null(data);
    sr_test_write_file(to, data, len);
    free(data);
}

static bool on_progress(void *ud, const sr_train_progress *p)
{
    stop_at *s = ud;
    s->reports++;
    if (s->step && p->step >= s->step && strcmp(p->phase, "validate") == 0) {
        if (s->ckpt_copy && !s->copied) {
            copy_file(s->ckpt, s->ckpt_copy);
            copy_file(s->best, s->best_copy);
            s->copied = true;
            return true;
        }
        return s->ckpt_copy != NULL;
    }
    return true;
}

static void assert_same_model_file(const char *a, const char *b)
{
    sr_ckpt *ca = NULL, *cb = NULL;
    assert_int_equal(sr_ckpt_open(a, &ca), SR_OK);
    assert_int_equal(sr_ckpt_open(b, &cb), SR_OK);
    const void *pa, *pb;
    uint64_t na, nb;
    assert_int_equal(sr_ckpt_get(ca, "params", SR_CKPT_F32, &pa, &na), SR_OK);
    assert_int_equal(sr_ckpt_get(cb, "params", SR_CKPT_F32, &pb, &nb), SR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof(float));
    assert_int_equal(sr_ckpt_get(ca, "history", SR_CKPT_F64, &pa, &na), SR_OK);
    assert_int_equal(sr_ckpt_get(cb, "history", SR_CKPT_F64, &pb, &nb), SR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof(double));
    sr_ckpt_close(&ca);
    sr_ckpt_close(&cb);
}

/* A tiny SASRec learns the cycle: validation NDCG@10 far above chance
 * (about 0.1 for 40 tracks), and the model file loads back. */
static void test_learns_planted_cycle(void **state)
{
    (void)state;
    char store_path[SR_TEST_PATH_MAX], ckpt[SR_TEST_PATH_MAX], best[SR_TEST_PATH_MAX];
    sr_test_path_buf(store_path, sizeof store_path, "cycle.store");
    sr_test_path_buf(ckpt, sizeof ckpt, "job.ckpt");
    sr_test_path_buf(best, sizeof best, "job.model");
    write_cycle_store(store_path, 7);
    sr_store *st = NULL;
    assert_int_equal(sr_store_open(store_path, &st), SR_OK);
    sr_train_config c = tiny_config();
    c.epochs = 15;
    sr_train_files f = { ckpt, best, "dataset = cycle\n" };
    sr_train_result r;
    assert_int_equal(sr_train_run(st, &c, &f, NULL, NULL, &r), SR_OK);
    assert_false(r.resumed);
    assert_true(r.evals >= 2);
    assert_true(r.best_metric > 0.6);
    sr_model *m = NULL;
    sr_train_config lc;
    char *meta = NULL;
    assert_int_equal(sr_train_load_model(best, 4, &m, &lc, &meta), SR_OK);
    assert_int_equal(sr_model_config_of(m)->I, CYC_TRACKS);
    assert_non_null(strstr(meta, "dataset = cycle\n"));
    assert_non_null(strstr(meta, "kind = sasrec\n"));
    /* the loaded model continues the cycle: after 5, 6, 7 comes 8 */
    int32_t s[3] = { 5, 6, 7 };
    uint8_t sk[3] = { 0, 0, 0 };
    float scores[CYC_TRACKS];
    sr_dnnl_ctx *ctx = NULL;
    assert_int_equal(sr_dnnl_ctx_new(8, &ctx), SR_OK);
    assert_int_equal(sr_model_score(m, ctx, s, sk, 3, scores), SR_OK);
    int best_i = 0;
    for (int i = 1; i < CYC_TRACKS; i++)
        if (scores[i] > scores[best_i])
            best_i = i;
    assert_int_equal(best_i, 8);
    /* running again on a finished checkpoint does no more work */
    sr_train_result r2;
    assert_int_equal(sr_train_run(st, &c, &f, NULL, NULL, &r2), SR_OK);
    assert_true(r2.resumed);
    assert_int_equal(r2.steps, r.steps);
    free(meta);
    sr_dnnl_ctx_free(&ctx);
    sr_model_free(&m);
    sr_store_close(&st);
}

/* Stopping at a validation and resuming gives the same model, bit for bit,
 * as one uninterrupted run - and so does resuming from a checkpoint copied
 * aside mid-run (what a killed daemon leaves behind). */
static void test_resume_is_bit_identical(void **state)
{
    (void)state;
    char store_path[SR_TEST_PATH_MAX], ck1[SR_TEST_PATH_MAX], m1[SR_TEST_PATH_MAX];
    char ck2[SR_TEST_PATH_MAX], m2[SR_TEST_PATH_MAX], ck3[SR_TEST_PATH_MAX], m3[SR_TEST_PATH_MAX];
    sr_test_path_buf(store_path, sizeof store_path, "cycle.store");
    sr_test_path_buf(ck1, sizeof ck1, "a.ckpt");
    sr_test_path_buf(m1, sizeof m1, "a.model");
    sr_test_path_buf(ck2, sizeof ck2, "b.ckpt");
    sr_test_path_buf(m2, sizeof m2, "b.model");
    sr_test_path_buf(ck3, sizeof ck3, "c.ckpt");
    sr_test_path_buf(m3, sizeof m3, "c.model");
    write_cycle_store(store_path, 11);
    sr_store *st = NULL;
    assert_int_equal(sr_store_open(store_path, &st), SR_OK);
    sr_train_config c = tiny_config();

    /* A: uninterrupted; copies its files aside at the validation after step 40 */
    stop_at sa = { 40, ck1, m1, ck3, m3, false, 0 };
    sr_train_files fa = { ck1, m1, NULL };
    sr_train_result ra;
    assert_int_equal(sr_train_run(st, &c, &fa, on_progress, &sa, &ra), SR_OK);
    assert_true(sa.copied);
    assert_false(ra.resumed);

    /* B: cancelled during the validation after step 40 (the first "validate"
     * report comes from inside it), then resumed: the validation runs again */
    stop_at sb = { 40, NULL, NULL, NULL, NULL, false, 0 };
    sr_train_files fb = { ck2, m2, NULL };
    sr_train_result rb;
    assert_int_equal(sr_train_run(st, &c, &fb, on_progress, &sb, &rb), SR_ERR_CANCELLED);
    assert_non_null(strstr(sr_errmsg(), "during the validation"));
    assert_true(rb.steps >= 40 && rb.steps < ra.steps);
    assert_int_equal(sr_train_run(st, &c, &fb, NULL, NULL, &rb), SR_OK);
    assert_true(rb.resumed);
    assert_int_equal(rb.steps, ra.steps);
    assert_same_model_file(m1, m2);

    /* C: from the copies taken mid-run */
    sr_train_files fc = { ck3, m3, NULL };
    sr_train_result rc;
    assert_int_equal(sr_train_run(st, &c, &fc, NULL, NULL, &rc), SR_OK);
    assert_true(rc.resumed);
    assert_same_model_file(m1, m3);

    /* a checkpoint of another configuration is refused, not silently mixed */
    sr_train_config other = c;
    other.model.lambda = 0.5f;
    assert_int_equal(sr_train_run(st, &other, &fb, NULL, NULL, &rb), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "different configuration"));
    /* ... and so is one written for other data (the meta lines name the dataset) */
    sr_train_files fd = { ck2, m2, "dataset = other\n" };
    assert_int_equal(sr_train_run(st, &c, &fd, NULL, NULL, &rb), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "other data"));
    sr_store_close(&st);
}

/* With a zero learning rate nothing improves after the first validation:
 * patience 2 stops after the third, and the first one's model is kept. */
static void test_early_stopping_keeps_first_best(void **state)
{
    (void)state;
    char store_path[SR_TEST_PATH_MAX], ckpt[SR_TEST_PATH_MAX], best[SR_TEST_PATH_MAX];
    sr_test_path_buf(store_path, sizeof store_path, "cycle.store");
    sr_test_path_buf(ckpt, sizeof ckpt, "job.ckpt");
    sr_test_path_buf(best, sizeof best, "job.model");
    write_cycle_store(store_path, 3);
    sr_store *st = NULL;
    assert_int_equal(sr_store_open(store_path, &st), SR_OK);
    sr_train_config c = tiny_config();
    c.optim.schedule.lr_peak = 1e-9; /* the smallest the key table allows: nothing moves */
    c.optim.schedule.lr_floor = 0;
    c.eval_every = 5;
    c.patience = 2;
    c.epochs = 50;
    sr_train_files f = { ckpt, best, NULL };
    sr_train_result r;
    assert_int_equal(sr_train_run(st, &c, &f, NULL, NULL, &r), SR_OK);
    assert_true(r.stopped_early);
    assert_int_equal(r.evals, 3);
    assert_int_equal(r.steps, 15);
    assert_int_equal(r.best_step, 5);
    sr_store_close(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_text_round_trip),
        cmocka_unit_test(test_config_rejects_bad_settings),
        cmocka_unit_test(test_config_float_bounds_round_trip),
        SR_TEST_IN_DIR(test_learns_planted_cycle),
        SR_TEST_IN_DIR(test_resume_is_bit_identical),
        SR_TEST_IN_DIR(test_early_stopping_keeps_first_best),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
