/* partnerbus dev - a real single-node Apache Kafka (KRaft, combined broker
 * and controller) under DIR/kafka, from the jars scripts/setup.sh fetches
 * from Maven Central (tests/kafka/harness.sh fetch).
 *
 * The storage (DIR/kafka/data) is formatted once, on the first start, and
 * kept: a restarted dev finds every event it acknowledged, and the relays'
 * committed offsets. Topics keep their messages forever (log.retention.ms
 * -1): this history is reported to parliament. The broker listens on
 * 127.0.0.1 only, plaintext; the ports are the ones given, else the
 * previous run's (DIR/kafka/ports) when still free, else any free ones. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "partnerbus/pb_kafka.h"
#include "pb_dev.h"
#include "pb_opts.h"

#define KAFKA_JAR_PREFIX "kafka_2.13-"

static void seterr(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
}

/* The Kafka version from the name of its server jar; 0 when the
 * directory holds none. */
static int find_jars(const char *libs, char *version, size_t vsize) {
        DIR *d = opendir(libs);
        struct dirent *e;
        int found = 0;
        if (!d)
                return 0;
        while ((e = readdir(d))) {
                size_t n = strlen(e->d_name), p = strlen(KAFKA_JAR_PREFIX);
                if (n > p + 4 && !strncmp(e->d_name, KAFKA_JAR_PREFIX, p) &&
                    !strcmp(e->d_name + n - 4, ".jar") &&
                    !strstr(e->d_name, "-test") &&
                    !strstr(e->d_name, "-sources")) {
                        snprintf(version, vsize, "%.*s", (int)(n - p - 4),
                                 e->d_name + p);
                        found = 1;
                        break;
                }
        }
        closedir(d);
        return found;
}

/* A Kafka started from this directory's server.properties (an earlier dev
 * that was killed may still be shutting down): its pid, or 0. */
static pid_t running_kafka(const char *props) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t found = 0;
        if (!d)
                return 0;
        while (!found && (e = readdir(d))) {
                char path[300], buf[8192];
                size_t n, i;
                FILE *fp;
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
                if (!(fp = fopen(path, "rb")))
                        continue;
                n = fread(buf, 1, sizeof(buf) - 1, fp);
                fclose(fp);
                for (i = 0; i < n; i++)
                        if (!buf[i])
                                buf[i] = ' ';
                buf[n] = 0;
                if (strstr(buf, "kafka.Kafka ") && strstr(buf, props))
                        found = (pid_t)atol(e->d_name);
        }
        closedir(d);
        return found;
}

/* A KRaft cluster id: 16 random bytes, base64url without padding, not
 * starting with '-' (as kafka-storage random-uuid makes them). */
static void new_cluster_id(char *out, size_t size) {
        static const char a[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
            "wxyz0123456789-_";
        for (;;) {
                char hex[40];
                unsigned char b[16];
                size_t i, o = 0;
                unsigned v = 0;
                int bits = 0;
                pb_dev_random_hex("", sizeof(b), hex, sizeof(hex));
                for (i = 0; i < sizeof(b); i++) {
                        unsigned x;
                        sscanf(hex + 2 * i, "%2x", &x);
                        b[i] = (unsigned char)x;
                }
                for (i = 0; i < sizeof(b) && o + 1 < size; i++) {
                        v = (v << 8) | b[i];
                        bits += 8;
                        while (bits >= 6 && o + 1 < size) {
                                out[o++] = a[(v >> (bits - 6)) & 63];
                                bits -= 6;
                        }
                }
                if (bits > 0 && o + 1 < size)
                        out[o++] = a[(v << (6 - bits)) & 63];
                out[o] = 0;
                if (out[0] != '-')
                        return;
        }
}

/* cluster.id from DIR/kafka/data/meta.properties; 0 when formatted. */
static int read_meta(const char *kdir, char *id, size_t size) {
        char path[4200], line[512];
        FILE *fp;
        int ok = 0;
        snprintf(path, sizeof(path), "%s/data/meta.properties", kdir);
        if (!(fp = fopen(path, "r")))
                return -1;
        while (fgets(line, sizeof(line), fp))
                if (!strncmp(line, "cluster.id=", 11)) {
                        line[strcspn(line, "\r\n")] = 0;
                        snprintf(id, size, "%s", line + 11);
                        ok = 1;
                }
        fclose(fp);
        return ok ? 0 : -1;
}

static int choose_port(long given, int previous) {
        if (given > 0)
                return (int)given;
        if (previous > 0 && pb_dev_port_free(previous))
                return previous;
        return pb_dev_free_port();
}

static int write_config(pb_dev_kafka_t *k, char *err, size_t errsz) {
        char path[4200], text[4096];
        snprintf(text, sizeof(text),
                 "# written by partnerbus dev at every start; edit the\n"
                 "# options of partnerbus dev instead\n"
                 "process.roles=broker,controller\n"
                 "node.id=1\n"
                 "controller.quorum.voters=1@127.0.0.1:%d\n"
                 "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://"
                 "127.0.0.1:%d\n"
                 "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
                 "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,"
                 "CONTROLLER:PLAINTEXT\n"
                 "controller.listener.names=CONTROLLER\n"
                 "inter.broker.listener.name=PLAINTEXT\n"
                 "log.dirs=%s/data\n"
                 "num.network.threads=2\n"
                 "num.io.threads=2\n"
                 "num.partitions=3\n"
                 "auto.create.topics.enable=true\n"
                 "default.replication.factor=1\n"
                 "min.insync.replicas=1\n"
                 "offsets.topic.replication.factor=1\n"
                 "offsets.topic.num.partitions=6\n"
                 "transaction.state.log.replication.factor=1\n"
                 "transaction.state.log.min.isr=1\n"
                 "transaction.state.log.num.partitions=6\n"
                 "group.initial.rebalance.delay.ms=0\n"
                 "log.segment.bytes=104857600\n"
                 "log.retention.ms=-1\n"
                 "log.retention.bytes=-1\n",
                 k->controller_port, k->port, k->controller_port, k->port,
                 k->dir);
        snprintf(path, sizeof(path), "%s/server.properties", k->dir);
        if (pb_dev_write_file(path, text, 0644) < 0)
                goto fail;
        snprintf(text, sizeof(text),
                 "log4j.rootLogger=INFO, file\n"
                 "log4j.appender.file=org.apache.log4j.RollingFileAppender\n"
                 "log4j.appender.file.File=%s/server.log\n"
                 "log4j.appender.file.MaxFileSize=20MB\n"
                 "log4j.appender.file.MaxBackupIndex=3\n"
                 "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
                 "log4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m "
                 "(%%c)%%n\n"
                 "log4j.logger.kafka.request.logger=WARN\n"
                 "log4j.logger.state.change.logger=WARN\n"
                 "log4j.logger.kafka.log.LogCleaner=WARN\n"
                 "log4j.logger.org.apache.kafka.common.utils.AppInfoParser="
                 "WARN\n",
                 k->dir);
        snprintf(path, sizeof(path), "%s/log4j.properties", k->dir);
        if (pb_dev_write_file(path, text, 0644) < 0)
                goto fail;
        snprintf(path, sizeof(path), "%s/ports", k->dir);
        snprintf(text, sizeof(text), "%d %d\n", k->port, k->controller_port);
        if (pb_dev_write_file(path, text, 0644) < 0)
                goto fail;
        return 0;
fail:
        seterr(err, errsz, "cannot write %s: %s", path, strerror(errno));
        return -1;
}

/* argv of java: JAVA [jvm options] extra... NULL, in av (size n). */
static size_t java_argv(const pb_dev_kafka_t *k, char *opts, char **av,
                        size_t n) {
        size_t i = 0;
        char *save = NULL, *t;
        av[i++] = (char *)k->java;
        for (t = strtok_r(opts, " \t", &save); t && i + 12 < n;
             t = strtok_r(NULL, " \t", &save))
                av[i++] = t;
        return i;
}

int pb_dev_kafka_prepare(pb_dev_kafka_t *k, const char *vardir,
                         const char *libs, const char *java,
                         const char *jvm_opts, long port, long cport, char *err,
                         size_t errsz) {
        char path[4200], line[64], props[4300];
        int prev_port = 0, prev_cport = 0;
        pid_t old;
        int i;

        k->java = java;
        k->jvm_opts = jvm_opts;
        snprintf(k->libs, sizeof(k->libs), "%s", libs);
        if (!find_jars(libs, k->version, sizeof(k->version))) {
                seterr(err, errsz,
                       "Apache Kafka's jars are not in %s.\n"
                       "  Fetch them with 'scripts/setup.sh --kafka' (or "
                       "'scripts/run.sh'), point --kafka-libs at them,\n"
                       "  or run 'partnerbus dev --mock' (in memory, "
                       "loses history)",
                       libs);
                return -1;
        }
        snprintf(k->dir, sizeof(k->dir), "%s/kafka", vardir);
        snprintf(path, sizeof(path), "%s/data", k->dir);
        if (pb_dev_mkdirs(path) < 0) {
                seterr(err, errsz, "cannot create %s: %s", path,
                       strerror(errno));
                return -1;
        }
        /* one broker per data directory */
        snprintf(props, sizeof(props), "%s/server.properties", k->dir);
        for (i = 0; (old = running_kafka(props)) != 0; i++) {
                if (i == 0)
                        fprintf(stderr,
                                "partnerbus dev: waiting for the Kafka of an "
                                "earlier run (pid %ld) to stop\n",
                                (long)old);
                if (i >= 600 || pb_dev_stop) {
                        seterr(err, errsz,
                               "a Kafka (pid %ld) still runs on %s; stop it "
                               "first",
                               (long)old, k->dir);
                        return -1;
                }
                usleep(100000);
        }
        snprintf(path, sizeof(path), "%s/ports", k->dir);
        if (pb_dev_read_line(path, line, sizeof(line)) == 0)
                sscanf(line, "%d %d", &prev_port, &prev_cport);
        k->port = choose_port(port, prev_port);
        k->controller_port = choose_port(cport, prev_cport);
        if (k->controller_port == k->port)
                k->controller_port = pb_dev_free_port();
        if (!k->port || !k->controller_port) {
                seterr(err, errsz, "no free port on 127.0.0.1 for Kafka");
                return -1;
        }
        if ((port > 0 && !pb_dev_port_free(k->port)) ||
            (cport > 0 && !pb_dev_port_free(k->controller_port))) {
                seterr(err, errsz,
                       "127.0.0.1:%d is already in use (--kafka-port, "
                       "--kafka-controller-port; 0 chooses a free one)",
                       !pb_dev_port_free(k->port) ? k->port
                                                  : k->controller_port);
                return -1;
        }
        snprintf(k->bootstrap, sizeof(k->bootstrap), "127.0.0.1:%d", k->port);
        if (write_config(k, err, errsz) < 0)
                return -1;

        if (read_meta(k->dir, k->cluster_id, sizeof(k->cluster_id)) == 0)
                return 0;
        /* first start: format the storage */
        {
                char opts[1024], cp[4200], log[4200];
                char *av[64];
                size_t n;
                int rc;
                new_cluster_id(k->cluster_id, sizeof(k->cluster_id));
                snprintf(opts, sizeof(opts), "%s", jvm_opts);
                snprintf(cp, sizeof(cp), "%s/*", libs);
                snprintf(log, sizeof(log), "%s/format.log", k->dir);
                n = java_argv(k, opts, av, sizeof(av) / sizeof(av[0]));
                av[n++] = "-cp";
                av[n++] = cp;
                av[n++] = "kafka.tools.StorageTool";
                av[n++] = "format";
                av[n++] = "-t";
                av[n++] = k->cluster_id;
                av[n++] = "-c";
                av[n++] = props;
                av[n] = NULL;
                rc = pb_dev_run(k->java, av, log, 120000);
                if (rc != 0) {
                        seterr(err, errsz,
                               "formatting Kafka's storage in %s/data "
                               "failed (exit %d; see %s)%s",
                               k->dir, rc, log,
                               rc == 127 ? ": is Java installed "
                                           "(apt-get install "
                                           "openjdk-17-jre-headless)?"
                                         : "");
                        return -1;
                }
                k->formatted = 1;
        }
        return 0;
}

int pb_dev_kafka_start(pb_dev_kafka_t *k, char *err, size_t errsz) {
        char opts[1024], cp[4200], props[4300], log4j[4300], logsdir[4300];
        char out[4300];
        char *av[64];
        size_t n;
        snprintf(opts, sizeof(opts), "%s", k->jvm_opts);
        snprintf(cp, sizeof(cp), "%s/*", k->libs);
        snprintf(props, sizeof(props), "%s/server.properties", k->dir);
        snprintf(log4j, sizeof(log4j), "-Dlog4j.configuration=file:%s", k->dir);
        strncat(log4j, "/log4j.properties", sizeof(log4j) - strlen(log4j) - 1);
        snprintf(logsdir, sizeof(logsdir), "-Dkafka.logs.dir=%s", k->dir);
        snprintf(out, sizeof(out), "%s/stdout", k->dir);
        n = java_argv(k, opts, av, sizeof(av) / sizeof(av[0]));
        av[n++] = log4j;
        av[n++] = logsdir;
        av[n++] = "-cp";
        av[n++] = cp;
        av[n++] = "kafka.Kafka";
        av[n++] = props;
        av[n] = NULL;
        /* its own process group: Ctrl-C reaches dev, which stops Kafka
         * after the relays committed */
        if (pb_dev_spawn("kafka", k->java, av, out, PB_DEV_OWN_GROUP, 60000,
                         -1) < 0) {
                seterr(err, errsz, "cannot start %s: %s", k->java,
                       strerror(errno));
                return -1;
        }
        return 0;
}

static int port_answers(int port) {
        struct sockaddr_in sa;
        int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
        if (fd < 0)
                return 0;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

int pb_dev_kafka_wait_ready(pb_dev_kafka_t *k, const char *const *topics,
                            size_t ntopics, int64_t deadline_ms, char *err,
                            size_t errsz) {
        static const char *const config[] = {"retention.ms", "-1", NULL};
        pb_kafka_conf_t kc;
        pb_producer_t *p = NULL;
        char why[256] = "no answer";
        const char *died;
        size_t done = 0;

        /* the port first: a client would log every refused connection */
        while (!port_answers(k->port)) {
                if ((died = pb_dev_child_died()) != NULL) {
                        seterr(err, errsz, "%s exited while starting", died);
                        return -1;
                }
                if (pb_dev_stop || pb_mono_ms() > deadline_ms) {
                        seterr(err, errsz, "Kafka did not open %s in time",
                               k->bootstrap);
                        return -1;
                }
                usleep(100000);
        }
        memset(&kc, 0, sizeof(kc));
        kc.brokers = k->bootstrap;
        pb_kafka_conf_add(&kc, "log_level=0");
        if (!(p = pb_producer_new(&kc, NULL, NULL, why, sizeof(why)))) {
                seterr(err, errsz, "Kafka client: %s", why);
                return -1;
        }
        /* CreateTopics answers once the controller and the broker run */
        while (done < ntopics) {
                pb_topic_spec_t spec;
                pb_topic_res_t r;
                memset(&spec, 0, sizeof(spec));
                spec.name = topics[done];
                spec.partitions = 3;
                spec.replication = 1;
                spec.config = config;
                spec.timeout_ms = 5000;
                r = pb_kafka_topic_ensure(pb_producer_rk(p), &spec, why,
                                          sizeof(why));
                if (r == PB_TOPIC_CREATED || r == PB_TOPIC_EXISTS) {
                        done++;
                        continue;
                }
                if ((died = pb_dev_child_died()) != NULL) {
                        seterr(err, errsz, "%s exited while starting", died);
                        break;
                }
                if (pb_dev_stop || pb_mono_ms() > deadline_ms) {
                        seterr(err, errsz,
                               "Kafka at %s did not create topic %s in "
                               "time: %s",
                               k->bootstrap, topics[done], why);
                        break;
                }
                usleep(300000);
        }
        pb_producer_destroy(p);
        return done == ntopics ? 0 : -1;
}
