/* test_training.c - training through the real daemon, driven with seqrecctl:
 * train/jobs/evaluate/recommend/models, and a daemon killed (SIGKILL) in the
 * middle of a job that, restarted, resumes the job from its checkpoint and
 * ends with the same model, bit for bit, as an uninterrupted run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_ckpt.h"
#include "sr_test.h"
#include "sr_daemon_test.h"

/* The daemon of these tests: small thread counts, checkpoints every 5 steps. */
static void tt_start_daemon(void)
{
    sdt_start_daemon("--threads", "2", "--train-threads", "1", "--ckpt-every", "5",
                     "--log-level", "warn", (char *)NULL);
}

static void tt_model_params(const char *name, float **params, uint64_t *n)
{
    char path[700];
    snprintf(path, sizeof path, "%s/models/%s.model", sdt.state, name);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    const void *p = NULL;
    assert_int_equal(sr_ckpt_get(c, "params", SR_CKPT_F32, &p, n), SR_OK);
    *params = malloc(*n * sizeof(float));
    assert_non_null(*params);
    memcpy(*params, p, *n * sizeof(float));
    sr_ckpt_close(&c);
}

#define TT_TRAIN_ARGS                                                                       \
    "train", "d", "--model", "sasrec", "--preset", "fast", "--set", "dim=32", "--set",       \
        "layers=1", "--set", "heads=2", "--set", "ffn=64", "--set", "max_len=10", "--set", \
        "batch=32", "--set", "eval_batch=32", "--set", "eval_every=40", "--set",           \
        "valid_queries=300", "--max-steps", "400", "--seed", "5"

static void test_train_kill_resume_evaluate_recommend(void **state)
{
    (void)state;
    char out[65536], v[256];
    tt_start_daemon();
    assert_int_equal(sdt_ctl(out, sizeof out, "synth", "--out", "s.csv", "--sessions", "3000",
                            "--tracks", "400", "--seed", "3", (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "ingest", "s.csv", "--name", "d", (char *)NULL), 0);

    /* A: uninterrupted */
    int rc = sdt_ctl(out, sizeof out, "--json", TT_TRAIN_ARGS, "--name", "a", "--wait",
                    (char *)NULL);
    if (rc != 0)
        fail_msg("train --wait exited %d: %s", rc, out);
    assert_true(sdt_json(out, "model", v, sizeof v));
    assert_string_equal(v, "a");
    assert_true(sdt_json(out, "state", v, sizeof v));
    assert_string_equal(v, "done");

    /* B: the same job, the daemon SIGKILLed once the job is past step 100 */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", TT_TRAIN_ARGS, "--name", "b", (char *)NULL),
                     0);
    assert_true(sdt_json(out, "job", v, sizeof v));
    char job[32];
    assert_true(strlen(v) < sizeof job);
    memcpy(job, v, strlen(v) + 1);
    bool killed = false;
    for (int i = 0; i < 6000 && !killed; i++) {
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "jobs", job, (char *)NULL), 0);
        assert_true(sdt_json(out, "state", v, sizeof v));
        if (strcmp(v, "done") == 0)
            fail_msg("job finished before the test could kill the daemon: %s", out);
        if (sdt_json(out, "step", v, sizeof v) && atoi(v) >= 100) {
            sdt_stop_daemon(SIGKILL);
            killed = true;
        }
        sdt_sleep_ms(10);
    }
    assert_true(killed);
    char ckpt[700];
    snprintf(ckpt, sizeof ckpt, "%s/jobs/%s.ckpt", sdt.state, job);
    assert_true(sr_test_exists(ckpt));

    /* restart: the job is queued again and resumes */
    tt_start_daemon();
    bool done = false;
    for (int i = 0; i < 6000 && !done; i++) {
        assert_int_equal(sdt_ctl(out, sizeof out, "--json", "jobs", job, (char *)NULL), 0);
        assert_true(sdt_json(out, "state", v, sizeof v));
        if (strcmp(v, "failed") == 0 || strcmp(v, "cancelled") == 0)
            fail_msg("resumed job ended %s: %s", v, out);
        done = strcmp(v, "done") == 0;
        if (!done)
            sdt_sleep_ms(20);
    }
    assert_true(done);
    float *pa = NULL, *pb = NULL;
    uint64_t na = 0, nb = 0;
    tt_model_params("a", &pa, &na);
    tt_model_params("b", &pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof(float));
    free(pa);
    free(pb);

    /* evaluate: full ranking metrics as flat JSON keys, NaN never printed */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "evaluate", "a", (char *)NULL), 0);
    assert_true(sdt_json(out, "protocol", v, sizeof v));
    assert_string_equal(v, "full");
    assert_true(sdt_json(out, "n_queries", v, sizeof v));
    assert_true(atoi(v) > 0);
    assert_true(sdt_json(out, "hr@10", v, sizeof v));
    assert_true(sdt_json(out, "skip_mrr@10", v, sizeof v));
    assert_null(strstr(out, "NaN"));
    assert_null(strstr(out, "nan"));
    /* the sampled protocol says so in its keys */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "evaluate", "a", "--protocol", "sampled",
                            (char *)NULL), 0);
    assert_true(sdt_json(out, "sampled_hr@10", v, sizeof v));
    assert_false(sdt_json(out, "hr@10", v, sizeof v));

    /* pop baseline through the same path */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "train", "d", "--model", "pop", "--name",
                            "p", "--wait", (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "evaluate", "p", (char *)NULL), 0);
    assert_true(sdt_json(out, "ndcg@10", v, sizeof v));

    /* recommend: unknown ids are warned about, an all-unknown session falls back */
    assert_int_equal(sdt_ctl(out, sizeof out, "--json", "recommend", "a", "--session",
                            "no-such-track,neither", "-k", "5", (char *)NULL), 0);
    assert_true(sdt_json(out, "fallback", v, sizeof v));
    assert_string_equal(v, "true");
    assert_non_null(strstr(out, "no-such-track"));
    assert_int_equal(sdt_ctl(out, sizeof out, "models", (char *)NULL), 0);
    assert_non_null(strstr(out, "a"));
    assert_non_null(strstr(out, "p"));

    /* a second model of an existing name is a conflict (exit 1) */
    assert_int_equal(sdt_ctl(out, sizeof out, "train", "d", "--model", "pop", "--name", "p",
                            (char *)NULL), 1);

    /* a second daemon on the same state directory refuses to start */
    pid_t two = fork();
    assert_true(two >= 0);
    if (two == 0) {
        char ep[400];
        snprintf(ep, sizeof ep, "%s2", sdt.endpoint);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        execl(SR_BUILD_DIR "/daemon/seqrecd", "seqrecd", "--endpoint", ep, "--data-root",
              sdt.data, "--state-dir", sdt.state, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(two, &st, 0), two);
    assert_true(WIFEXITED(st));
    assert_int_not_equal(WEXITSTATUS(st), 0);

    /* a model whose dataset was re-ingested is refused, not served with the
     * new track ids (even though it was loaded and cached before) */
    assert_int_equal(sdt_ctl(out, sizeof out, "ingest", "s.csv", "--name", "d", "--replace",
                            (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "recommend", "a", "--session", "x", (char *)NULL),
                     1);
}

/* An experiment through the daemon: a report with every file, finished
 * runs reused when it is run again (its results unchanged), a spec error
 * named. */
static void test_experiment_report_and_resume(void **state)
{
    (void)state;
    char out[65536], v[256];
    tt_start_daemon();
    assert_int_equal(sdt_ctl(out, sizeof out, "synth", "--out", "e.csv", "--sessions", "600",
                            "--tracks", "120", "--seed", "4", (char *)NULL), 0);
    assert_int_equal(sdt_ctl(out, sizeof out, "ingest", "e.csv", "--name", "e", (char *)NULL), 0);
    char spec[600];
    sr_test_path_buf(spec, sizeof spec, "mini.spec");
    sr_test_write_text(spec, "[experiment]\ntitle = Mini\nseeds = 2\n\n"
                             "[config s]\nmodel = sasrec\nset = dim=8\nset = layers=1\n"
                             "set = heads=1\nset = max_steps=12\nset = eval_every=6\n"
                             "set = lambda=0\n\n"
                             "[config s+skip]\nmodel = sasrec\nbase = s\nset = dim=8\n"
                             "set = layers=1\nset = heads=1\nset = max_steps=12\n"
                             "set = eval_every=6\nset = lambda=1\n\n"
                             "[config pop]\nmodel = pop\n");
    int rc = sdt_ctl(out, sizeof out, "--json", "experiment", "run", spec, "--out", "exp",
                    "--dataset", "e", "--wait", (char *)NULL);
    if (rc != 0)
        fail_msg("experiment exited %d: %s", rc, out);
    assert_true(sdt_json(out, "state", v, sizeof v));
    assert_string_equal(v, "done");
    const char *files[] = { "results.csv", "summary.csv", "REPORT.md", "figures/metrics.svg",
                            "figures/gain_vs_k.svg", "figures/skip_mrr.svg",
                            "runs/s.s1.result.csv", "runs/s+skip.s2.history.csv" };
    char path[900];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/exp/%s", sdt.data, files[i]);
        if (!sr_test_exists(path))
            fail_msg("missing %s", path);
    }
    /* 3 configurations x 2 seeds x 2 protocols + the header */
    snprintf(path, sizeof path, "%s/exp/results.csv", sdt.data);
    size_t len = 0;
    char *first = sr_test_read_file(path, &len);
    assert_non_null(first);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += first[i] == '\n';
    assert_int_equal(lines, 1 + 3 * 2 * 2);
    snprintf(path, sizeof path, "%s/exp/REPORT.md", sdt.data);
    char *report = sr_test_read_file(path, &len);
    assert_non_null(report);
    assert_non_null(strstr(report, "Sampled protocol"));
    free(report);

    /* again: every run is reused, results.csv is the same */
    rc = sdt_ctl(out, sizeof out, "--json", "experiment", "run", spec, "--out", "exp", "--dataset",
                "e", "--wait", (char *)NULL);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s/exp/results.csv", sdt.data);
    char *second = sr_test_read_file(path, &len);
    assert_non_null(second);
    assert_string_equal(first, second);
    free(first);
    free(second);

    /* a spec error names the line */
    sr_test_write_text(spec, "[experiment]\nseeds = 0\n[config a]\nmodel = pop\n");
    assert_int_equal(sdt_ctl(out, sizeof out, "experiment", "run", spec, "--out", "exp2",
                            "--dataset", "e", (char *)NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_train_kill_resume_evaluate_recommend, sdt_setup,
                                        sdt_teardown),
        cmocka_unit_test_setup_teardown(test_experiment_report_and_resume, sdt_setup, sdt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
