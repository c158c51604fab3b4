/* srd_auth.h - CURVE encryption and client authentication of the front
 * socket: ZeroMQ's CurveZMQ (RFC 26) with a ZAP handler (RFC 27) that admits
 * only the client public keys listed in curve_clients.
 *
 * Key files (written by `seqrecctl keygen FILE`) are text: '#' comment lines
 * and "public = <key>" / "secret = <key>" lines, each key 40 Z85 characters
 * (32 bytes). A secret key file must not be accessible by group or others
 * (like an ssh private key). The allowed-clients file lists public keys, one
 * per line, either bare or as "public = <key>" lines, so that a client's
 * FILE.pub can simply be appended to it.
 *
 * The daemon has one front socket, so this module keeps one set of keys per
 * process: srd_auth_init reads them at start-up, srd_auth_start (from the
 * front end's set-up) binds the ZAP handler and makes the front socket a
 * CURVE server, srd_auth_clients_install swaps the allowed keys on SIGHUP
 * while the ZAP thread reads them under a mutex. A key removed by a reload
 * refuses new connections; connections already made stay until they close
 * (seqrecctl makes a new one per command).
 */
#ifndef SRD_AUTH_H
#define SRD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"
#include "srd_config.h"

#define SRD_AUTH_KEY_BYTES 32
#define SRD_AUTH_Z85_LEN 40 /* characters of one Z85 key, without the NUL */
/* Reading limits: a key file is a few lines; an allowed-clients file of
 * 1 MiB holds ~20,000 keys with comments. */
#define SRD_AUTH_KEY_FILE_MAX 65536
#define SRD_AUTH_CLIENTS_FILE_MAX (1 << 20)

/* A sorted, de-duplicated set of allowed client public keys. */
typedef struct srd_auth_clients {
    char path[PATH_MAX];                      /* the file it was read from */
    size_t n;
    uint8_t (*keys)[SRD_AUTH_KEY_BYTES];      /* [n][32], sorted by memcmp */
} srd_auth_clients;

/* Read a secret key file: a "secret = " line (required) and optionally a
 * "public = " line, which must then belong to the secret key. The file must
 * be a regular file that group and others cannot access (mode 0600 or 0400):
 * SR_ERR_ARG otherwise, naming the file and its mode. Errors name file:line. */
sr_err srd_auth_read_secret(const char *path, uint8_t pub[SRD_AUTH_KEY_BYTES],
                            uint8_t sec[SRD_AUTH_KEY_BYTES]);

/* Read an allowed-clients file into *out (malloc'd; free with
 * srd_auth_clients_free). A line holding a secret key, a malformed key or a
 * file without any key is an error naming file:line. */
sr_err srd_auth_clients_read(const char *path, srd_auth_clients **out);
void srd_auth_clients_free(srd_auth_clients **c);
bool srd_auth_clients_has(const srd_auth_clients *c, const uint8_t key[SRD_AUTH_KEY_BYTES]);

/* Start-up: when cfg->curve_secret_key is set, read it and the
 * curve_clients file (errors as above; the caller refuses to start). Without
 * CURVE a no-op. Call once, before srd_auth_start. */
sr_err srd_auth_init(const srd_config *cfg);

/* Is CURVE on (srd_auth_init read a key)? */
bool srd_auth_enabled(void);

/* The front end's set-up, right after creating `front` and before binding
 * it: bind the ZAP handler in zctx (inproc://zeromq.zap.01), start its thread
 * and make `front` a CURVE server with the secret key. A no-op without CURVE. */
sr_err srd_auth_start(void *zctx, void *front);

/* After zmq_ctx_term of that context (which ends the ZAP thread's receive):
 * join the thread and forget the keys. NULL-safe in spirit: a no-op when
 * nothing was started. */
void srd_auth_stop(void);

/* Replace the allowed clients with *c (taken: *c becomes the old set, for
 * the caller to free). *added / *removed count the keys that changed. */
void srd_auth_clients_install(srd_auth_clients **c, size_t *added, size_t *removed);

/* The path of the installed allowed-clients file into out[cap] ("" when
 * CURVE is off). */
void srd_auth_clients_path(char *out, size_t cap);

/* "Abcdefgh" - the first 8 Z85 characters of a key, for log lines. */
void srd_auth_key_prefix(const uint8_t key[SRD_AUTH_KEY_BYTES], char out[9]);

#endif /* SRD_AUTH_H */
