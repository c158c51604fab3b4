/* sr_report.h - the report of an experiment (docs/experiments.md): from the
 * per-run results an experiment runner wrote into its output directory, the
 * summary table, paired tests and figures a researcher reads.
 *
 * Input (written by the daemon's experiment runner, one directory):
 *   results.csv   header row, then one row per (run, protocol):
 *                   config,base,model,seed,protocol,steps,best_step,train_seconds,
 *                   <the 42 metric keys of sr_metrics_visit, unprefixed, in that order>,
 *                   coverage@10,mean_pop@10,n_no_input
 *                 config: the configuration's name; base: the name of the
 *                 configuration it is compared against (the same model without
 *                 the skip term), empty for none; model: sasrec | bert4rec |
 *                 pop | sr; protocol: full | sampled; an empty field is NaN
 *                 (a metric over no query, or coverage under the sampled
 *                 protocol). Rows may come in any order. A config name is
 *                 1-64 bytes without control characters, / \ , " ` | (it
 *                 names files and Markdown code spans); (config, seed,
 *                 protocol) is unique; a config's base and model are the
 *                 same on all its rows.
 *   runs/<config>.s<seed>.history.csv   (neural runs; may be missing)
 *                 step,epoch,loss,rec,nf,metric - one row per validation.
 *
 * Output (each file written to "<name>.tmp" and renamed):
 *   summary.csv   config,protocol,metric,n,mean,sd,ci_low,ci_high,base,
 *                 rel_change,p_t,p_wilcoxon,n_pairs - for every configuration, both
 *                 protocols present, and the metrics hr@1, hr@5, hr@10, hr@20,
 *                 ndcg@10, mrr@10, skip_mrr@10 (rel_change = mean / base mean
 *                 - 1 over the seeds both have; p-values of the paired tests
 *                 over those seeds, sr_stats.h; empty without a base or
 *                 with fewer than two pairs; n_pairs: the number of those
 *                 seeds, empty without a base). n counts the seeds with a
 *                 value (an empty field is left out, so n may be 0).
 *   REPORT.md     title, the caller's notes, a table of the configurations
 *                 (model, base, seeds, mean best step and training time),
 *                 then per protocol (full ranking
 *                 first; the sampled one under a heading that says it is the
 *                 authors' protocol, for comparison only) a table of
 *                 mean [95% CI] per configuration and metric, a table of
 *                 relative changes against the base with both p-values, the
 *                 figures, and a plain-language reading of the numbers (which
 *                 changes have p < 0.05 under both tests; Skip-MRR@10 is lower
 *                 is better) that never claims more than the numbers show.
 *   figures/metrics.svg     bars of HR@10 and NDCG@10 per configuration with CI whiskers
 *   figures/gain_vs_k.svg   relative change of HR@K against the base, K = 1, 5, 10, 20
 *   figures/valid_curves.svg  validation metric against step, one line per configuration
 *                           (mean over seeds at each step), when histories exist
 *   figures/skip_mrr.svg    Skip-MRR@10 of each configuration with a base beside the base's
 * SVG is written directly (no external tool), readable in a browser and on
 * GitHub. The figures show the full ranking (the sampled protocol only when
 * there is no full ranking); gain_vs_k and skip_mrr are written only when a
 * configuration has a base with results, valid_curves only when a history
 * has a value; a figure not written is removed, so none from an earlier
 * report outlives its data. Everything is read and checked first and all
 * outputs are written and fsync'ed as .tmp before the first rename: bad
 * input leaves the directory as it was.
 */
#ifndef SR_REPORT_H
#define SR_REPORT_H

#include "sr_common.h"

typedef struct sr_report_info {
    const char *title;   /* first heading of REPORT.md */
    const char *notes;   /* markdown placed under the title (data, machine, command, time) */
    double level;        /* confidence level of the intervals, e.g. 0.95 */
} sr_report_info;

/* Read dir/results.csv (SR_ERR_NOTFOUND when missing, SR_ERR_FORMAT naming
 * the line for a malformed row) and write the outputs above into dir.
 * A configuration with one seed gets NaN intervals and no tests (written as
 * "-" in REPORT.md, empty in summary.csv). info may be NULL (title
 * "Experiment report", no notes, level 0.95); a level outside (0, 1) is
 * SR_ERR_ARG. */
sr_err sr_report_write(const char *dir, const sr_report_info *info);

#endif /* SR_REPORT_H */
