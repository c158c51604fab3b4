/* test_serving.c - the daemon as a service, driven with seqrecctl: models
 * (default, save, drop), batch recommendations equal to single ones, the
 * request limits, scoring that keeps answering while a job trains, SIGTERM
 * with a job running (exit 0, the job checkpointed and resumed on restart),
 * status figures, paths that leave the data root through a symlink, and the
 * bounded request queue. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sr_test.h"
#include "sr_daemon_test.h"

#define SV_SMALL_SASREC                                                                    \
    "--model", "sasrec", "--preset", "fast", "--set", "dim=32", "--set", "layers=1", "--set", \
        "heads=2", "--set", "ffn=64", "--set", "max_len=10", "--set", "batch=32", "--set",   \
        "eval_batch=32", "--set", "valid_queries=200", "--seed", "5"

/* The track ids of the n-th "items" array (0-based) of a JSON reply, as
 * "id1 id2 ..." in out[cap]; false when there is no such array. */
static bool sv_items(const char *json, int nth, char *out, size_t cap)
{
    const char *p = json;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, "\"items\": [");
        if (!p)
            return false;
        p += 10;
    }
    const char *end = strchr(p, ']');
    assert_non_null(end);
    size_t n = 0;
    out[0] = '\0';
    for (const char *t = strstr(p, "\"track\": \""); t && t < end;
         t = strstr(t, "\"track\": \"")) {
        t += 10;
        const char *q = strchr(t, '"');
        assert_non_null(q);
        int w = snprintf(out + n, cap - n, "%s%.*s", n ? " " : "", (int)(q - t), t);
        assert_true(w > 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
    return true;
}

/* Three valid track ids: the popularity fallback of an unknown session. */
static void sv_known_tracks(const char *model, char ids[3][64])
{
    char out[16384], list[4096];
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "recommend", model, "--session",
                             "no-such-track", "-k", "3", (char *)NULL), 0);
    assert_true(sv_items(out, 0, list, sizeof list));
    assert_int_equal(sscanf(list, "%63s %63s %63s", ids[0], ids[1], ids[2]), 3);
}

static void sv_dataset(void)
{
    char out[8192];
    assert_int_equal(sdt_ctl(out, sizeof out, "synth", "--out", "s.csv", "--sessions", "2000",
                             "--tracks", "300", "--seed", "7", (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "ingest", "s.csv", "--name", "d", (char *)NULL),
                     0);
}

static void test_models_default_save_drop_batch_and_limits(void **state)
{
    (void)state;
    char out[65536], v[256], one[4096], many[4096], path[700];
    sdt_start_daemon("--threads", "4", "--train-threads", "1", "--max-sessions", "4",
                     "--max-plays", "50", "--log-level", "warn", (char *)NULL);
    sv_dataset();
    assert_int_equal(sdt_ctl(out, sizeof out, "train", "d", SV_SMALL_SASREC, "--max-steps", "60",
                             "--name", "a", "--wait", (char *)NULL), 0);
    char ids[3][64];
    sv_known_tracks("a", ids);

    /* no model named and no default: refused */
    char sess[256];
    snprintf(sess, sizeof sess, "%s,%s:skip", ids[0], ids[1]);
    assert_int_not_equal(sdt_ctl(out, sizeof out, "recommend", "--session", sess, (char *)NULL),
                         0);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "models", "default", (char *)NULL), 0);
    assert_true(sdt_json(out, "default", v, sizeof v));
    assert_string_equal(v, "null");
    /* a default: used when none is named, listed, and kept across a restart */
    assert_int_equal(sdt_ctl(out, sizeof out, "models", "default", "a", (char *)NULL), 0);
    assert_int_equal(sdt_stop_daemon(SIGTERM), 0);
    sdt_start_daemon("--threads", "4", "--train-threads", "1", "--max-sessions", "4",
                     "--max-plays", "50", "--log-level", "warn", (char *)NULL);
    /* the default model was loaded at start, before any request */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "status", (char *)NULL), 0);
    assert_true(sdt_json(out, "models_loaded", v, sizeof v));
    assert_string_equal(v, "1");
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "models", (char *)NULL), 0);
    assert_true(sdt_json(out, "default", v, sizeof v));
    assert_string_equal(v, "a");
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "recommend", "--session", sess, "-k",
                             "7", (char *)NULL), 0);
    assert_true(sdt_json(out, "model", v, sizeof v));
    assert_string_equal(v, "a");
    assert_true(sv_items(out, 0, one, sizeof one));

    /* a batch: one result per session, each the single-session answer */
    const char *singles[3];
    char s2[256], s3[256];
    snprintf(s2, sizeof s2, "%s", ids[2]);
    snprintf(s3, sizeof s3, "%s:skip,%s,%s", ids[1], ids[2], ids[0]);
    singles[0] = sess;
    singles[1] = s2;
    singles[2] = s3;
    sr_test_path_buf(path, sizeof path, "sessions.txt");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# three sessions\n%s\n\n%s\n%s\n", singles[0], singles[1], singles[2]);
    fclose(f);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "recommend", "a", "--sessions", path,
                             "-k", "7", (char *)NULL), 0);
    assert_non_null(strstr(out, "\"results\""));
    for (int i = 0; i < 3; i++) {
        char single_out[16384];
        assert_int_equal(sdt_ctl(single_out, sizeof single_out, "--json", "recommend", "a",
                                 "--session", singles[i], "-k", "7", (char *)NULL), 0);
        assert_true(sv_items(single_out, 0, one, sizeof one));
        assert_true(sv_items(out, i, many, sizeof many));
        assert_string_equal(many, one);
    }
    assert_false(sv_items(out, 3, many, sizeof many));

    /* limits: sessions per request, plays per session, k */
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 5; i++)
        fprintf(f, "%s\n", ids[i % 3]);
    fclose(f);
    assert_int_equal(sdt_ctl(out, sizeof out, "recommend", "a", "--sessions", path,
                             (char *)NULL), 1);
    char longs[64 * 51];
    size_t n = 0;
    for (int i = 0; i < 51; i++)
        n += (size_t)snprintf(longs + n, sizeof longs - n, "%s%s", i ? "," : "", ids[i % 3]);
    assert_int_equal(sdt_ctl(out, sizeof out, "recommend", "a", "--session", longs,
                             (char *)NULL), 1);
    longs[strlen(longs) - strlen(ids[50 % 3]) - 1] = '\0'; /* 50 plays: allowed */
    assert_int_equal(sdt_ctl(out, sizeof out, "recommend", "a", "--session", longs,
                             (char *)NULL), 0);
    assert_int_not_equal(sdt_ctl(out, sizeof out, "recommend", "a", "--session", sess, "-k",
                                 "1001", (char *)NULL), 0);

    /* save: a snapshot under another name serves the same answers */
    assert_int_equal(sdt_ctl(out, sizeof out, "models", "save", "a", "snap", (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "models", "save", "a", "snap", (char *)NULL), 1);
    assert_int_equal(sdt_ctl(out, sizeof out, "models", "save", "a", "snap", "--replace",
                             (char *)NULL), 0);
    struct stat sb;
    snprintf(path, sizeof path, "%s/models/snap.model", sdt.state);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644); /* like the models jobs write */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "models", "load", "snap", (char *)NULL),
                     0);
    assert_true(sdt_json(out, "tracks", v, sizeof v));
    assert_true(atoi(v) > 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "recommend", "snap", "--session",
                             singles[2], "-k", "7", (char *)NULL), 0);
    assert_true(sv_items(out, 0, many, sizeof many));
    assert_string_equal(many, one); /* one = the last single answer (singles[2]) */
    /* drop: gone from disk and from memory; dropping the default clears it */
    assert_int_equal(sdt_ctl(out, sizeof out, "models", "drop", "snap", (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "recommend", "snap", "--session", sess,
                             (char *)NULL), 1);
    assert_int_equal(sdt_ctl(out, sizeof out, "models", "drop", "snap", (char *)NULL), 1);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "models", "drop", "a", (char *)NULL), 0);
    assert_true(sdt_json(out, "was_default", v, sizeof v));
    assert_string_equal(v, "true");
    assert_int_not_equal(sdt_ctl(out, sizeof out, "recommend", "--session", sess, (char *)NULL),
                         0);
    snprintf(path, sizeof path, "%s/models/a.model", sdt.state);
    assert_false(sr_test_exists(path));
}

/* Recommendations keep coming while a job trains; SIGTERM then stops the
 * daemon cleanly (exit 0) with the job checkpointed, and a restart resumes it. */
static void test_scoring_during_training_then_sigterm(void **state)
{
    (void)state;
    char out[65536], v[256], job[32];
    sdt_start_daemon("--threads", "8", "--train-threads", "1", "--ckpt-every", "5",
                     "--log-level", "warn", (char *)NULL);
    sv_dataset();
    assert_int_equal(sdt_ctl(out, sizeof out, "train", "d", SV_SMALL_SASREC, "--max-steps", "40",
                             "--name", "a", "--wait", (char *)NULL), 0);
    char ids[3][64];
    sv_known_tracks("a", ids);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "train", "d", SV_SMALL_SASREC,
                             "--max-steps", "1000000", "--name", "long", (char *)NULL), 0);
    assert_true(sdt_json(out, "job", v, sizeof v));
    assert_true(strlen(v) < sizeof job);
    memcpy(job, v, strlen(v) + 1);
    int step0 = -1;
    for (int i = 0; i < 3000 && step0 < 10; i++) {
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "jobs", job, (char *)NULL), 0);
        if (sdt_json(out, "step", v, sizeof v))
            step0 = atoi(v);
        sdt_sleep_ms(20);
    }
    assert_true(step0 >= 10);

    /* four clients, 15 requests each, while the job runs */
    enum { NC = 4, NR = 15 };
    pid_t kids[NC];
    char sess[256];
    snprintf(sess, sizeof sess, "%s,%s:skip,%s", ids[0], ids[1], ids[2]);
    for (int c = 0; c < NC; c++) {
        kids[c] = fork();
        assert_true(kids[c] >= 0);
        if (kids[c] == 0) {
            int failed = 0;
            for (int r = 0; r < NR; r++) {
                char o[16384];
                failed += sdt_ctl(o, sizeof o, "--json", "recommend", "a", "--session", sess,
                                  (char *)NULL) != 0;
            }
            _exit(failed);
        }
    }
    for (int c = 0; c < NC; c++) {
        int st = 0;
        assert_int_equal(waitpid(kids[c], &st, 0), kids[c]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "jobs", job, (char *)NULL), 0);
    assert_true(sdt_json(out, "state", v, sizeof v));
    assert_string_equal(v, "running");

    /* status: request counts with latency percentiles, memory */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "status", (char *)NULL), 0);
    assert_true(sdt_json(out, "p99", v, sizeof v));
    assert_true(atof(v) > 0.0);
    assert_true(sdt_json(out, "rss_bytes", v, sizeof v));
    assert_true(atof(v) > 1e6);
    assert_non_null(strstr(out, "\"recommend\""));

    /* SIGTERM: exit 0; the job stays resumable with its checkpoint */
    assert_int_equal(sdt_stop_daemon(SIGTERM), 0);
    char ckpt[700];
    snprintf(ckpt, sizeof ckpt, "%s/jobs/%s.ckpt", sdt.state, job);
    assert_true(sr_test_exists(ckpt));
    sdt_start_daemon("--threads", "8", "--train-threads", "1", "--ckpt-every", "5",
                     "--log-level", "warn", (char *)NULL);
    int step1 = -1;
    for (int i = 0; i < 3000 && step1 <= step0; i++) {
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "jobs", job, (char *)NULL), 0);
        assert_true(sdt_json(out, "state", v, sizeof v));
        assert_true(strcmp(v, "running") == 0 || strcmp(v, "queued") == 0);
        if (sdt_json(out, "step", v, sizeof v))
            step1 = atoi(v);
        sdt_sleep_ms(20);
    }
    assert_true(step1 > step0);
    /* a dataset a job trains on cannot be dropped; once the job stops it can */
    assert_int_equal(sdt_ctl(out, sizeof out, "datasets", "drop", "d", (char *)NULL), 1);
    assert_int_equal(sdt_ctl(out, sizeof out, "cancel", job, (char *)NULL), 0);
    for (int i = 0; i < 3000; i++) { /* the job stops at its next progress report */
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "jobs", job, (char *)NULL), 0);
        assert_true(sdt_json(out, "state", v, sizeof v));
        if (strcmp(v, "cancelled") == 0)
            break;
        sdt_sleep_ms(20);
    }
    assert_string_equal(v, "cancelled");
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "datasets", "drop", "d", (char *)NULL),
                     0);
    assert_true(sdt_json(out, "dropped", v, sizeof v));
    assert_string_equal(v, "d");
    assert_int_equal(sdt_ctl(out, sizeof out, "stats", "d", (char *)NULL), 1);
    assert_int_equal(sdt_ctl(out, sizeof out, "datasets", "drop", "d", (char *)NULL), 1);
    char store[700];
    snprintf(store, sizeof store, "%s/datasets/d.store", sdt.state);
    assert_false(sr_test_exists(store));
}

/* A path under the data root that is a symlink to outside it is refused
 * (403, exit 1) for outputs and inputs alike. */
static void test_symlink_out_of_the_data_root_is_forbidden(void **state)
{
    (void)state;
    char out[8192], link[700], outside[700], file[800];
    sdt_start_daemon("--log-level", "error", (char *)NULL);
    sr_test_path_buf(outside, sizeof outside, "outside");
    assert_int_equal(mkdir(outside, 0755), 0);
    snprintf(file, sizeof file, "%s/s.csv", outside);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("not read\n", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/escape", sdt.data);
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "synth", "--out", "escape/x.csv", "--sessions",
                             "10", (char *)NULL), 1);
    assert_int_equal(sdt_ctl(out, sizeof out, "ingest", "escape/s.csv", "--name", "e",
                             (char *)NULL), 1);
    snprintf(file, sizeof file, "%s/x.csv", outside);
    assert_false(sr_test_exists(file));
    assert_int_equal(sdt_ctl(out, sizeof out, "status", (char *)NULL), 0);
}

/* Every worker busy: one more request waits in the queue (and is answered
 * later), the next gets 429 busy at once; the daemon keeps serving. */
static void test_full_queue_answers_busy(void **state)
{
    (void)state;
    char out[8192], v[64];
    sdt_start_daemon("--threads", "1", "--queue", "1", "--log-level", "error", (char *)NULL);
    pid_t slow = fork(), queued = -1;
    assert_true(slow >= 0);
    if (slow == 0) /* keeps the only worker busy for seconds */
        _exit(sdt_ctl(out, sizeof out, "--timeout", "600", "synth", "--out", "big.csv",
                      "--sessions", "300000", "--tracks", "1000", (char *)NULL));
    for (int i = 0; i < 500; i++) {
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "status", (char *)NULL), 0);
        assert_true(sdt_json(out, "busy_workers", v, sizeof v));
        if (atoi(v) == 1)
            break;
        sdt_sleep_ms(10);
    }
    assert_string_equal(v, "1");
    queued = fork();
    assert_true(queued >= 0);
    if (queued == 0)
        _exit(sdt_ctl(out, sizeof out, "--timeout", "600", "datasets", (char *)NULL));
    for (int i = 0; i < 500; i++) {
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "status", (char *)NULL), 0);
        assert_true(sdt_json(out, "queued_requests", v, sizeof v));
        if (atoi(v) == 1)
            break;
        sdt_sleep_ms(10);
    }
    assert_string_equal(v, "1");
    /* the queue is full: refused at once (exit 1, an error reply) */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "datasets", (char *)NULL), 1);
    int st = 0;
    assert_int_equal(waitpid(slow, &st, 0), slow);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(waitpid(queued, &st, 0), queued);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "status", (char *)NULL), 0);
    assert_true(sdt_json(out, "queued_requests", v, sizeof v));
    assert_string_equal(v, "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_models_default_save_drop_batch_and_limits,
                                        sdt_setup, sdt_teardown),
        cmocka_unit_test_setup_teardown(test_scoring_during_training_then_sigterm, sdt_setup,
                                        sdt_teardown),
        cmocka_unit_test_setup_teardown(test_symlink_out_of_the_data_root_is_forbidden,
                                        sdt_setup, sdt_teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_answers_busy, sdt_setup, sdt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
