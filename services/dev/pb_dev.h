/* partnerbus dev - internals shared by the files of services/dev:
 * child processes (pb_cmd_dev.c), the real Apache Kafka broker
 * (pb_dev_kafka.c) and the development tokens (pb_dev_tokens.c). */
#ifndef PB_DEV_H
#define PB_DEV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Set by dev's SIGINT/SIGTERM/SIGHUP handler. */
extern volatile sig_atomic_t pb_dev_stop;

/* --- child processes --- */

#define PB_DEV_OWN_GROUP                                                       \
        0x1                    /* own process group: a Ctrl-C in the terminal  \
                                  does not reach it, dev stops it last */
#define PB_DEV_KEEP_STDOUT 0x2 /* stdout stays dev's (not the log file) */
#define PB_DEV_KEEP_STDERR 0x4 /* stderr stays dev's (not the log file) */

/* Starts exe (NULL: this partnerbus binary) with argv as a child of dev
 * that dies with dev (PR_SET_PDEATHSIG SIGTERM), its output appended to
 * log. stop_ms: how long dev waits after SIGTERM before SIGKILL. stdout_fd
 * >= 0: the child's stdout goes there instead. The child is remembered;
 * pb_dev_stop_children() stops all in reverse start order. -1 on failure. */
pid_t pb_dev_spawn(const char *name, const char *exe, char *const argv[],
                   const char *log, int flags, int64_t stop_ms, int stdout_fd);
/* The name of a remembered child that has exited (it is forgotten), or
 * NULL when all run. */
const char *pb_dev_child_died(void);
void pb_dev_stop_children(void);

/* Runs exe with argv to completion (output to log), dying with dev. Its
 * exit status, or -1 when it could not run, took longer than timeout_ms
 * (it is killed) or dev is stopping. */
int pb_dev_run(const char *exe, char *const argv[], const char *log,
               int64_t timeout_ms);

int pb_dev_mkdirs(const char *path);
/* Is 127.0.0.1:port (or the ADDR:PORT in listen) free to bind? */
int pb_dev_port_free(int port);
/* A free port on 127.0.0.1 (the kernel's choice), 0 on failure. */
int pb_dev_free_port(void);
/* Removes path and everything under it. 0 or -1. */
int pb_dev_rmtree(const char *path);
int pb_dev_read_line(const char *path, char *buf, size_t size);
/* Writes text to path (mode; an existing file gets the mode too),
 * through a temporary file and rename. 0 or -1. */
int pb_dev_write_file(const char *path, const char *text, int mode);
/* n random bytes as hex after prefix, into out. */
void pb_dev_random_hex(const char *prefix, size_t nbytes, char *out,
                       size_t size);

/* --- the real Apache Kafka (KRaft, one node; pb_dev_kafka.c) --- */

typedef struct pb_dev_kafka {
        char dir[4096];   /* DIR/kafka: config, ports, logs */
        char libs[4096];  /* the jars */
        char version[32]; /* "3.9.1", from kafka_2.13-3.9.1.jar */
        char cluster_id[64];
        char bootstrap[64]; /* 127.0.0.1:PORT */
        int port, controller_port;
        const char *java;
        const char *jvm_opts;
        int formatted; /* 1: the storage was formatted by this start */
} pb_dev_kafka_t;

/* Finds the jars, waits for a Kafka left running on this directory to
 * end, chooses the ports (given, or the previous run's when free, or any
 * free one), writes the configuration and formats the storage on the
 * first start. 0, or -1 with err. */
int pb_dev_kafka_prepare(pb_dev_kafka_t *k, const char *vardir,
                         const char *libs, const char *java,
                         const char *jvm_opts, long port, long cport, char *err,
                         size_t errsz);
/* Starts the broker as a child of dev. -1 with err. */
int pb_dev_kafka_start(pb_dev_kafka_t *k, char *err, size_t errsz);
/* Waits until the broker answers and creates the topics (3 partitions,
 * kept forever) that do not exist. 0, or -1 with err (deadline, the broker
 * exited, dev stopping). */
int pb_dev_kafka_wait_ready(pb_dev_kafka_t *k, const char *const *topics,
                            size_t ntopics, int64_t deadline_ms, char *err,
                            size_t errsz);

/* --- tokens (pb_dev_tokens.c) --- */

#define PB_DEV_MAX_ORGS 32

typedef struct pb_dev_org {
        char id[128];
        char token[80];
} pb_dev_org_t;

typedef struct pb_dev_orgs {
        pb_dev_org_t orgs[PB_DEV_MAX_ORGS];
        size_t n;
        char operator_token[80];
} pb_dev_orgs_t;

pb_dev_org_t *pb_dev_org_find(pb_dev_orgs_t *o, const char *id);
/* Adds an organisation with a new token (or finds it). */
pb_dev_org_t *pb_dev_org_add(pb_dev_orgs_t *o, const char *id);
/* Reads the tokens an earlier start kept (DIR/dev-tokens.txt,
 * DIR/operator-token); a missing file is not an error. */
void pb_dev_tokens_load(pb_dev_orgs_t *o, const char *dir);
/* Writes DIR/dev-tokens.conf (digests, for the gateway), and, mode 0600,
 * DIR/dev-tokens.txt (plain) and DIR/operator-token. 0 or -1. */
int pb_dev_tokens_save(const pb_dev_orgs_t *o, const char *dir, char *conf_path,
                       size_t conf_size);

#endif
