/* test_experiment.c - experiment specs (daemon/srd_experiment.h): the shipped
 * specs parse and say what they claim, and every kind of mistake is refused
 * with a message that names it. Running experiments is covered by
 * tests/integration/test_training.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srd_experiment.h"
#include "sr_test.h"

static srd_exp_spec *parse_file(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", SR_SOURCE_DIR, rel);
    size_t len = 0;
    char *text = sr_test_read_file(path, &len);
    srd_exp_spec *s = malloc(sizeof *s);
    assert_non_null(s);
    if (srd_experiment_parse((sr_str){ text, len }, s) != SR_OK)
        fail_msg("%s: %s", rel, sr_errmsg());
    free(text);
    return s;
}

static const srd_exp_config *find(const srd_exp_spec *s, const char *name)
{
    for (int i = 0; i < s->n_configs; i++)
        if (strcmp(s->configs[i].name, name) == 0)
            return &s->configs[i];
    fail_msg("no configuration %s", name);
    return NULL;
}

static void test_quick_spec_parses(void **state)
{
    (void)state;
    srd_exp_spec *s = parse_file("experiments/quick.spec");
    assert_int_equal(s->n_configs, 6);
    assert_int_equal(s->n_seeds, 6);
    assert_true(s->seeds[0] == 1 && s->seeds[5] == 6);
    assert_true(s->sampled);
    assert_int_equal(s->split, SR_SPLIT_TEST);
    assert_string_equal(find(s, "sasrec+skip")->base, "sasrec");
    assert_string_equal(find(s, "bert4rec+skip")->base, "bert4rec");
    assert_string_equal(find(s, "pop")->base, "");
    assert_non_null(strstr(s->notes, "15 minutes"));
    free(s);
}

/* The paper's matrix: both models with and without the term, the ablations
 * of SPEC.md (context, lambda, target, skips as input) and both baselines. */
static void test_paper_spec_has_the_matrix(void **state)
{
    (void)state;
    srd_exp_spec *s = parse_file("experiments/paper.spec");
    assert_int_equal(s->n_seeds, 6);
    const char *with_base[] = { "sasrec+skip", "sasrec+skip-l0.25", "sasrec+skip-l0.5",
                                "sasrec+skip-hidden", "sasrec-listened+skip",
                                "sasrec-feedback+skip", "bert4rec+skip", "bert4rec+skip-l0.25",
                                "bert4rec+skip-l0.5", "bert4rec-feedback+skip" };
    for (size_t i = 0; i < sizeof with_base / sizeof with_base[0]; i++)
        assert_true(find(s, with_base[i])->base[0] != '\0');
    assert_string_equal(find(s, "sasrec+skip-hidden")->preset, "paper");
    bool hidden = false, listened = false, feedback = false;
    const srd_exp_config *h = find(s, "sasrec+skip-hidden");
    for (int i = 0; i < h->n_set; i++)
        hidden |= strcmp(h->set[i], "context=hidden") == 0;
    const srd_exp_config *l = find(s, "sasrec-listened+skip");
    for (int i = 0; i < l->n_set; i++)
        listened |= strcmp(l->set[i], "target=next_listened") == 0;
    const srd_exp_config *f = find(s, "bert4rec-feedback+skip");
    for (int i = 0; i < f->n_set; i++)
        feedback |= strcmp(f->set[i], "feedback=true") == 0;
    assert_true(hidden && listened && feedback);
    find(s, "pop");
    find(s, "sr");
    free(s);
}

static void test_converge_spec_parses(void **state)
{
    (void)state;
    srd_exp_spec *s = parse_file("experiments/converge.spec");
    assert_int_equal(s->n_configs, 2);
    assert_string_equal(find(s, "sasrec+skip")->base, "sasrec");
    free(s);
}

static void expect_refused(const char *text, const char *needle)
{
    srd_exp_spec *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(srd_experiment_parse(sr_str_c(text), s), SR_ERR_ARG);
    if (!strstr(sr_errmsg(), needle))
        fail_msg("message \"%s\" does not name \"%s\"", sr_errmsg(), needle);
    free(s);
}

static void test_spec_mistakes_are_named(void **state)
{
    (void)state;
    expect_refused("[experiment]\nseeds = 0\n[config a]\nmodel = pop\n", "seeds");
    expect_refused("[experiment]\ncolour = red\n[config a]\nmodel = pop\n", "colour");
    expect_refused("[config a]\nmodel = lstm\n", "lstm");
    expect_refused("[config a]\nmodel = pop\nbase = b\n", "base");
    expect_refused("[config a]\nmodel = sasrec\nset = lambda=-1\n", "lambda");
    expect_refused("[config a]\nmodel = sasrec\nset = wings=2\n", "wings");
    expect_refused("[config a]\nmodel = bert4rec\nset = context=hidden\n", "[config a]");
    expect_refused("[config a]\nmodel = pop\n[config b]\nmodel = pop\n[config a]\nmodel = sr\n",
                   "twice");
    expect_refused("[config a/b]\nmodel = pop\n", "a/b");
    expect_refused("[stuff]\nx = 1\n", "stuff");
    expect_refused("[experiment]\nseeds = 3\n", "no [config");
    expect_refused("[experiment]\nprotocols = sampled\n[config a]\nmodel = pop\n", "full");
}

static void test_spec_defaults(void **state)
{
    (void)state;
    srd_exp_spec *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(srd_experiment_parse(sr_str_c("[config a]\nmodel = sasrec\n"
                                                   "[experiment]\nseed_list = 3, 7, 11\n"
                                                   "protocols = full\n"),
                                          s),
                     SR_OK);
    assert_int_equal(s->n_seeds, 3);
    assert_true(s->seeds[0] == 3 && s->seeds[1] == 7 && s->seeds[2] == 11);
    assert_false(s->sampled);
    assert_string_equal(s->configs[0].preset, "fast");
    assert_int_equal(srd_experiment_parse(sr_str_c("[config a]\nmodel = pop\n"), s), SR_OK);
    assert_int_equal(s->n_seeds, 5); /* the default */
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_spec_parses),
        cmocka_unit_test(test_paper_spec_has_the_matrix),
        cmocka_unit_test(test_converge_spec_parses),
        cmocka_unit_test(test_spec_mistakes_are_named),
        cmocka_unit_test(test_spec_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
