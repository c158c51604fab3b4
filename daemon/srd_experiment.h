/* srd_experiment.h - an experiment: a declared matrix of configurations x
 * seeds trained and evaluated on one dataset, with its report
 * (docs/experiments.md). The spec is INI text:
 *
 *   [experiment]
 *   title = Quick check            ; the report's title
 *   dataset = synth                ; default dataset (the request may override it)
 *   seeds = 5                      ; seeds 1..5 (or seed_list = 3, 7, 11)
 *   split = test                   ; test | validation
 *   protocols = full, sampled      ; full is always run; sampled for comparison
 *   notes = one line of markdown   ; repeatable: each line goes under the title
 *
 *   [config sasrec]                ; a configuration: [A-Za-z0-9._+-]{1,40}
 *   model = sasrec                 ; sasrec | bert4rec | pop | sr
 *   preset = fast                  ; neural models: fast | paper
 *   set = lambda=0                 ; repeatable: sr_train_config keys (or window/max_rules)
 *   base = sasrec                  ; optional: the configuration it is compared against
 *
 * Runs execute in spec order (configuration by configuration, seed by seed)
 * in <out>/runs/<config>.s<seed>.*: .ckpt (while training), .model (the best
 * validation), .history.csv, .result.csv (its two rows of results.csv). A
 * run whose .result.csv exists is not run again, and a run interrupted while
 * training resumes from its checkpoint, so an interrupted experiment picks
 * up where it stopped. After every run <out>/results.csv and the report
 * (sr_report.h: summary.csv, REPORT.md, figures/) are rewritten.
 */
#ifndef SRD_EXPERIMENT_H
#define SRD_EXPERIMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_common.h"
#include "sr_train.h"

#define SRD_EXP_MAX_CONFIGS 64
#define SRD_EXP_MAX_SEEDS 100
#define SRD_EXP_MAX_SETS 32
#define SRD_EXP_NAME_MAX 41

typedef struct srd_exp_config {
    char name[SRD_EXP_NAME_MAX];
    char base[SRD_EXP_NAME_MAX];  /* "" = none */
    char model[16];               /* sasrec | bert4rec | pop | sr */
    char preset[16];              /* fast | paper */
    char set[SRD_EXP_MAX_SETS][128];
    int n_set;
} srd_exp_config;

typedef struct srd_exp_spec {
    char title[200];
    char dataset[64];
    char notes[2048];             /* markdown lines */
    int split;                    /* SR_SPLIT_TEST or SR_SPLIT_VALID */
    bool sampled;                 /* also the sampled protocol */
    uint64_t seeds[SRD_EXP_MAX_SEEDS];
    int n_seeds;
    srd_exp_config configs[SRD_EXP_MAX_CONFIGS];
    int n_configs;
} srd_exp_spec;

/* Parse and check a spec (every base names an earlier or later
 * configuration of the same model kind, every neural configuration resolves
 * to a valid sr_train_config). SR_ERR_ARG naming the line or the
 * configuration. The spec struct is large: allocate it. */
sr_err srd_experiment_parse(sr_str text, srd_exp_spec *out);

typedef struct srd_exp_progress {
    int run, runs;                /* runs finished (reused ones included), total */
    char current[80];             /* "<config> seed <s>" */
    double elapsed_s;             /* since this daemon started the experiment */
    double eta_s;                 /* to the last run, from the runs done so far (NaN before one) */
    bool training;                /* train is valid */
    sr_train_progress train;      /* of the current run */
} srd_exp_progress;

/* Called at every training report and between runs; false = stop (the run's
 * checkpoint is written; SR_ERR_CANCELLED). */
typedef bool (*srd_exp_progress_fn)(void *ud, const srd_exp_progress *p);

typedef struct srd_exp_args {
    const srd_exp_spec *spec;
    const char *store_path;       /* the dataset's store */
    const char *dataset;          /* its name */
    const char *out;              /* output directory (created if missing) */
    int threads;                  /* OpenMP threads of training runs (0 = all) */
    uint64_t ckpt_every;          /* default checkpoint interval */
} srd_exp_args;

sr_err srd_experiment_run(const srd_exp_args *a, srd_exp_progress_fn fn, void *ud);

#endif /* SRD_EXPERIMENT_H */
