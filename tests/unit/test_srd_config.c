/* test_srd_config.c - seqrecd's settings (daemon/srd_config.c) and what a
 * reload (SIGHUP, srd_ops_reload) does with them: the new keys' defaults and
 * ranges, the CURVE consistency checks, the command line winning over the
 * file on reload too, and a bad file leaving the running settings alone. */
#include "sr_test.h"

#include "srd_log.h"
#include "srd_ops.h"

static void expect_error_has(sr_err got, sr_err want, const char *needle)
{
    if (got != want)
        fail_msg("expected %s, got %s: %s", sr_err_name(want), sr_err_name(got), sr_errmsg());
    if (!strstr(sr_errmsg(), needle))
        fail_msg("message '%s' does not mention '%s'", sr_errmsg(), needle);
}

/* A config that passes srd_config_check (data_root is required). */
static void base_config(srd_config *c)
{
    srd_config_default(c);
    snprintf(c->data_root, sizeof c->data_root, "%s", sr_test_path("data"));
    snprintf(c->state_dir, sizeof c->state_dir, "%s", sr_test_path("state"));
}

/* ---- keys ---------------------------------------------------------------------------- */

static void test_defaults_of_the_serving_keys(void **state)
{
    (void)state;
    srd_config c;
    srd_config_default(&c);
    assert_int_equal(c.threads, 16);
    assert_int_equal(c.score_lanes, 0);
    assert_int_equal(c.score_threads, 1);
    assert_int_equal(c.score_batch, 32);
    assert_int_equal(c.max_sessions, 256);
    assert_int_equal(c.max_plays, 10000);
    assert_string_equal(c.curve_secret_key, "");
    assert_string_equal(c.curve_clients, "");
    assert_false(c.allow_remote);
}

static void test_serving_keys_are_range_checked(void **state)
{
    (void)state;
    srd_config c;
    srd_config_default(&c);
    assert_int_equal(srd_config_set(&c, "max_sessions", "1000", "t"), SR_OK);
    assert_int_equal(c.max_sessions, 1000);
    expect_error_has(srd_config_set(&c, "max_sessions", "1001", "conf:3"), SR_ERR_ARG,
                     "conf:3: max_sessions: 1001 is out of range [1, 1000]");
    expect_error_has(srd_config_set(&c, "max_sessions", "0", "t"), SR_ERR_ARG, "out of range");
    expect_error_has(srd_config_set(&c, "max_plays", "10001", "t"), SR_ERR_ARG,
                     "max_plays: 10001 is out of range [1, 10000]");
    expect_error_has(srd_config_set(&c, "score_batch", "129", "t"), SR_ERR_ARG,
                     "score_batch: 129 is out of range [1, 128]");
    expect_error_has(srd_config_set(&c, "score_threads", "0", "t"), SR_ERR_ARG,
                     "score_threads: 0 is out of range [1, 64]");
    expect_error_has(srd_config_set(&c, "score_lanes", "65", "t"), SR_ERR_ARG,
                     "score_lanes: 65 is out of range [0, 64]");
    assert_int_equal(c.max_sessions, 1000); /* refused values change nothing */
}

static void test_file_sets_curve_keys(void **state)
{
    (void)state;
    sr_test_write_text(sr_test_path("d.conf"),
                       "[seqrecd]\nendpoint = tcp://127.0.0.1:5999\n"
                       "curve_secret_key = /etc/seqrec/server.key\n"
                       "curve_clients = /etc/seqrec/clients\n"
                       "max_sessions = 12\n");
    srd_config c;
    srd_config_default(&c);
    assert_int_equal(srd_config_load(&c, sr_test_path("d.conf")), SR_OK);
    assert_string_equal(c.curve_secret_key, "/etc/seqrec/server.key");
    assert_string_equal(c.curve_clients, "/etc/seqrec/clients");
    assert_int_equal(c.max_sessions, 12);
}

/* Every key srd_config_print_help lists, from its "; key NAME)" notes. */
static int help_keys(char keys[64][64])
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    srd_config_print_help(f);
    assert_int_equal(fclose(f), 0);
    int n = 0;
    for (const char *p = text; (p = strstr(p, "; key ")) != NULL && n < 64; n++) {
        p += 6;
        size_t k = strcspn(p, ")");
        assert_true(k > 0 && k < 64);
        memcpy(keys[n], p, k);
        keys[n][k] = '\0';
    }
    free(text);
    return n;
}

/* configs/seqrecd.conf is what gets installed as /etc/seqrec/seqrecd.conf:
 * it must parse, and it documents every key (set or commented out), as the
 * settings table of docs/daemon.md does. */
static void test_shipped_config_parses_and_lists_every_key(void **state)
{
    (void)state;
    srd_config c;
    srd_config_default(&c);
    if (srd_config_load(&c, SR_SOURCE_DIR "/configs/seqrecd.conf") != SR_OK)
        fail_msg("configs/seqrecd.conf: %s", sr_errmsg());
    assert_int_equal(srd_config_check(&c), SR_OK);
    char *conf = sr_test_read_file(SR_SOURCE_DIR "/configs/seqrecd.conf", NULL);
    char *doc = sr_test_read_file(SR_SOURCE_DIR "/docs/daemon.md", NULL);
    char keys[64][64];
    int n = help_keys(keys);
    assert_true(n >= 19); /* the 19 keys of issue 5, and any added later */
    for (int i = 0; i < n; i++) {
        char set[80], commented[80], row[80];
        snprintf(set, sizeof set, "\n%.63s = ", keys[i]);
        snprintf(commented, sizeof commented, "\n;%.63s = ", keys[i]);
        snprintf(row, sizeof row, "\n| `%.63s` |", keys[i]);
        if (!strstr(conf, set) && !strstr(conf, commented))
            fail_msg("configs/seqrecd.conf does not document key %s", keys[i]);
        if (!strstr(doc, row))
            fail_msg("docs/daemon.md's settings table has no row for key %s", keys[i]);
    }
    free(conf);
    free(doc);
}

/* ---- CURVE consistency ------------------------------------------------------------- */

static void test_check_refuses_curve_on_ipc(void **state)
{
    (void)state;
    srd_config c;
    base_config(&c);
    snprintf(c.curve_secret_key, sizeof c.curve_secret_key, "/k");
    snprintf(c.curve_clients, sizeof c.curve_clients, "/c");
    /* the default endpoint is ipc:// */
    expect_error_has(srd_config_check(&c), SR_ERR_ARG, "CURVE is for tcp://");
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://127.0.0.1:5999");
    assert_int_equal(srd_config_check(&c), SR_OK);
}

static void test_check_refuses_half_a_curve_setup(void **state)
{
    (void)state;
    srd_config c;
    base_config(&c);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://127.0.0.1:5999");
    snprintf(c.curve_secret_key, sizeof c.curve_secret_key, "/k");
    expect_error_has(srd_config_check(&c), SR_ERR_ARG, "curve_clients is not");
    c.curve_secret_key[0] = '\0';
    snprintf(c.curve_clients, sizeof c.curve_clients, "/c");
    expect_error_has(srd_config_check(&c), SR_ERR_ARG, "curve_secret_key is not");
}

static void test_remote_endpoint_still_needs_allow_remote(void **state)
{
    (void)state;
    srd_config c;
    base_config(&c);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://10.1.2.3:5999");
    snprintf(c.curve_secret_key, sizeof c.curve_secret_key, "/k");
    snprintf(c.curve_clients, sizeof c.curve_clients, "/c");
    /* CURVE does not replace the explicit opt-in */
    expect_error_has(srd_config_check(&c), SR_ERR_ARG, "--allow-remote");
    c.allow_remote = true;
    assert_int_equal(srd_config_check(&c), SR_OK);
}

/* ---- reload: defaults, file, command line ------------------------------------------- */

static void test_reload_keeps_command_line_over_file(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "data_root = %s\nmax_plays = 5\nmax_sessions = 7\n",
             sr_test_path("data"));
    sr_test_write_text(sr_test_path("d.conf"), text);
    srd_config_forget_cmdline();
    assert_int_equal(srd_config_keep_cmdline("max_plays", "99"), SR_OK);
    srd_config c;
    assert_int_equal(srd_config_reload(&c, sr_test_path("d.conf")), SR_OK);
    assert_int_equal(c.max_plays, 99);   /* the command line */
    assert_int_equal(c.max_sessions, 7); /* the file */
    assert_int_equal(c.score_batch, 32); /* the default */
    /* a key removed from the file goes back to its default */
    snprintf(text, sizeof text, "data_root = %s\n", sr_test_path("data"));
    sr_test_write_text(sr_test_path("d.conf"), text);
    assert_int_equal(srd_config_reload(&c, sr_test_path("d.conf")), SR_OK);
    assert_int_equal(c.max_sessions, 256);
    assert_int_equal(c.max_plays, 99);
    srd_config_forget_cmdline();
    expect_error_has(srd_config_keep_cmdline("max_plays_x", "1"), SR_ERR_ARG, "max_plays_x");
}

static void test_reload_bad_file_names_the_line(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "data_root = %s\nmax_sessions = 7\nmax_sesions = 8\n",
             sr_test_path("data"));
    sr_test_write_text(sr_test_path("d.conf"), text);
    srd_config_forget_cmdline();
    srd_config c;
    expect_error_has(srd_config_reload(&c, sr_test_path("d.conf")), SR_ERR_ARG,
                     "d.conf:3: unknown key 'max_sesions'");
    /* and a file that parses but fails the whole-config checks */
    sr_test_write_text(sr_test_path("d.conf"), "max_sessions = 7\n");
    expect_error_has(srd_config_reload(&c, sr_test_path("d.conf")), SR_ERR_ARG,
                     "data_root is required");
}

typedef struct diff_seen {
    int n;
    char lines[8][128];
} diff_seen;

static void diff_collect(void *ud, const char *key, const char *before, const char *after)
{
    diff_seen *d = ud;
    if (d->n < 8)
        snprintf(d->lines[d->n], sizeof d->lines[0], "%s:%s->%s", key, before, after);
    d->n++;
}

static void test_diff_lists_changed_keys_in_table_order(void **state)
{
    (void)state;
    srd_config a, b;
    srd_config_default(&a);
    srd_config_default(&b);
    assert_int_equal(srd_config_diff(&a, &b, NULL, NULL), 0);
    b.max_sessions = 7;
    b.allow_remote = true;
    b.log_level = SR_LOG_LEVEL_DEBUG;
    snprintf(b.curve_clients, sizeof b.curve_clients, "/c");
    diff_seen d = { 0 };
    assert_int_equal(srd_config_diff(&a, &b, diff_collect, &d), 4);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.lines[0], "max_sessions:256->7");
    assert_string_equal(d.lines[1], "curve_clients:->/c");
    assert_string_equal(d.lines[2], "log_level:info->debug");
    assert_string_equal(d.lines[3], "allow_remote:no->yes");
}

/* ---- srd_ops_reload ----------------------------------------------------------------- */

typedef struct reload_fixture {
    srd_config cfg;
    srd_ops ops;
} reload_fixture;

static reload_fixture *reload_start(void)
{
    reload_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(mkdir(sr_test_path("data"), 0755), 0);
    base_config(&f->cfg);
    f->cfg.threads = 2;
    srd_config_forget_cmdline();
    if (srd_ops_init(&f->ops, &f->cfg) != SR_OK)
        fail_msg("srd_ops_init: %s", sr_errmsg());
    srd_log_set_level(SR_LOG_LEVEL_WARN); /* keep the test output short */
    return f;
}

static void reload_end(reload_fixture **f)
{
    srd_ops_destroy(&(*f)->ops);
    free(*f);
    *f = NULL;
    srd_config_forget_cmdline();
    srd_log_set_level(SR_LOG_LEVEL_INFO);
}

static void test_ops_reload_applies_live_settings_only(void **state)
{
    (void)state;
    reload_fixture *f = reload_start();
    char text[1024];
    snprintf(text, sizeof text,
             "data_root = %s\nstate_dir = %s\nmax_sessions = 7\nmax_plays = 50\nscore_batch = 4\n"
             "max_synth_sessions = 1000\nckpt_every = 17\nlog_level = error\nthreads = 5\n",
             sr_test_path("data"), sr_test_path("state"));
    sr_test_write_text(sr_test_path("d.conf"), text);
    assert_int_equal(srd_ops_reload(&f->ops, sr_test_path("d.conf")), SR_OK);
    assert_int_equal(atomic_load(&f->ops.live.max_sessions), 7);
    assert_int_equal(atomic_load(&f->ops.live.max_plays), 50);
    assert_int_equal(atomic_load(&f->ops.live.score_batch), 4);
    assert_int_equal(atomic_load(&f->ops.live.max_synth_sessions), 1000);
    assert_int_equal(atomic_load(&f->ops.live.ckpt_every), 17);
    assert_int_equal(srd_log_get_level(), SR_LOG_LEVEL_ERROR);
    /* threads needs a restart: the start-up config is left as it was */
    assert_int_equal(f->ops.cfg->threads, 2);
    assert_int_equal(f->ops.cfg->max_sessions, 256);
    reload_end(&f);
}

static void test_ops_reload_bad_file_keeps_running_settings(void **state)
{
    (void)state;
    reload_fixture *f = reload_start();
    char text[1024];
    /* valid lines first: nothing of them may be applied */
    snprintf(text, sizeof text, "data_root = %s\nmax_sessions = 7\nlog_level = debug\n"
             "max_plays = many\n", sr_test_path("data"));
    sr_test_write_text(sr_test_path("d.conf"), text);
    expect_error_has(srd_ops_reload(&f->ops, sr_test_path("d.conf")), SR_ERR_ARG,
                     "d.conf:4: max_plays: 'many' is not an integer");
    assert_int_equal(atomic_load(&f->ops.live.max_sessions), 256);
    assert_int_equal(atomic_load(&f->ops.live.max_plays), 10000);
    assert_int_equal(srd_log_get_level(), SR_LOG_LEVEL_WARN);
    /* an unreadable file too */
    expect_error_has(srd_ops_reload(&f->ops, sr_test_path("missing.conf")), SR_ERR_IO,
                     "missing.conf");
    assert_int_equal(atomic_load(&f->ops.live.max_sessions), 256);
    reload_end(&f);
}

static void test_ops_reload_keeps_command_line_values(void **state)
{
    (void)state;
    reload_fixture *f = reload_start();
    assert_int_equal(srd_config_keep_cmdline("data_root", sr_test_path("data")), SR_OK);
    assert_int_equal(srd_config_keep_cmdline("max_sessions", "3"), SR_OK);
    sr_test_write_text(sr_test_path("d.conf"), "max_sessions = 7\nmax_plays = 8\n");
    assert_int_equal(srd_ops_reload(&f->ops, sr_test_path("d.conf")), SR_OK);
    assert_int_equal(atomic_load(&f->ops.live.max_sessions), 3);
    assert_int_equal(atomic_load(&f->ops.live.max_plays), 8);
    /* no file: defaults and command line only */
    assert_int_equal(srd_ops_reload(&f->ops, NULL), SR_OK);
    assert_int_equal(atomic_load(&f->ops.live.max_sessions), 3);
    assert_int_equal(atomic_load(&f->ops.live.max_plays), 10000);
    reload_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_of_the_serving_keys),
        cmocka_unit_test(test_serving_keys_are_range_checked),
        SR_TEST_IN_DIR(test_file_sets_curve_keys),
        cmocka_unit_test(test_shipped_config_parses_and_lists_every_key),
        SR_TEST_IN_DIR(test_check_refuses_curve_on_ipc),
        SR_TEST_IN_DIR(test_check_refuses_half_a_curve_setup),
        SR_TEST_IN_DIR(test_remote_endpoint_still_needs_allow_remote),
        SR_TEST_IN_DIR(test_reload_keeps_command_line_over_file),
        SR_TEST_IN_DIR(test_reload_bad_file_names_the_line),
        cmocka_unit_test(test_diff_lists_changed_keys_in_table_order),
        SR_TEST_IN_DIR(test_ops_reload_applies_live_settings_only),
        SR_TEST_IN_DIR(test_ops_reload_bad_file_keeps_running_settings),
        SR_TEST_IN_DIR(test_ops_reload_keeps_command_line_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
