/* Library: partnerbus_ops (lib/ops). */
/* partnerbus - what the HTTP API servers (gateway, admin) share in setting
 * up their libmicrohttpd daemon: the listen address, TLS from PEM files,
 * the thread pool and connection timeout, and the start with one error
 * message for all its failures. */
#ifndef PB_HTTPD_H
#define PB_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pb_metrics;
struct pb_ops_server;

#define PB_HTTPD_MAX_OPTIONS 24

/* Largest PEM file pb_httpd_read_file reads. */
#define PB_HTTPD_MAX_FILE (16u << 20)

typedef struct pb_httpd_conf {
        const char *listen;   /* host:port, see pb_parse_listen */
        const char *tls_cert; /* PEM files; NULL: plain HTTP */
        const char *tls_key;
        const char *tls_priorities; /* GnuTLS priority string */
        long threads;               /* > 1: a thread pool of that size */
        int64_t conn_timeout_ms;    /* idle connections closed after it */
} pb_httpd_conf_t;

/* The daemon's flags and options being assembled. The certificate and
 * key are the caller's once read (free them after MHD_stop_daemon). */
typedef struct pb_httpd_setup {
        unsigned flags;
        struct MHD_OptionItem ops[PB_HTTPD_MAX_OPTIONS];
        size_t no;
        struct sockaddr_storage ss;
        char *cert_pem, *key_pem;
} pb_httpd_setup_t;

/* Starts a set-up from flags (MHD_USE_IPv6 and MHD_USE_TLS are added as
 * needed): parses the listen address, reads the TLS files, adds the TLS,
 * address, thread pool and timeout options. Returns 0, or -1 with errstr
 * (nothing left to free). */
int pb_httpd_setup(pb_httpd_setup_t *s, const pb_httpd_conf_t *c,
                   unsigned flags, char *errstr, size_t errstr_size);

/* Adds one more option (silently ignored past PB_HTTPD_MAX_OPTIONS - 1,
 * which the callers stay well below). */
void pb_httpd_option(pb_httpd_setup_t *s, enum MHD_OPTION option,
                     intptr_t value, void *ptr_value);

/* Adds the external logger (log, called with log_cls) and starts the
 * daemon. Returns it, or NULL with errstr naming listen. */
struct MHD_Daemon *pb_httpd_start(pb_httpd_setup_t *s,
                                  MHD_AccessHandlerCallback handler, void *cls,
                                  MHD_LogCallback log, void *log_cls,
                                  const char *listen, char *errstr,
                                  size_t errstr_size);

/* A whole file (at most PB_HTTPD_MAX_FILE bytes), NUL-terminated, or NULL
 * with errstr. */
char *pb_httpd_read_file(const char *path, char *errstr, size_t errstr_size);

/* A route an HTTP API serves (--print-routes, the OpenAPI checks). */
typedef struct pb_httpd_route {
        const char *method;
        const char *path;
} pb_httpd_route_t;

/* Prints the routes as lines "METHOD PATH" to stdout. */
void pb_httpd_print_routes(const pb_httpd_route_t *routes, size_t n);

/* The port the daemon listens on, or -1. */
int pb_httpd_port(struct MHD_Daemon *d);

/* What an HTTP API service does once its daemon listens: the ops endpoint
 * (when ops_listen is set), the "listening" log line, the port file (when
 * port_file is set). */
typedef struct pb_httpd_announce {
        const char *cmd; /* the log lines' cmd= */
        const char *listen;
        int port;
        int tls;
        const char *brokers;
        const char *extra; /* appended to the "listening" line, or NULL */
        const char *ops_listen;
        struct pb_metrics *metrics;
        int (*ready)(void *opaque, char *reason, size_t reason_size);
        void (*render)(void *opaque); /* may be NULL */
        void *opaque;
        const char *port_file;
        /* the service's logger (level, printf format) */
        void (*log)(const char *level, const char *fmt, ...)
            __attribute__((format(printf, 2, 3)));
} pb_httpd_announce_t;

/* 0, or -1 with errstr ("--ops-listen: ..." or "--port-file PATH: ...").
 * *ops is the endpoint started (or NULL), the caller's to destroy. */
int pb_httpd_announce(const pb_httpd_announce_t *a, struct pb_ops_server **ops,
                      char *errstr, size_t errstr_size);

/* Writes "PORT\n" to path through path.tmp renamed into place, so a
 * reader never sees it half-written. 0, or -1 with errstr. */
int pb_httpd_write_port_file(const char *path, int port, char *errstr,
                             size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
