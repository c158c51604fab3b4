/* test_model_reference.c - sr_model against an independent PyTorch float64
 * implementation (tests/reference/torch_ref.py, docs/model.md).
 *
 * Each golden file tests/reference/<case>.bin holds a configuration, the
 * batch of test_model.c (with the cloze mask and negatives the reference
 * used), every weight, and PyTorch's loss parts, final hidden states, scores
 * of one session and every gradient. This test loads the weights into
 * sr_model, runs forward + backward with dropout 0 and compares:
 *   loss parts        relative error <= 1e-5, counts exactly;
 *   every gradient    max |c - ref| <= 1e-4 * max(max |ref| of the tensor, 1e-3)
 *                     (relative to the tensor's scale: an element-wise relative
 *                     error means nothing for entries that are ~0, such as the
 *                     key bias, whose true gradient is exactly 0);
 *   hidden states     valid rows, max |c - ref| <= 1e-4 * max |ref|;
 *   scores            max |c - ref| <= 1e-4 * max |ref|.
 * The files are committed; regenerating them needs python3-torch (see the
 * script). The file format is described at the top of torch_ref.py; every
 * length is checked against the bytes left before it is used.
 */
#include "sr_test.h"

#include <math.h>
#include <omp.h>

#include "sr_model.h"

#define REF_DIR SR_SOURCE_DIR "/tests/reference/"

enum { REC_MAX = 128, NAME_MAX_LEN = 64 };

typedef struct ref_rec {
    char name[NAME_MAX_LEN];
    int dtype; /* 1 f32, 2 i32, 3 u8, 4 f64 */
    uint32_t count;
    const unsigned char *data;
} ref_rec;

typedef struct ref_file {
    unsigned char *buf;
    size_t len;
    int32_t ints[20];
    float flts[4];
    ref_rec recs[REC_MAX];
    uint32_t n_recs;
} ref_file;

static size_t dtype_size(int dt)
{
    return dt == 1 || dt == 2 ? 4 : dt == 3 ? 1 : dt == 4 ? 8 : 0;
}

static void need(size_t pos, size_t n, size_t len, const char *what)
{
    if (n > len || pos > len - n)
        fail_msg("reference file truncated reading %s at byte %zu", what, pos);
}

static uint32_t rd_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* little-endian host (x86-64), as the file */
    return v;
}

static void ref_load(const char *name, ref_file *r)
{
    char path[SR_TEST_PATH_MAX];
    snprintf(path, sizeof path, REF_DIR "%s.bin", name);
    memset(r, 0, sizeof *r);
    r->buf = sr_test_read_file(path, &r->len);
    size_t pos = 0;
    need(pos, 12, r->len, "header");
    if (memcmp(r->buf, "SRMODREF", 8) != 0)
        fail_msg("%s: bad magic", path);
    if (rd_u32(r->buf + 8) != 1)
        fail_msg("%s: version %u, expected 1", path, rd_u32(r->buf + 8));
    pos = 12;
    need(pos, 4, r->len, "n_ints");
    if (rd_u32(r->buf + pos) != 20)
        fail_msg("%s: %u config ints, expected 20", path, rd_u32(r->buf + pos));
    pos += 4;
    need(pos, 80, r->len, "ints");
    memcpy(r->ints, r->buf + pos, 80);
    pos += 80;
    need(pos, 4, r->len, "n_flts");
    if (rd_u32(r->buf + pos) != 4)
        fail_msg("%s: %u config floats, expected 4", path, rd_u32(r->buf + pos));
    pos += 4;
    need(pos, 16, r->len, "floats");
    memcpy(r->flts, r->buf + pos, 16);
    pos += 16;
    need(pos, 4, r->len, "n_recs");
    r->n_recs = rd_u32(r->buf + pos);
    pos += 4;
    if (r->n_recs > REC_MAX)
        fail_msg("%s: %u records, at most %d", path, r->n_recs, REC_MAX);
    for (uint32_t i = 0; i < r->n_recs; i++) {
        ref_rec *c = &r->recs[i];
        need(pos, 2, r->len, "name length");
        uint16_t nl;
        memcpy(&nl, r->buf + pos, 2);
        pos += 2;
        if (nl == 0 || nl >= NAME_MAX_LEN)
            fail_msg("%s: record %u name length %u", path, i, nl);
        need(pos, nl + 5u, r->len, "record header");
        memcpy(c->name, r->buf + pos, nl);
        c->name[nl] = '\0';
        pos += nl;
        c->dtype = r->buf[pos];
        c->count = rd_u32(r->buf + pos + 1);
        pos += 5;
        size_t es = dtype_size(c->dtype);
        if (es == 0)
            fail_msg("%s: record %s dtype %d", path, c->name, c->dtype);
        need(pos, (size_t)c->count * es, r->len, c->name);
        c->data = r->buf + pos;
        pos += (size_t)c->count * es;
    }
    if (pos != r->len)
        fail_msg("%s: %zu trailing bytes", path, r->len - pos);
}

/* The record `name` of type dtype with exactly `count` values (0 = any);
 * NULL when absent and !required. */
static const ref_rec *ref_get(const ref_file *r, const char *name, int dtype, uint32_t count,
                              bool required)
{
    for (uint32_t i = 0; i < r->n_recs; i++) {
        const ref_rec *c = &r->recs[i];
        if (strcmp(c->name, name) != 0)
            continue;
        if (c->dtype != dtype || (count && c->count != count))
            fail_msg("record %s: dtype %d count %u, expected dtype %d count %u", name, c->dtype,
                     c->count, dtype, count);
        return c;
    }
    if (required)
        fail_msg("record %s missing", name);
    return NULL;
}

/* Copies (records are not aligned for their type). */
static void *ref_copy(const ref_rec *c)
{
    size_t n = (size_t)c->count * dtype_size(c->dtype);
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, c->data, n);
    return p;
}

static double max_abs(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

static void check_close(const char *what, const float *got, const float *ref, size_t n,
                        double floor_scale)
{
    double scale = fmax(max_abs(ref, n), floor_scale);
    size_t worst = 0;
    double err = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]);
        if (!(e <= err)) { /* NaN counts as worst */
            err = isnan(e) ? INFINITY : e;
            worst = i;
        }
    }
    if (!(err <= 1e-4 * scale))
        fail_msg("%s: max |c - ref| = %.3g at [%zu] (c %.9g ref %.9g), scale %.3g: relative "
                 "%.3g > 1e-4",
                 what, err, worst, (double)got[worst], (double)ref[worst], scale, err / scale);
}

static void run_reference_case(const char *name)
{
    ref_file r;
    ref_load(name, &r);
    const int32_t *v = r.ints;
    sr_model_config c = sr_model_config_paper(v[0] ? SR_MODEL_KIND_BERT4REC
                                                   : SR_MODEL_KIND_SASREC);
    c.I = v[1];
    c.D = v[2];
    c.layers = v[3];
    c.heads = v[4];
    c.F = v[5];
    c.L = v[6];
    const int B = v[7];
    c.head = v[8] ? SR_MODEL_HEAD_AUTHORS : SR_MODEL_HEAD_PLAIN;
    c.tied = v[9] != 0;
    c.feedback = v[10] != 0;
    c.loss = (sr_model_loss_kind)v[11];
    c.negatives = v[12] > 0 ? v[12] : 1;
    c.log_q = v[13] != 0;
    c.target = (sr_target_mode)v[14];
    c.context = (sr_model_context)v[15];
    c.chunk = v[16];
    c.lambda = r.flts[0];
    c.tau = r.flts[1];
    c.mask_prob = r.flts[2];
    c.dropout = r.flts[3];
    if (sr_model_config_check(&c) != SR_OK)
        fail_msg("%s: config: %s", name, sr_errmsg());
    const uint32_t T = (uint32_t)B * (uint32_t)c.L;

    sr_model *m = NULL;
    sr_dnnl_ctx *ctx = NULL;
    assert_int_equal(sr_model_new(&c, B, &m), SR_OK);
    assert_int_equal(sr_dnnl_ctx_new(0, &ctx), SR_OK);
    size_t nt = sr_model_tensor_count(m);
    for (size_t i = 0; i < nt; i++) {
        sr_model_tensor_info t;
        sr_model_tensor(m, i, &t);
        char rn[NAME_MAX_LEN + 8];
        snprintf(rn, sizeof rn, "param/%s", t.name);
        const ref_rec *p = ref_get(&r, rn, 1, (uint32_t)(t.rows * t.cols), true);
        memcpy(t.param, p->data, sizeof(float) * p->count);
    }
    /* every parameter in the file has a tensor in the model: the counts agree */
    uint32_t n_param_recs = 0;
    for (uint32_t i = 0; i < r.n_recs; i++)
        if (strncmp(r.recs[i].name, "param/", 6) == 0)
            n_param_recs++;
    assert_int_equal(n_param_recs, nt);

    int32_t *tracks = ref_copy(ref_get(&r, "tracks", 2, T, true));
    uint8_t *skipped = ref_copy(ref_get(&r, "skipped", 3, T, true));
    uint8_t *valid = ref_copy(ref_get(&r, "valid", 3, T, true));
    const ref_rec *rc = ref_get(&r, "cloze", 3, T, v[17] != 0);
    const ref_rec *rn = ref_get(&r, "neg_items", 2, 0, v[18] != 0);
    const ref_rec *rq = ref_get(&r, "neg_q", 1, 0, v[19] != 0);
    uint8_t *cloze = rc ? ref_copy(rc) : NULL;
    int32_t *neg = rn ? ref_copy(rn) : NULL;
    float *negq = rq ? ref_copy(rq) : NULL;
    if (rn)
        assert_int_equal(rn->count, c.loss == SR_MODEL_LOSS_KIND_BCE
                                        ? T * (uint32_t)c.negatives
                                        : (uint32_t)c.negatives);
    sr_model_batch bt = { .B = B, .tracks = tracks, .skipped = skipped, .valid = valid,
                          .step = 0, .cloze = cloze, .neg_items = neg, .neg_q = negq };
    sr_model_loss_parts parts;
    if (sr_model_forward_backward(m, &bt, ctx, &parts) != SR_OK)
        fail_msg("%s: forward_backward: %s", name, sr_errmsg());

    double lp[5];
    memcpy(lp, ref_get(&r, "loss", 4, 5, true)->data, sizeof lp);
    SR_ASSERT_NEAR(parts.total, lp[0], 1e-5 * fabs(lp[0]));
    SR_ASSERT_NEAR(parts.rec, lp[1], 1e-5 * fabs(lp[1]));
    SR_ASSERT_NEAR(parts.nf, lp[2], 1e-5 * fabs(lp[2]) + 1e-12);
    assert_int_equal(parts.n_targets, (int)lp[3]);
    if (c.lambda > 0.0f)
        assert_int_equal(parts.n_anchors, (int64_t)lp[4]);

    for (size_t i = 0; i < nt; i++) {
        sr_model_tensor_info t;
        sr_model_tensor(m, i, &t);
        char gn[NAME_MAX_LEN + 8];
        snprintf(gn, sizeof gn, "grad/%s", t.name);
        float *ref = ref_copy(ref_get(&r, gn, 1, (uint32_t)(t.rows * t.cols), true));
        char what[128];
        snprintf(what, sizeof what, "%s: %s", name, gn);
        check_close(what, t.grad, ref, (size_t)t.rows * (size_t)t.cols, 1e-3);
        free(ref);
    }

    /* final hidden states of valid rows (PyTorch and C may differ at padding) */
    float *href = ref_copy(ref_get(&r, "hidden", 1, T * (uint32_t)c.D, true));
    const float *h = sr_model_hidden(m);
    double hs = max_abs(href, (size_t)T * (size_t)c.D);
    for (uint32_t t = 0; t < T; t++) {
        if (!valid[t])
            continue;
        char what[128];
        snprintf(what, sizeof what, "%s: hidden row %u", name, t);
        check_close(what, h + (size_t)t * c.D, href + (size_t)t * c.D, (size_t)c.D, hs);
    }

    const ref_rec *ss = ref_get(&r, "score_session", 2, 0, true);
    int32_t *sess = ref_copy(ss);
    uint8_t *sk = ref_copy(ref_get(&r, "score_skipped", 3, ss->count, true));
    float *sref = ref_copy(ref_get(&r, "scores", 1, (uint32_t)c.I, true));
    float *scores = malloc(sizeof(float) * (size_t)c.I);
    assert_non_null(scores);
    assert_int_equal(sr_model_score(m, ctx, sess, sk, (int)ss->count, scores), SR_OK);
    char what[128];
    snprintf(what, sizeof what, "%s: scores", name);
    check_close(what, scores, sref, (size_t)c.I, 0.0);

    free(scores);
    free(sref);
    free(sk);
    free(sess);
    free(href);
    free(tracks);
    free(skipped);
    free(valid);
    free(cloze);
    free(neg);
    free(negq);
    free(r.buf);
    sr_model_free(&m);
    sr_dnnl_ctx_free(&ctx);
}

#define REF_TEST(case_name)                                \
    static void test_reference_##case_name(void **state)   \
    {                                                      \
        (void)state;                                       \
        run_reference_case(#case_name);                    \
    }

REF_TEST(sasrec_full_ce_plain)
REF_TEST(sasrec_full_ce_authors_skip_item)
REF_TEST(sasrec_full_ce_skip_hidden_fb_untied_listened)
REF_TEST(sasrec_sampled_logq_skip)
REF_TEST(sasrec_bce_plain)
REF_TEST(bert4rec_full_ce_authors_skip_item)
REF_TEST(bert4rec_sampled_plain_fb_untied)
REF_TEST(bert4rec_bce_skip)

int main(void)
{
    omp_set_num_threads(1); /* tiny shapes: see test_model.c */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_sasrec_full_ce_plain),
        cmocka_unit_test(test_reference_sasrec_full_ce_authors_skip_item),
        cmocka_unit_test(test_reference_sasrec_full_ce_skip_hidden_fb_untied_listened),
        cmocka_unit_test(test_reference_sasrec_sampled_logq_skip),
        cmocka_unit_test(test_reference_sasrec_bce_plain),
        cmocka_unit_test(test_reference_bert4rec_full_ce_authors_skip_item),
        cmocka_unit_test(test_reference_bert4rec_sampled_plain_fb_untied),
        cmocka_unit_test(test_reference_bert4rec_bce_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
