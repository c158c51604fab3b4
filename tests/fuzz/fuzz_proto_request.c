/* fuzz_proto_request.c - libFuzzer entry point for the wire format.
 *
 * For every input:
 *  1. sr_mp_parse() must either fail with an empty doc or produce a node tree
 *     whose spans are consistent (pre-order, children inside their parent);
 *  2. sr_proto_request_decode(); when it accepts, the request is re-encoded,
 *     decoded again and must come back field for field (lists read through
 *     their public readers), and encoding that again must give the same bytes; when it refuses, the error reply built
 *     from its message must decode back to the same code and message;
 *  3. sr_proto_reply_decode() on the same bytes (the client's side).
 * A violated property aborts, which libFuzzer and the replay test report.
 * Built twice: with libFuzzer (SEQREC_FUZZ) and with replay_main.c into the
 * plain fuzz_replay test (tests/fuzz/fuzz.cmake). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(c)                                                                   \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "fuzz_proto_request: property failed at line %d: %s\n",     \
                    __LINE__, #c);                                                      \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static bool fuzz_pstr_same(sr_pstr a, sr_pstr b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Doubles compared by bits: -1.0 (unset) and every accepted value in [0, 1]
 * must survive the float64 encoding exactly. */
static bool fuzz_f64_same(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Two string lists hold the same strings, read through the public iterator
 * (a decoded list is in its raw form: this also checks that the iterator
 * yields exactly n strings from what the decoder accepted). */
static bool fuzz_strs_same(const sr_proto_strs *a, const sr_proto_strs *b)
{
    sr_proto_strs_iter ia, ib;
    sr_pstr x, y;
    uint32_t n = 0;
    if (a->n != b->n)
        return false;
    sr_proto_strs_begin(a, &ia);
    sr_proto_strs_begin(b, &ib);
    for (;;) {
        bool ga = sr_proto_strs_next(&ia, &x), gb = sr_proto_strs_next(&ib, &y);
        if (ga != gb)
            return false;
        if (!ga)
            break;
        if (!fuzz_pstr_same(x, y) || x.len == 0)
            return false;
        n++;
    }
    return n == a->n;
}

/* Two sessions hold the same plays and skip labels; a decoded one respects
 * the limits (at most SR_PROTO_MAX_SESSION_PLAYS plays, one label per play). */
static bool fuzz_session_same(const sr_proto_session *x, const sr_proto_session *y)
{
    if (x->tracks.n > SR_PROTO_MAX_SESSION_PLAYS || !fuzz_strs_same(&x->tracks, &y->tracks) ||
        x->has_skipped != y->has_skipped || x->skipped.n != y->skipped.n ||
        (x->has_skipped ? x->skipped.n != x->tracks.n : x->skipped.n != 0))
        return false;
    for (uint32_t i = 0; i < x->skipped.n; i++)
        if (sr_proto_bools_at(&x->skipped, i) != sr_proto_bools_at(&y->skipped, i))
            return false;
    return true;
}

static bool fuzz_request_same(const sr_proto_request *a, const sr_proto_request *b)
{
    if (a->version != b->version || a->op != b->op || a->id != b->id)
        return false;
    switch (a->op) {
    case SR_PROTO_OP_SYNTH: {
        const sr_proto_synth *x = &a->u.synth, *y = &b->u.synth;
        return fuzz_pstr_same(x->out, y->out) && x->sessions == y->sessions &&
               x->tracks == y->tracks && x->has_seed == y->has_seed &&
               (!x->has_seed || x->seed == y->seed) && fuzz_pstr_same(x->skips, y->skips);
    }
    case SR_PROTO_OP_INGEST: {
        const sr_proto_ingest *x = &a->u.ingest, *y = &b->u.ingest;
        if (x->n_paths != y->n_paths || x->n_paths == 0 || x->n_paths > SR_PROTO_MAX_PATHS)
            return false;
        for (uint32_t i = 0; i < x->n_paths; i++)
            if (!fuzz_pstr_same(x->paths[i], y->paths[i]))
                return false;
        return fuzz_pstr_same(x->name, y->name) && fuzz_pstr_same(x->format, y->format) &&
               fuzz_pstr_same(x->config, y->config) && fuzz_pstr_same(x->split, y->split) &&
               fuzz_pstr_same(x->skip_rule, y->skip_rule) &&
               x->min_session_len == y->min_session_len &&
               x->min_track_count == y->min_track_count &&
               x->only_with_skip == y->only_with_skip &&
               fuzz_f64_same(x->max_reject_rate, y->max_reject_rate) &&
               fuzz_f64_same(x->valid_frac, y->valid_frac) &&
               fuzz_f64_same(x->test_frac, y->test_frac) && x->replace == y->replace;
    }
    case SR_PROTO_OP_STATS:
        return fuzz_pstr_same(a->u.name, b->u.name);
    case SR_PROTO_OP_TRAIN: {
        const sr_proto_train *x = &a->u.train, *y = &b->u.train;
        if (x->n_set != y->n_set || x->n_set > SR_PROTO_MAX_SET)
            return false;
        for (uint32_t i = 0; i < x->n_set; i++)
            if (!fuzz_pstr_same(x->set[i], y->set[i]))
                return false;
        return fuzz_pstr_same(x->dataset, y->dataset) && fuzz_pstr_same(x->model, y->model) &&
               fuzz_pstr_same(x->preset, y->preset) && x->max_steps == y->max_steps &&
               x->epochs == y->epochs && x->has_seed == y->has_seed &&
               (!x->has_seed || x->seed == y->seed) && fuzz_pstr_same(x->name, y->name);
    }
    case SR_PROTO_OP_JOBS:
        return a->u.jobs.job == b->u.jobs.job;
    case SR_PROTO_OP_CANCEL:
        return a->u.cancel.job == b->u.cancel.job && a->u.cancel.job != 0;
    case SR_PROTO_OP_EVALUATE: {
        const sr_proto_evaluate *x = &a->u.evaluate, *y = &b->u.evaluate;
        return fuzz_pstr_same(x->model, y->model) && fuzz_pstr_same(x->dataset, y->dataset) &&
               fuzz_pstr_same(x->split, y->split) && fuzz_pstr_same(x->protocol, y->protocol) &&
               fuzz_pstr_same(x->exclude, y->exclude) && x->max_queries == y->max_queries;
    }
    case SR_PROTO_OP_RECOMMEND: {
        const sr_proto_recommend *x = &a->u.recommend, *y = &b->u.recommend;
        /* an accepted request holds 1..MAX_BATCH sessions, one in the single form */
        if (x->batch != y->batch || x->n_sessions != y->n_sessions || x->n_sessions == 0 ||
            x->n_sessions > SR_PROTO_MAX_BATCH || (!x->batch && x->n_sessions != 1))
            return false;
        for (uint32_t s = 0; s < x->n_sessions; s++)
            if (!fuzz_session_same(&x->sessions[s], &y->sessions[s]))
                return false;
        return fuzz_pstr_same(x->model, y->model) && x->k == y->k &&
               fuzz_pstr_same(x->exclude, y->exclude);
    }
    case SR_PROTO_OP_DATASETS: {
        const sr_proto_datasets *x = &a->u.datasets, *y = &b->u.datasets;
        /* drop names its dataset, list never does */
        if ((x->action == SR_PROTO_DATASETS_DROP) != (x->name.len > 0))
            return false;
        return x->action == y->action && fuzz_pstr_same(x->name, y->name);
    }
    case SR_PROTO_OP_MODELS: {
        const sr_proto_models *x = &a->u.models, *y = &b->u.models;
        bool save = x->action == SR_PROTO_MODELS_SAVE;
        bool named = x->action == SR_PROTO_MODELS_LOAD || save || x->action == SR_PROTO_MODELS_DROP;
        /* the per-action rules hold for whatever was accepted */
        if ((named && x->name.len == 0) || (save != (x->as.len > 0)) || (!save && x->replace))
            return false;
        return x->action == y->action && fuzz_pstr_same(x->name, y->name) &&
               fuzz_pstr_same(x->as, y->as) && x->replace == y->replace;
    }
    case SR_PROTO_OP_EXPERIMENT: {
        const sr_proto_experiment *x = &a->u.experiment, *y = &b->u.experiment;
        /* the required members are never empty once accepted */
        return x->spec.len > 0 && x->out.len > 0 && fuzz_pstr_same(x->spec, y->spec) &&
               fuzz_pstr_same(x->out, y->out) && fuzz_pstr_same(x->dataset, y->dataset) &&
               fuzz_pstr_same(x->name, y->name);
    }
    case SR_PROTO_OP_STATUS:
    case SR_PROTO_OP_SHUTDOWN:
        return true;
    }
    return false;
}

/* Spans: node i's subtree is [i, i + span); a container's children tile it. */
static void fuzz_check_doc(const sr_mp_doc *doc, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(doc->n_nodes >= 1 && doc->n_nodes <= size);
    FUZZ_CHECK(doc->nodes[0].span == doc->n_nodes);
    FUZZ_CHECK(doc->nodes[0].off == 0);
    for (uint32_t i = 0; i < doc->n_nodes; i++) {
        const sr_mp_node *n = &doc->nodes[i];
        FUZZ_CHECK(n->span >= 1 && (uint64_t)i + n->span <= doc->n_nodes);
        /* pre-order = frame order: offsets strictly increase */
        FUZZ_CHECK(n->off < size && (i == 0 || n->off > doc->nodes[i - 1].off));
        if (n->type == SR_MP_TYPE_STR || n->type == SR_MP_TYPE_BIN || n->type == SR_MP_TYPE_EXT) {
            const uint8_t *s = (const uint8_t *)n->v.s;
            FUZZ_CHECK(s >= data && s + n->n <= data + size);
        }
        if (n->type == SR_MP_TYPE_ARRAY || n->type == SR_MP_TYPE_MAP) {
            uint64_t kids = n->type == SR_MP_TYPE_MAP ? 2ull * n->n : n->n;
            uint64_t j = (uint64_t)i + 1;
            for (uint64_t k = 0; k < kids; k++) {
                FUZZ_CHECK(j < (uint64_t)i + n->span);
                j += doc->nodes[j].span;
            }
            FUZZ_CHECK(j == (uint64_t)i + n->span);
        } else {
            FUZZ_CHECK(n->span == 1);
        }
    }
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    sr_proto_request req, again;
    char err[256], err2[256];
    msgpack_sbuffer sb, sb2;
    msgpack_packer pk;

    sr_proto_code code = sr_proto_request_decode(data, size, NULL, &req, err, sizeof(err));
    if (code != SR_PROTO_CODE_OK) {
        /* the error reply the daemon would send must carry code and text intact */
        FUZZ_CHECK(err[0] != '\0');
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        sr_proto_reply_error(&pk, req.id, code, err);
        sr_mp_doc doc;
        bool ok = true;
        sr_proto_code c2 = SR_PROTO_CODE_OK;
        sr_pstr msg = { NULL, 0 };
        uint64_t id = 0;
        FUZZ_CHECK(sr_proto_reply_decode(sb.data, sb.size, &doc, &ok, NULL, &c2, &msg, &id, err2,
                                         sizeof(err2)));
        FUZZ_CHECK(!ok && c2 == code && id == req.id);
        FUZZ_CHECK(msg.len == strlen(err) && memcmp(msg.ptr, err, msg.len) == 0);
        sr_mp_doc_free(&doc);
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    FUZZ_CHECK(req.version == SR_PROTO_VERSION);
    msgpack_sbuffer_init(&sb);
    FUZZ_CHECK(sr_proto_request_encode(&req, &sb) == 0);
    code = sr_proto_request_decode(sb.data, sb.size, NULL, &again, err2, sizeof(err2));
    if (code != SR_PROTO_CODE_OK)
        fprintf(stderr, "fuzz_proto_request: re-decode failed: %d %s\n", (int)code, err2);
    FUZZ_CHECK(code == SR_PROTO_CODE_OK);
    FUZZ_CHECK(fuzz_request_same(&req, &again));
    msgpack_sbuffer_init(&sb2);
    FUZZ_CHECK(sr_proto_request_encode(&again, &sb2) == 0);
    FUZZ_CHECK(sb2.size == sb.size && memcmp(sb2.data, sb.data, sb.size) == 0);
    msgpack_sbuffer_destroy(&sb2);
    msgpack_sbuffer_destroy(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_mp_doc doc;
    char err[256];

    if (sr_mp_parse(data, size, NULL, &doc, err, sizeof(err))) {
        fuzz_check_doc(&doc, data, size);
        sr_mp_doc_free(&doc);
    } else {
        FUZZ_CHECK(doc.nodes == NULL && doc.n_nodes == 0 && err[0] != '\0');
    }

    fuzz_request(data, size);

    bool ok = false;
    const sr_mp_node *result = NULL;
    sr_proto_code code = SR_PROTO_CODE_OK;
    sr_pstr msg = { NULL, 0 };
    uint64_t id = 0;
    if (sr_proto_reply_decode(data, size, &doc, &ok, &result, &code, &msg, &id, err, sizeof(err))) {
        if (ok)
            FUZZ_CHECK(result != NULL && result->type == SR_MP_TYPE_MAP);
        else
            FUZZ_CHECK(result == NULL && code >= 100 && code <= 999);
        sr_mp_doc_free(&doc);
    } else {
        FUZZ_CHECK(doc.nodes == NULL);
    }
    return 0;
}
