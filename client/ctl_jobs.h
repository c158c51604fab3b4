/* ctl_jobs.h - seqrecctl train --wait and experiment run --wait: follow a
 * job by polling the "jobs" op once a second, with a progress line on
 * stderr, until it ends.
 */
#ifndef CTL_JOBS_H
#define CTL_JOBS_H

#include <stdbool.h>
#include <stdint.h>

/* Poll job `job` at `endpoint` (each poll a read-only request with
 * timeout_ms and `retries` Lazy Pirate retries) until its state is done,
 * failed or cancelled; then print the final job object on stdout (as JSON
 * with `json`; a training job's "model" member names the trained model).
 * Progress goes to stderr: on a terminal one line rewritten in place, else
 * one line every 10 s and at every change of state, phase or (experiments)
 * run. Returns
 * CTL_EXIT_OK for done, CTL_EXIT_ERROR for failed/cancelled (the job's
 * message printed on stderr) or an error reply, CTL_EXIT_NO_ANSWER when the
 * daemon stops answering. A busy (429) reply is retried at the next poll. */
int ctl_wait_job(const char *endpoint, uint64_t job, int timeout_ms, int retries, bool json);

#endif /* CTL_JOBS_H */
