/* ctl_print.h - render a reply's result (an sr_mp_node tree) as JSON
 * (jansson) or as aligned text: scalar members as "key  value" lines, nested
 * maps indented under their key, arrays of maps as tables. Generic over the
 * tree, so new result fields print without client changes.
 */
#ifndef CTL_PRINT_H
#define CTL_PRINT_H

#include <jansson.h>
#include <stdio.h>

#include "sr_proto.h"

/* Convert the subtree at node `idx` to JSON; NULL when out of memory.
 * Strings that are not UTF-8 have their invalid bytes replaced by '?';
 * non-string map keys are written in their text form; bin/ext become
 * "<N bytes>"; integers above INT64_MAX become reals. */
json_t *ctl_print_json(const sr_mp_doc *doc, uint32_t idx);

/* Print the map at node `idx` as text. */
void ctl_print_text(FILE *f, const sr_mp_doc *doc, uint32_t idx);

/* ---- reading result members (false when absent or of another type) ---- */
bool ctl_get_str(const sr_mp_doc *doc, uint32_t map, const char *key, sr_pstr *out);
bool ctl_get_u64(const sr_mp_doc *doc, uint32_t map, const char *key, uint64_t *out);
/* A float, or an integer converted; nil (a NaN on the daemon's side) is false. */
bool ctl_get_f64(const sr_mp_doc *doc, uint32_t map, const char *key, double *out);
/* Write s with control bytes (newlines included) as '?': daemon text must
 * not drive the terminal. */
void ctl_put_safe(FILE *f, const char *s, size_t len);

/* ---- per-command text forms (the JSON form is always ctl_print_json) ---- */

/* evaluate: the scalar members, then the "metrics" map as a table with one
 * row per metric name and one column per cut-off ("hr@10" -> row hr, column
 * @10), then the counts. Under the sampled protocol a banner says that the
 * numbers are for comparison with the authors' only. */
void ctl_print_evaluate(FILE *f, const sr_mp_doc *doc, uint32_t idx);

/* recommend: rank, track, score rows on `out`; each warning on `err` as
 * "warning: ..."; a note on `out` when the popularity fallback was used.
 * A batch reply (a "results" array) prints one such block per session,
 * headed "session N:", its warnings as "warning: session N: ...". */
void ctl_print_recommend(FILE *out, FILE *err, const sr_mp_doc *doc, uint32_t idx);

/* jobs: a compact table; with `detail` (one job was asked for) and one job
 * in the reply, every member as key/value lines instead. The step column of
 * an experiment job (one with "run" and "runs") shows "run 3/20": the run in
 * progress while it runs one, else the runs finished. */
void ctl_print_jobs(FILE *f, const sr_mp_doc *doc, uint32_t idx, bool detail);

/* models: a table without the configs, with " *" after the name of the
 * model the reply's "default" member names; with `detail` and one model in
 * the reply, every member as key/value lines and the config text below. */
void ctl_print_models(FILE *f, const sr_mp_doc *doc, uint32_t idx, bool detail);

/* One line of progress for the job map at `job` ("job 3 running train
 * step 120/5000 (2.4%) ETA 4m10s epoch 1 loss 7.1234 (rec 7.0001
 * nf 0.1233) 512 seq/s"; an experiment job: "job 7 running train run 3/20
 * (sasrec+skip seed 3) ETA 2h05m step 120/5000 (2.4%) ..." with the run
 * counted as in ctl_print_jobs), without a newline and without control
 * bytes; members that are absent or nil are left out. Returns the length
 * written (cut to cap - 1). */
size_t ctl_format_progress(char *buf, size_t cap, const sr_mp_doc *doc, uint32_t job);

#endif /* CTL_PRINT_H */
