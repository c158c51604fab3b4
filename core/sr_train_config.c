/* sr_train_config.c - the resolved training configuration: presets and the
 * key table behind "key = value" settings, the model files' config text and
 * `seqrecctl train --set`. The table is the single list of keys; the text
 * form prints every key, so a model file says exactly how it was trained. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_csv.h"
#include "sr_eval.h"
#include "sr_train.h"

typedef enum conf_type {
    CONF_INT,    /* int */
    CONF_I32,    /* int32_t */
    CONF_I64,    /* int64_t */
    CONF_U64,    /* uint64_t */
    CONF_FLOAT,  /* float */
    CONF_DOUBLE, /* double */
    CONF_BOOL,   /* bool */
    CONF_ENUM,   /* an enum stored as int, names in `names` */
    CONF_STR     /* char[SR_TRAIN_METRIC_MAX] */
} conf_type;

_Static_assert(sizeof(sr_model_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(sr_sampler_kind) == sizeof(int), "enums are stored as int");

static const char *const kind_names[] = { "sasrec", "bert4rec" };
static const char *const head_names[] = { "plain", "authors" };
static const char *const loss_names[] = { "full_ce", "sampled", "bce", "sampled_authors" };
static const char *const target_names[] = { "next_play", "next_listened" };
static const char *const context_names[] = { "item_embedding", "hidden" };
static const char *const sampler_names[] = { "uniform", "popularity" };

typedef struct conf_key {
    const char *name;
    conf_type type;
    size_t off;
    const char *const *names; /* CONF_ENUM */
    size_t n_names;
    double min, max;          /* numeric range, inclusive */
} conf_key;

#define OFF(f) offsetof(sr_train_config, f)
#define ENUM(n) n, SR_COUNTOF(n)
#define NUM 0, 0

static const conf_key conf_keys[] = {
    /* model */
    { "kind", CONF_ENUM, OFF(model.kind), ENUM(kind_names), 0, 0 },
    { "items", CONF_I32, OFF(model.I), NUM, 0, 2147483646.0 },
    { "dim", CONF_INT, OFF(model.D), NUM, 1, 65536 },
    { "layers", CONF_INT, OFF(model.layers), NUM, 1, SR_MODEL_MAX_LAYERS },
    { "heads", CONF_INT, OFF(model.heads), NUM, 1, 1024 },
    { "ffn", CONF_INT, OFF(model.F), NUM, 1, 1 << 20 },
    { "max_len", CONF_INT, OFF(model.L), NUM, 2, 4096 },
    { "dropout", CONF_FLOAT, OFF(model.dropout), NUM, 0, 0.99 },
    { "tied", CONF_BOOL, OFF(model.tied), NUM, 0, 1 },
    { "head", CONF_ENUM, OFF(model.head), ENUM(head_names), 0, 0 },
    { "feedback", CONF_BOOL, OFF(model.feedback), NUM, 0, 1 },
    { "mask_prob", CONF_FLOAT, OFF(model.mask_prob), NUM, 0.001, 1 },
    { "loss", CONF_ENUM, OFF(model.loss), ENUM(loss_names), 0, 0 },
    { "negatives", CONF_INT, OFF(model.negatives), NUM, 1, 1 << 20 },
    { "log_q", CONF_BOOL, OFF(model.log_q), NUM, 0, 1 },
    { "target", CONF_ENUM, OFF(model.target), ENUM(target_names), 0, 0 },
    { "lambda", CONF_FLOAT, OFF(model.lambda), NUM, 0, 1000 },
    { "tau", CONF_FLOAT, OFF(model.tau), NUM, 1e-6, 1000 },
    { "context", CONF_ENUM, OFF(model.context), ENUM(context_names), 0, 0 },
    { "chunk", CONF_INT, OFF(model.chunk), NUM, 1, 1 << 24 },
    { "init_std", CONF_FLOAT, OFF(model.init_std), NUM, 1e-6, 10 },
    { "seed", CONF_U64, OFF(model.seed), NUM, 0, 1.9e19 },
    /* optimiser */
    { "lr", CONF_DOUBLE, OFF(optim.schedule.lr_peak), NUM, 1e-9, 10 },
    { "lr_floor", CONF_DOUBLE, OFF(optim.schedule.lr_floor), NUM, 0, 10 },
    { "warmup", CONF_I64, OFF(optim.schedule.warmup_steps), NUM, 0, 1e15 },
    { "total_steps", CONF_I64, OFF(optim.schedule.total_steps), NUM, 1, 4e18 },
    { "beta1", CONF_DOUBLE, OFF(optim.beta1), NUM, 0, 0.999999 },
    { "beta2", CONF_DOUBLE, OFF(optim.beta2), NUM, 0, 0.999999999 },
    { "eps", CONF_DOUBLE, OFF(optim.eps), NUM, 1e-30, 1 },
    { "weight_decay", CONF_DOUBLE, OFF(optim.weight_decay), NUM, 0, 10 },
    { "decay_tables", CONF_BOOL, OFF(optim.decay_tables), NUM, 0, 1 },
    { "clip_norm", CONF_DOUBLE, OFF(optim.clip_norm), NUM, -1, 1e9 },
    { "lazy_items", CONF_BOOL, OFF(optim.lazy_items), NUM, 0, 1 },
    /* loop */
    { "batch", CONF_INT, OFF(batch), NUM, 1, 65536 },
    { "epochs", CONF_U64, OFF(epochs), NUM, 1, 1e9 },
    { "max_steps", CONF_U64, OFF(max_steps), NUM, 0, 1e15 },
    { "eval_every", CONF_U64, OFF(eval_every), NUM, 0, 1e15 },
    { "valid_queries", CONF_U64, OFF(valid_queries), NUM, 0, 1e15 },
    { "eval_batch", CONF_INT, OFF(eval_batch), NUM, 1, 65536 },
    { "patience", CONF_INT, OFF(patience), NUM, 0, 1000000 },
    { "ckpt_every", CONF_U64, OFF(ckpt_every), NUM, 0, 1e15 },
    { "threads", CONF_INT, OFF(threads), NUM, 0, 4096 },
    { "metric", CONF_STR, OFF(metric), NUM, 0, 0 },
    { "sampler", CONF_ENUM, OFF(sampler), ENUM(sampler_names), 0, 0 },
};

sr_err sr_train_config_preset(sr_model_kind kind, const char *preset, sr_train_config *out)
{
    sr_train_config c;
    memset(&c, 0, sizeof c);
    c.model = sr_model_config_paper(kind);
    c.optim = sr_optim_config_default();
    c.eval_every = 0;
    c.valid_queries = 0;
    c.eval_batch = 128;
    c.ckpt_every = 0;
    c.threads = 0;
    snprintf(c.metric, sizeof c.metric, "ndcg@10");
    c.sampler = SR_SAMPLER_KIND_UNIFORM;
    if (preset && strcmp(preset, "paper") == 0) {
        c.batch = 256;
        c.epochs = 100;
        c.patience = 5;
    } else if (preset && strcmp(preset, "fast") == 0) {
        c.model.D = 64;
        c.model.heads = 2;
        c.model.F = 128;
        c.batch = 128;
        c.epochs = 20;
        c.patience = 3;
        c.valid_queries = 2000;
    } else {
        return sr_errorf(SR_ERR_ARG, "unknown preset \"%s\" (expected paper or fast)",
                         preset ? preset : "(null)");
    }
    *out = c;
    return SR_OK;
}

static const conf_key *conf_find(sr_str key)
{
    for (size_t i = 0; i < SR_COUNTOF(conf_keys); i++)
        if (strlen(conf_keys[i].name) == key.len && memcmp(conf_keys[i].name, key.ptr, key.len) == 0)
            return &conf_keys[i];
    return NULL;
}

static sr_str conf_trim(sr_str s)
{
    while (s.len > 0 && isspace((unsigned char)s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && isspace((unsigned char)s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static sr_err conf_range(const conf_key *k, double v, sr_str value)
{
    if (!(v >= k->min && v <= k->max))
        return sr_errorf(SR_ERR_ARG, "setting %s = %.*s: out of range [%g, %g]", k->name,
                         (int)value.len, value.ptr, k->min, k->max);
    return SR_OK;
}

static sr_err conf_range_float(const conf_key *k, float v, sr_str value)
{
    if (!(v >= (float)k->min && v <= (float)k->max))
        return sr_errorf(SR_ERR_ARG, "setting %s = %.*s: out of range [%g, %g]", k->name,
                         (int)value.len, value.ptr, k->min, k->max);
    return SR_OK;
}

sr_err sr_train_config_set(sr_train_config *c, const char *key, sr_str value)
{
    const conf_key *k = conf_find(sr_str_c(key));
    if (!k)
        return sr_errorf(SR_ERR_ARG, "unknown setting \"%s\" (docs/usage.md lists the keys)", key);
    value = conf_trim(value);
    char *field = (char *)c + k->off;
    int64_t i64 = 0;
    double f = 0;
    bool b = false;
    bool is_int = k->type == CONF_INT || k->type == CONF_I32 || k->type == CONF_I64;
    if (is_int || k->type == CONF_U64) {
        if (k->type == CONF_U64) {
            /* full uint64 range for seeds */
            char buf[32];
            if (value.len == 0 || value.len >= sizeof buf || value.ptr[0] == '-')
                goto bad;
            memcpy(buf, value.ptr, value.len);
            buf[value.len] = '\0';
            char *end = NULL;
            errno = 0;
            unsigned long long u = strtoull(buf, &end, 10);
            if (*end != '\0' || errno == ERANGE)
                goto bad;
            sr_err e = conf_range(k, (double)u, value);
            if (e != SR_OK)
                return e;
            uint64_t v = u;
            memcpy(field, &v, sizeof v);
            return SR_OK;
        }
        if (!sr_parse_i64(value, &i64))
            goto bad;
        sr_err e = conf_range(k, (double)i64, value);
        if (e != SR_OK)
            return e;
        if (k->type == CONF_INT) {
            int v = (int)i64;
            memcpy(field, &v, sizeof v);
        } else if (k->type == CONF_I32) {
            int32_t v = (int32_t)i64;
            memcpy(field, &v, sizeof v);
        } else {
            memcpy(field, &i64, sizeof i64);
        }
        return SR_OK;
    }
    switch (k->type) {
    case CONF_FLOAT:
    case CONF_DOUBLE: {
        if (!sr_parse_f64(value, &f) || !isfinite(f))
            goto bad;
        /* a float key is checked as the float it will be stored (and printed) as,
         * against float-rounded bounds, so text written back always reads back */
        sr_err e = k->type == CONF_FLOAT ? conf_range_float(k, (float)f, value)
                                         : conf_range(k, f, value);
        if (e != SR_OK)
            return e;
        if (k->type == CONF_FLOAT) {
            float v = (float)f;
            memcpy(field, &v, sizeof v);
        } else {
            memcpy(field, &f, sizeof f);
        }
        return SR_OK;
    }
    case CONF_BOOL:
        if (!sr_parse_bool(value, &b))
            goto bad;
        memcpy(field, &b, sizeof b);
        return SR_OK;
    case CONF_ENUM: {
        int v = 0;
        sr_err e = sr_name_parse(value, k->names, k->n_names, k->name, &v);
        if (e != SR_OK)
            return e;
        memcpy(field, &v, sizeof v);
        return SR_OK;
    }
    case CONF_STR:
        if (value.len == 0 || value.len >= SR_TRAIN_METRIC_MAX)
            goto bad;
        for (size_t i = 0; i < value.len; i++) /* evaluation keys: [a-z0-9_@] */
            if (!((value.ptr[i] >= 'a' && value.ptr[i] <= 'z') ||
                  (value.ptr[i] >= '0' && value.ptr[i] <= '9') || value.ptr[i] == '_' ||
                  value.ptr[i] == '@'))
                goto bad;
        memset(field, 0, SR_TRAIN_METRIC_MAX);
        memcpy(field, value.ptr, value.len);
        return SR_OK;
    default:
        break;
    }
bad:
    return sr_errorf(SR_ERR_ARG, "setting %s: cannot read \"%.*s\"", k->name, (int)value.len,
                     value.ptr);
}

sr_err sr_train_config_set_line(sr_train_config *c, sr_str line)
{
    const char *eq = memchr(line.ptr, '=', line.len);
    if (!eq)
        return sr_errorf(SR_ERR_ARG, "setting \"%.*s\": expected key=value", (int)line.len,
                         line.ptr);
    sr_str key = conf_trim((sr_str){ line.ptr, (size_t)(eq - line.ptr) });
    sr_str value = { eq + 1, line.len - (size_t)(eq - line.ptr) - 1 };
    char name[64];
    if (key.len == 0 || key.len >= sizeof name)
        return sr_errorf(SR_ERR_ARG, "setting \"%.*s\": bad key", (int)line.len, line.ptr);
    memcpy(name, key.ptr, key.len);
    name[key.len] = '\0';
    return sr_train_config_set(c, name, value);
}

sr_err sr_train_config_apply_text(sr_train_config *c, sr_str text)
{
    size_t at = 0;
    while (at < text.len) {
        const char *nl = memchr(text.ptr + at, '\n', text.len - at);
        size_t end = nl ? (size_t)(nl - text.ptr) : text.len;
        sr_str line = conf_trim((sr_str){ text.ptr + at, end - at });
        if (line.len > 0 && line.ptr[0] != '#') {
            sr_err e = sr_train_config_set_line(c, line);
            if (e != SR_OK)
                return e;
        }
        at = end + 1;
    }
    return SR_OK;
}

char *sr_train_config_text(const sr_train_config *c)
{
    size_t cap = 64 * SR_COUNTOF(conf_keys) + 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < SR_COUNTOF(conf_keys); i++) {
        const conf_key *k = &conf_keys[i];
        const char *field = (const char *)c + k->off;
        char val[64];
        int iv;
        int32_t i32;
        int64_t i64;
        uint64_t u64;
        float f;
        double d;
        bool b;
        switch (k->type) {
        case CONF_INT:
            memcpy(&iv, field, sizeof iv);
            snprintf(val, sizeof val, "%d", iv);
            break;
        case CONF_I32:
            memcpy(&i32, field, sizeof i32);
            snprintf(val, sizeof val, "%d", (int)i32);
            break;
        case CONF_I64:
            memcpy(&i64, field, sizeof i64);
            snprintf(val, sizeof val, "%lld", (long long)i64);
            break;
        case CONF_U64:
            memcpy(&u64, field, sizeof u64);
            snprintf(val, sizeof val, "%llu", (unsigned long long)u64);
            break;
        case CONF_FLOAT:
            memcpy(&f, field, sizeof f);
            snprintf(val, sizeof val, "%.9g", (double)f);
            break;
        case CONF_DOUBLE:
            memcpy(&d, field, sizeof d);
            snprintf(val, sizeof val, "%.17g", d);
            break;
        case CONF_BOOL:
            memcpy(&b, field, sizeof b);
            snprintf(val, sizeof val, "%s", b ? "true" : "false");
            break;
        case CONF_ENUM:
            memcpy(&iv, field, sizeof iv);
            snprintf(val, sizeof val, "%s", sr_name_at(k->names, k->n_names, (unsigned)iv));
            break;
        case CONF_STR:
            snprintf(val, sizeof val, "%.*s", SR_TRAIN_METRIC_MAX - 1, field);
            break;
        }
        int n = snprintf(out + len, cap - len, "%s = %s\n", k->name, val);
        if (n < 0 || (size_t)n >= cap - len) {
            free(out);
            return NULL;
        }
        len += (size_t)n;
    }
    return out;
}

typedef struct metric_probe {
    const char *key;
    bool found;
} metric_probe;

static void metric_probe_visit(void *ctx, const char *key, double value, bool is_count)
{
    (void)value;
    metric_probe *p = ctx;
    if (!is_count && strcmp(key, p->key) == 0)
        p->found = true;
}

sr_err sr_train_config_check(const sr_train_config *c)
{
    sr_err e = sr_model_config_check(&c->model);
    if (e != SR_OK)
        return e;
    e = sr_optim_config_check(&c->optim);
    if (e != SR_OK)
        return e;
    if (c->batch < 1)
        return sr_errorf(SR_ERR_ARG, "batch = %d, need >= 1", c->batch);
    if (c->epochs < 1)
        return sr_errorf(SR_ERR_ARG, "epochs = %llu, need >= 1", (unsigned long long)c->epochs);
    if (c->eval_batch < 1 || c->eval_batch > c->batch)
        return sr_errorf(SR_ERR_ARG, "eval_batch = %d, need 1..batch (%d)", c->eval_batch,
                         c->batch);
    if (c->patience < 0 || c->threads < 0)
        return sr_errorf(SR_ERR_ARG, "patience = %d, threads = %d: need >= 0", c->patience,
                         c->threads);
    if (c->sampler != SR_SAMPLER_KIND_UNIFORM && c->sampler != SR_SAMPLER_KIND_POPULARITY)
        return sr_errorf(SR_ERR_ARG, "sampler %d unknown", (int)c->sampler);
    if (memchr(c->metric, '\0', sizeof c->metric) == NULL || c->metric[0] == '\0')
        return sr_errorf(SR_ERR_ARG, "metric: empty");
    /* the metric must be an evaluation key (known before the first validation) */
    sr_eval_result r;
    memset(&r, 0, sizeof r);
    metric_probe p = { c->metric, false };
    sr_eval_visit(&r, metric_probe_visit, &p);
    if (!p.found)
        return sr_errorf(SR_ERR_ARG, "metric \"%s\" is not an evaluation key "
                         "(e.g. ndcg@10, hr@10, mrr@10)", c->metric);
    return SR_OK;
}
