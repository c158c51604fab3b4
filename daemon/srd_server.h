/* srd_server.h - the ZeroMQ front end (zguide "asyncsrv" shape).
 *
 * One ROUTER socket faces clients. The front end (the thread calling
 * srd_server_run) answers status, shutdown and malformed requests itself and
 * hands every other request to an idle worker thread over an inproc PAIR
 * socket; the worker sends the reply back the same way and the front end
 * forwards it. There is no queue: when every worker is busy the request gets
 * 429 busy at once, so memory stays bounded and `status` always answers,
 * even during a long ingest.
 *
 * Stopping (SIGTERM/SIGINT through a pipe, or the shutdown op): running jobs
 * are asked to cancel (they fail with "cancelled"), their replies are sent,
 * then the sockets close and srd_server_run returns.
 */
#ifndef SRD_SERVER_H
#define SRD_SERVER_H

#include "srd_config.h"
#include "srd_ops.h"

typedef struct srd_server srd_server;

/* Create the context, bind the endpoint (ipc sockets are chmod 0660 so the
 * service group can connect) and start the workers. `wake_fd` is polled by
 * the front end: when it becomes readable the server stops (-1 = none). */
sr_err srd_server_new(const srd_config *cfg, srd_ops *ops, int wake_fd, srd_server **out);

/* Serve until stopped. SR_OK on a clean stop. */
sr_err srd_server_run(srd_server *s);

/* Join workers, close sockets, terminate the context. NULL-safe. */
void srd_server_free(srd_server **s);

#endif /* SRD_SERVER_H */
