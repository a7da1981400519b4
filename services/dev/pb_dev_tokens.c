/* partnerbus dev - development tokens, kept across restarts.
 *
 * DIR/dev-tokens.txt (mode 0600): "organisation token" per line, one per
 * organisation of the examples plus dev-org; DIR/operator-token (0600):
 * the operator's token (sign-in for the console, the management API).
 * A start reuses the tokens it finds and adds what is missing, so a
 * clerk's token stays the same; delete the files for new ones. The gateway
 * gets DIR/dev-tokens.conf with SHA-256 digests only. */
#include <stdio.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_dev.h"

#define TOKEN_PREFIX "pbdev_"
#define TOKEN_BYTES  16

pb_dev_org_t *pb_dev_org_find(pb_dev_orgs_t *o, const char *id) {
        size_t i;
        for (i = 0; i < o->n; i++)
                if (!strcmp(o->orgs[i].id, id))
                        return &o->orgs[i];
        return NULL;
}

static pb_dev_org_t *org_put(pb_dev_orgs_t *o, const char *id,
                             const char *token) {
        pb_dev_org_t *g = pb_dev_org_find(o, id);
        if (g || o->n == PB_DEV_MAX_ORGS)
                return g;
        g = &o->orgs[o->n++];
        snprintf(g->id, sizeof(g->id), "%s", id);
        if (token)
                snprintf(g->token, sizeof(g->token), "%s", token);
        else
                pb_dev_random_hex(TOKEN_PREFIX, TOKEN_BYTES, g->token,
                                  sizeof(g->token));
        return g;
}

pb_dev_org_t *pb_dev_org_add(pb_dev_orgs_t *o, const char *id) {
        return org_put(o, id, NULL);
}

/* A token as dev makes them: pbdev_ (pbdev_op_ for the operator) and at
 * least 32 hex digits. */
static int token_ok(const char *t) {
        size_t n = strlen(t), i;
        if (n < strlen(TOKEN_PREFIX) + 32 || n >= 80 ||
            strncmp(t, TOKEN_PREFIX, strlen(TOKEN_PREFIX)))
                return 0;
        i = strlen(TOKEN_PREFIX);
        if (!strncmp(t + i, "op_", 3))
                i += 3;
        for (; i < n; i++)
                if (!strchr("0123456789abcdef", t[i]))
                        return 0;
        return 1;
}

void pb_dev_tokens_load(pb_dev_orgs_t *o, const char *dir) {
        char path[4200], line[512];
        FILE *fp;
        snprintf(path, sizeof(path), "%s/dev-tokens.txt", dir);
        if ((fp = fopen(path, "r"))) {
                while (fgets(line, sizeof(line), fp)) {
                        char id[128], token[128];
                        if (line[0] == '#' ||
                            sscanf(line, "%127s %127s", id, token) != 2 ||
                            !token_ok(token))
                                continue;
                        org_put(o, id, token);
                }
                fclose(fp);
        }
        snprintf(path, sizeof(path), "%s/operator-token", dir);
        if (pb_dev_read_line(path, line, sizeof(line)) == 0 && token_ok(line))
                snprintf(o->operator_token, sizeof(o->operator_token), "%s",
                         line);
        if (!o->operator_token[0])
                pb_dev_random_hex(TOKEN_PREFIX "op_", TOKEN_BYTES,
                                  o->operator_token, sizeof(o->operator_token));
}

int pb_dev_tokens_save(const pb_dev_orgs_t *o, const char *dir, char *conf_path,
                       size_t conf_size) {
        char path[4200], text[16384];
        size_t i, len;
        snprintf(conf_path, conf_size, "%s/dev-tokens.conf", dir);
        len = (size_t)snprintf(
            text, sizeof(text),
            "# partnerbus dev: development tokens (SHA-256 digests)\n");
        for (i = 0; i < o->n && len < sizeof(text); i++) {
                char hex[65];
                pb_sha256_hex(o->orgs[i].token, strlen(o->orgs[i].token), hex);
                len += (size_t)snprintf(text + len, sizeof(text) - len,
                                        "%s %s *\n", o->orgs[i].id, hex);
        }
        if (len >= sizeof(text) || pb_dev_write_file(conf_path, text, 0644))
                return -1;
        len = (size_t)snprintf(
            text, sizeof(text),
            "# partnerbus dev: plain development tokens, one per "
            "organisation;\n# kept across restarts (delete this file for "
            "new ones)\n");
        for (i = 0; i < o->n && len < sizeof(text); i++)
                len +=
                    (size_t)snprintf(text + len, sizeof(text) - len, "%s %s\n",
                                     o->orgs[i].id, o->orgs[i].token);
        snprintf(path, sizeof(path), "%s/dev-tokens.txt", dir);
        if (len >= sizeof(text) || pb_dev_write_file(path, text, 0600))
                return -1;
        snprintf(path, sizeof(path), "%s/operator-token", dir);
        snprintf(text, sizeof(text), "%s\n", o->operator_token);
        return pb_dev_write_file(path, text, 0600);
}
