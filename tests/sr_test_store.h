/* sr_test_store.h - tiny session stores written from literal arrays, for
 * tests of the readers of a store (batcher, evaluator, baselines). Include
 * after sr_test.h and cmocka.h. Track i gets the id "t<i>". */
#ifndef SR_TEST_STORE_H
#define SR_TEST_STORE_H

#include <stdio.h>
#include <string.h>

#include "sr_store.h"
#include "sr_test.h"

typedef struct sr_test_store {
    sr_split_kind kind; /* leave-last (0) or temporal */
    int n;              /* sessions */
    uint8_t split[64];  /* [n] SR_SPLIT_* */
    uint32_t len[64];   /* [n] plays */
    int32_t track[512]; /* all plays, session after session */
    uint8_t fb[512];    /* SR_FB_* per play */
    int32_t I;          /* tracks */
    uint32_t plays[64]; /* [I] the store's track_plays */
} sr_test_store;

/* Write ts to <scratch dir>/<name> and open it (fails the test on error). */
static inline sr_store *sr_test_store_open(const sr_test_store *ts, const char *name)
{
    const char *path = sr_test_path(name);
    sr_store_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.split = ts->kind;
    snprintf(meta.name, sizeof meta.name, "test");
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(path, &meta, &w), SR_OK);
    uint64_t off = 0;
    static uint16_t pos[512];
    static int64_t tm[512];
    static uint32_t ctx[512];
    for (int s = 0; s < ts->n; s++) {
        if (sr_store_writer_add(w, ts->split[s], 1000 + s, ts->len[s], ts->track + off,
                                ts->fb + off, pos, tm, ctx) != SR_OK)
            fail_msg("writer_add: %s", sr_errmsg());
        off += ts->len[s];
    }
    char idbuf[64][16];
    sr_str ids[64];
    uint32_t skips[64] = { 0 };
    for (int i = 0; i < ts->I; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "t%d", i);
        ids[i] = sr_str_c(idbuf[i]);
    }
    if (sr_store_writer_finish(&w, (uint32_t)ts->I, ids, ts->plays, skips, NULL) != SR_OK)
        fail_msg("writer_finish: %s", sr_errmsg());
    sr_store *st = NULL;
    if (sr_store_open(path, &st) != SR_OK)
        fail_msg("store_open: %s", sr_errmsg());
    return st;
}

#endif /* SR_TEST_STORE_H */
