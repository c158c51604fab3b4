/* test_srd_auth.c - CURVE key files and the allowed-clients list
 * (daemon/srd_auth.c). Keys are made at run time with zmq_curve_keypair, so
 * every expected byte comes from libzmq's own Z85 decoder, not from our
 * parser. The ZAP handler itself is driven end to end in
 * tests/integration/test_auth.c. */
#include "sr_test.h"

#include <zmq.h>

#include "srd_auth.h"

typedef struct keypair {
    char pub[41], sec[41];
    uint8_t pub_bin[32], sec_bin[32];
} keypair;

static void make_keypair(keypair *k)
{
    assert_int_equal(zmq_curve_keypair(k->pub, k->sec), 0);
    assert_non_null(zmq_z85_decode(k->pub_bin, k->pub));
    assert_non_null(zmq_z85_decode(k->sec_bin, k->sec));
}

static void write_mode(const char *path, const char *text, mode_t mode)
{
    sr_test_write_text(path, text);
    assert_int_equal(chmod(path, mode), 0);
}

static void expect_error_has(sr_err got, sr_err want, const char *needle)
{
    if (got != want)
        fail_msg("expected %s, got %s: %s", sr_err_name(want), sr_err_name(got), sr_errmsg());
    if (!strstr(sr_errmsg(), needle))
        fail_msg("message '%s' does not mention '%s'", sr_errmsg(), needle);
}

/* ---- secret key files -------------------------------------------------------------- */

static void test_secret_file_gives_libzmq_keys(void **state)
{
    (void)state;
    keypair k;
    make_keypair(&k);
    char text[256];
    snprintf(text, sizeof text, "# made by a test\n\npublic = %s\n  secret=%s  \r\n", k.pub, k.sec);
    write_mode(sr_test_path("server.key"), text, 0600);
    uint8_t pub[32], sec[32];
    assert_int_equal(srd_auth_read_secret(sr_test_path("server.key"), pub, sec), SR_OK);
    assert_memory_equal(pub, k.pub_bin, 32);
    assert_memory_equal(sec, k.sec_bin, 32);
}

static void test_secret_file_without_public_line_derives_it(void **state)
{
    (void)state;
    keypair k;
    make_keypair(&k);
    char text[256];
    snprintf(text, sizeof text, "secret = %s\n", k.sec);
    write_mode(sr_test_path("server.key"), text, 0400);
    uint8_t pub[32], sec[32];
    assert_int_equal(srd_auth_read_secret(sr_test_path("server.key"), pub, sec), SR_OK);
    assert_memory_equal(pub, k.pub_bin, 32);
}

static void test_secret_file_readable_by_others_is_refused(void **state)
{
    (void)state;
    keypair k;
    make_keypair(&k);
    char text[256];
    snprintf(text, sizeof text, "public = %s\nsecret = %s\n", k.pub, k.sec);
    uint8_t pub[32], sec[32];
    write_mode(sr_test_path("server.key"), text, 0644);
    expect_error_has(srd_auth_read_secret(sr_test_path("server.key"), pub, sec), SR_ERR_ARG,
                     "mode 0644");
    assert_non_null(strstr(sr_errmsg(), "chmod 600"));
    /* group-readable only is refused too, like ssh */
    write_mode(sr_test_path("server.key"), text, 0640);
    expect_error_has(srd_auth_read_secret(sr_test_path("server.key"), pub, sec), SR_ERR_ARG,
                     "mode 0640");
}

static void test_secret_file_with_other_public_key_is_refused(void **state)
{
    (void)state;
    keypair a, b;
    make_keypair(&a);
    make_keypair(&b);
    char text[256];
    snprintf(text, sizeof text, "public = %s\nsecret = %s\n", b.pub, a.sec);
    write_mode(sr_test_path("server.key"), text, 0600);
    uint8_t pub[32], sec[32];
    expect_error_has(srd_auth_read_secret(sr_test_path("server.key"), pub, sec), SR_ERR_FORMAT,
                     "does not belong");
}

static void test_pub_file_given_as_secret_is_refused(void **state)
{
    (void)state;
    keypair k;
    make_keypair(&k);
    char text[256];
    snprintf(text, sizeof text, "public = %s\n", k.pub);
    write_mode(sr_test_path("server.key.pub"), text, 0600);
    uint8_t pub[32], sec[32];
    expect_error_has(srd_auth_read_secret(sr_test_path("server.key.pub"), pub, sec),
                     SR_ERR_FORMAT, "no \"secret = KEY\" line");
}

static void test_secret_file_short_key_names_line(void **state)
{
    (void)state;
    keypair k;
    make_keypair(&k);
    char text[256];
    /* line 3: the secret key with its last character cut off */
    snprintf(text, sizeof text, "# x\npublic = %s\nsecret = %.39s\n", k.pub, k.sec);
    write_mode(sr_test_path("server.key"), text, 0600);
    uint8_t pub[32], sec[32];
    char want[64];
    snprintf(want, sizeof want, "server.key:3: a key is 40 Z85 characters");
    expect_error_has(srd_auth_read_secret(sr_test_path("server.key"), pub, sec), SR_ERR_FORMAT,
                     want);
}

static void test_missing_secret_file_is_io_error(void **state)
{
    (void)state;
    uint8_t pub[32], sec[32];
    expect_error_has(srd_auth_read_secret(sr_test_path("nope.key"), pub, sec), SR_ERR_IO,
                     "nope.key");
}

/* ---- allowed clients ---------------------------------------------------------------- */

static void test_clients_file_bare_and_public_lines(void **state)
{
    (void)state;
    keypair a, b, c, other;
    make_keypair(&a);
    make_keypair(&b);
    make_keypair(&c);
    make_keypair(&other);
    char text[1024];
    /* a bare key, a .pub file appended (its comments included), the same
     * key twice, blank lines and spaces */
    snprintf(text, sizeof text,
             "# allowed clients\n%s\n\n"
             "# seqrec CURVE public key (seqrecctl keygen)\npublic = %s\n"
             "   %s   \n"
             "public=%s\n",
             a.pub, b.pub, c.pub, a.pub);
    write_mode(sr_test_path("clients"), text, 0644);
    srd_auth_clients *cl = NULL;
    assert_int_equal(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_OK);
    assert_int_equal(cl->n, 3); /* a, b, c: the duplicate counted once */
    assert_true(srd_auth_clients_has(cl, a.pub_bin));
    assert_true(srd_auth_clients_has(cl, b.pub_bin));
    assert_true(srd_auth_clients_has(cl, c.pub_bin));
    assert_false(srd_auth_clients_has(cl, other.pub_bin));
    assert_string_equal(cl->path, sr_test_path("clients"));
    srd_auth_clients_free(&cl);
    assert_null(cl);
    srd_auth_clients_free(&cl); /* NULL-safe */
}

static void test_clients_file_with_secret_line_is_refused(void **state)
{
    (void)state;
    keypair a, b;
    make_keypair(&a);
    make_keypair(&b);
    char text[512];
    snprintf(text, sizeof text, "%s\npublic = %s\nsecret = %s\n", a.pub, b.pub, b.sec);
    write_mode(sr_test_path("clients"), text, 0600);
    srd_auth_clients *cl = NULL;
    expect_error_has(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_ERR_FORMAT,
                     "clients:3: a secret key");
    assert_null(cl);
}

static void test_clients_file_without_keys_is_refused(void **state)
{
    (void)state;
    write_mode(sr_test_path("clients"), "# nobody yet\n\n", 0644);
    srd_auth_clients *cl = NULL;
    expect_error_has(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_ERR_EMPTY,
                     "no client public key");
    write_mode(sr_test_path("clients"), "", 0644);
    expect_error_has(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_ERR_EMPTY,
                     "no client public key");
    assert_null(cl);
}

static void test_clients_file_bad_lines_name_the_line(void **state)
{
    (void)state;
    keypair a;
    make_keypair(&a);
    char text[512];
    srd_auth_clients *cl = NULL;
    /* line 2: a word that is no key */
    snprintf(text, sizeof text, "%s\nalice\n", a.pub);
    write_mode(sr_test_path("clients"), text, 0644);
    expect_error_has(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_ERR_FORMAT,
                     "clients:2: expected");
    /* line 1: 40 characters, one of them ('"') outside the Z85 alphabet */
    char bad[41];
    memcpy(bad, a.pub, 41);
    bad[17] = '"';
    snprintf(text, sizeof text, "public = %s\n", bad);
    write_mode(sr_test_path("clients"), text, 0644);
    expect_error_has(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_ERR_FORMAT,
                     "clients:1: not a valid Z85 key");
    /* a group whose value overflows 32 bits ("%%%%%" = 84 * (85^4 + ... + 1)) */
    snprintf(text, sizeof text, "public = %%%%%%%%%%%.35s\n", a.pub);
    write_mode(sr_test_path("clients"), text, 0644);
    expect_error_has(srd_auth_clients_read(sr_test_path("clients"), &cl), SR_ERR_FORMAT,
                     "clients:1: not a valid Z85 key");
    assert_null(cl);
}

/* The process-wide state: init reads both files, install swaps the list and
 * counts what changed, stop forgets everything. */
static void test_init_install_counts_added_and_removed(void **state)
{
    (void)state;
    keypair srv, a, b, c;
    make_keypair(&srv);
    make_keypair(&a);
    make_keypair(&b);
    make_keypair(&c);
    char text[512];
    snprintf(text, sizeof text, "public = %s\nsecret = %s\n", srv.pub, srv.sec);
    write_mode(sr_test_path("server.key"), text, 0600);
    snprintf(text, sizeof text, "%s\n%s\n", a.pub, b.pub);
    write_mode(sr_test_path("clients"), text, 0644);
    srd_config cfg;
    srd_config_default(&cfg);
    snprintf(cfg.curve_secret_key, sizeof cfg.curve_secret_key, "%s", sr_test_path("server.key"));
    snprintf(cfg.curve_clients, sizeof cfg.curve_clients, "%s", sr_test_path("clients"));

    assert_false(srd_auth_enabled());
    assert_int_equal(srd_auth_init(&cfg), SR_OK);
    assert_true(srd_auth_enabled());
    char path[PATH_MAX];
    srd_auth_clients_path(path, sizeof path);
    assert_string_equal(path, sr_test_path("clients"));

    /* b stays, a goes, c comes */
    snprintf(text, sizeof text, "%s\n%s\n", b.pub, c.pub);
    write_mode(sr_test_path("clients2"), text, 0644);
    srd_auth_clients *cl = NULL;
    assert_int_equal(srd_auth_clients_read(sr_test_path("clients2"), &cl), SR_OK);
    size_t added = 9, removed = 9;
    srd_auth_clients_install(&cl, &added, &removed);
    assert_int_equal(added, 1);
    assert_int_equal(removed, 1);
    /* what came back is the old list: a and b */
    assert_non_null(cl);
    assert_int_equal(cl->n, 2);
    assert_true(srd_auth_clients_has(cl, a.pub_bin));
    srd_auth_clients_free(&cl);
    srd_auth_clients_path(path, sizeof path);
    assert_string_equal(path, sr_test_path("clients2"));

    srd_auth_stop();
    assert_false(srd_auth_enabled());
    srd_auth_clients_path(path, sizeof path);
    assert_string_equal(path, "");
}

static void test_init_without_curve_is_a_no_op(void **state)
{
    (void)state;
    srd_config cfg;
    srd_config_default(&cfg);
    assert_int_equal(srd_auth_init(&cfg), SR_OK);
    assert_false(srd_auth_enabled());
    /* start without CURVE touches neither context nor socket */
    assert_int_equal(srd_auth_start(NULL, NULL), SR_OK);
    srd_auth_stop();
}

static void test_init_with_bad_clients_file_fails(void **state)
{
    (void)state;
    keypair srv;
    make_keypair(&srv);
    char text[256];
    snprintf(text, sizeof text, "secret = %s\n", srv.sec);
    write_mode(sr_test_path("server.key"), text, 0600);
    write_mode(sr_test_path("clients"), "# empty\n", 0644);
    srd_config cfg;
    srd_config_default(&cfg);
    snprintf(cfg.curve_secret_key, sizeof cfg.curve_secret_key, "%s", sr_test_path("server.key"));
    snprintf(cfg.curve_clients, sizeof cfg.curve_clients, "%s", sr_test_path("clients"));
    expect_error_has(srd_auth_init(&cfg), SR_ERR_EMPTY, "no client public key");
    assert_false(srd_auth_enabled());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SR_TEST_IN_DIR(test_secret_file_gives_libzmq_keys),
        SR_TEST_IN_DIR(test_secret_file_without_public_line_derives_it),
        SR_TEST_IN_DIR(test_secret_file_readable_by_others_is_refused),
        SR_TEST_IN_DIR(test_secret_file_with_other_public_key_is_refused),
        SR_TEST_IN_DIR(test_pub_file_given_as_secret_is_refused),
        SR_TEST_IN_DIR(test_secret_file_short_key_names_line),
        SR_TEST_IN_DIR(test_missing_secret_file_is_io_error),
        SR_TEST_IN_DIR(test_clients_file_bare_and_public_lines),
        SR_TEST_IN_DIR(test_clients_file_with_secret_line_is_refused),
        SR_TEST_IN_DIR(test_clients_file_without_keys_is_refused),
        SR_TEST_IN_DIR(test_clients_file_bad_lines_name_the_line),
        SR_TEST_IN_DIR(test_init_install_counts_added_and_removed),
        SR_TEST_IN_DIR(test_init_without_curve_is_a_no_op),
        SR_TEST_IN_DIR(test_init_with_bad_clients_file_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
