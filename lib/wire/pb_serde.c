/* partnerbus - framing (single-object encoding, Confluent wire format) and
 * the serde every service uses: JSON -> framed Avro and back.
 *
 * The registry client (pb_registry_*) lives in pb_registry.c. */
#include "partnerbus/pb_serde.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- framing --- */

pb_resp_t pb_frame_parse(const uint8_t *data, size_t len, pb_frame_t *f,
                         char *errstr, size_t errstr_size) {
        size_t i, hl;
        int soe;
        memset(f, 0, sizeof(*f));
        if (!data || len == 0) {
                snprintf(errstr, errstr_size, "empty message");
                return PB_ERR_TRUNCATED;
        }
        if (data[0] != 0xC3 && data[0] != 0x00) {
                snprintf(errstr, errstr_size,
                         "unknown frame magic %02X (expected C3 01 for "
                         "single-object encoding or 00 for the Confluent "
                         "wire format)",
                         data[0]);
                return PB_ERR_INVALID;
        }
        soe = data[0] == 0xC3;
        hl = soe ? PB_SOE_HEADER_LEN : PB_CONFLUENT_HEADER_LEN;
        if (len < hl) {
                snprintf(errstr, errstr_size,
                         "%s frame truncated: %zu of %zu header bytes",
                         soe ? "single-object" : "Confluent", len, hl);
                return PB_ERR_TRUNCATED;
        }
        if (soe) {
                if (data[1] != 0x01) {
                        snprintf(errstr, errstr_size,
                                 "unknown frame magic C3 %02X (expected "
                                 "C3 01)",
                                 data[1]);
                        return PB_ERR_INVALID;
                }
                f->framing = PB_FRAMING_SINGLE_OBJECT;
                for (i = 0; i < 8; i++)
                        f->fingerprint |= (uint64_t)data[2 + i] << (8 * i);
        } else {
                f->framing = PB_FRAMING_CONFLUENT;
                f->schema_id = (uint32_t)data[1] << 24 |
                               (uint32_t)data[2] << 16 |
                               (uint32_t)data[3] << 8 | (uint32_t)data[4];
        }
        f->body = data + hl;
        f->body_len = len - hl;
        return PB_OK;
}

pb_resp_t pb_frame_write_soe(pb_buf_t *out, uint64_t fingerprint) {
        uint8_t h[PB_SOE_HEADER_LEN];
        int i;
        h[0] = 0xC3;
        h[1] = 0x01;
        for (i = 0; i < 8; i++)
                h[2 + i] = (uint8_t)(fingerprint >> (8 * i));
        return pb_buf_append(out, h, sizeof(h));
}

pb_resp_t pb_frame_write_confluent(pb_buf_t *out, uint32_t schema_id) {
        uint8_t h[PB_CONFLUENT_HEADER_LEN];
        h[0] = 0x00;
        h[1] = (uint8_t)(schema_id >> 24);
        h[2] = (uint8_t)(schema_id >> 16);
        h[3] = (uint8_t)(schema_id >> 8);
        h[4] = (uint8_t)schema_id;
        return pb_buf_append(out, h, sizeof(h));
}

/* --- serde --- */

struct pb_serde {
        const pb_schemas_t *catalog; /* not owned */
        pb_registry_t *registry;     /* not owned, may be NULL */
        pb_codec_t *codec;
        pb_json_parser_t *parser; /* for pb_serde_encode(_text) */
};

pb_serde_t *pb_serde_new(const pb_schemas_t *catalog, pb_registry_t *registry,
                         char *errstr, size_t errstr_size) {
        pb_serde_t *sd;
        if (!catalog) {
                snprintf(errstr, errstr_size, "no schema catalog");
                return NULL;
        }
        sd = calloc(1, sizeof(*sd));
        if (!sd || !(sd->codec = pb_codec_new()) ||
            !(sd->parser = pb_json_parser_new(NULL))) {
                if (sd)
                        pb_codec_destroy(sd->codec);
                free(sd);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        sd->catalog = catalog;
        sd->registry = registry;
        return sd;
}

void pb_serde_destroy(pb_serde_t *sd) {
        if (!sd)
                return;
        pb_codec_destroy(sd->codec);
        pb_json_parser_destroy(sd->parser);
        free(sd);
}

pb_codec_t *pb_serde_codec(pb_serde_t *sd) {
        return sd ? sd->codec : NULL;
}

/* The frame header of one event of e->schema into h (*hl bytes). */
static pb_resp_t header_bytes(pb_serde_t *sd, pb_serde_enc_t *e, uint8_t *h,
                              size_t *hl, pb_errors_t *errs) {
        if (sd->registry) {
                char subject[512], why[PB_ERRMSG_MAX];
                uint32_t id = 0;
                pb_resp_t r;
                snprintf(subject, sizeof(subject), "%s-value",
                         e->topic ? e->topic : pb_schema_type(e->schema));
                r = pb_registry_register(sd->registry, subject, e->schema, &id,
                                         why, sizeof(why));
                if (r != PB_OK) {
                        e->registry_failed = 1;
                        pb_errors_add(errs, "", "schema registry: %s", why);
                        return r;
                }
                h[0] = 0x00;
                h[1] = (uint8_t)(id >> 24);
                h[2] = (uint8_t)(id >> 16);
                h[3] = (uint8_t)(id >> 8);
                h[4] = (uint8_t)id;
                *hl = PB_CONFLUENT_HEADER_LEN;
        } else {
                uint64_t fp = pb_schema_fingerprint(e->schema);
                h[0] = 0xC3;
                h[1] = 0x01;
                for (int i = 0; i < 8; i++)
                        h[2 + i] = (uint8_t)(fp >> (8 * i));
                *hl = PB_SOE_HEADER_LEN;
        }
        return PB_OK;
}

static pb_resp_t frame_header(pb_serde_t *sd, pb_serde_enc_t *e, pb_buf_t *out,
                              pb_errors_t *errs) {
        uint8_t h[PB_SOE_HEADER_LEN];
        size_t hl;
        pb_resp_t r = header_bytes(sd, e, h, &hl, errs);
        if (r != PB_OK)
                return r;
        r = pb_buf_append(out, h, hl);
        if (r != PB_OK)
                pb_errors_add(errs, "", "%s", pb_err2str(r));
        return r;
}

/* The one-pass encoder (pb_codec_json_to_avro_fast) behind room for the
 * header, which is written once the body is done - so a text the tree
 * path would refuse never reaches the registry here either. 1 with *rp
 * the result, or 0: declined, out as on entry, the tree path decides. */
static int encode_fast(pb_serde_t *sd, pb_serde_enc_t *e, const char *json,
                       size_t len, pb_buf_t *out, pb_event_meta_t *meta,
                       pb_errors_t *errs, pb_resp_t *rp) {
        size_t start = out->len,
               hl = sd->registry ? PB_CONFLUENT_HEADER_LEN : PB_SOE_HEADER_LEN;
        uint8_t h[PB_SOE_HEADER_LEN];
        pb_event_meta_t saved;

        if (!json || pb_buf_reserve(out, hl) != PB_OK)
                return 0;
        if (sd->registry && meta)
                saved = *meta;
        out->len += hl;
        if (!pb_codec_json_to_avro_fast(e->codec ? e->codec : sd->codec,
                                        e->schema, sd->parser, json, len,
                                        e->opts, out, meta)) {
                out->len = start;
                out->data[start] = 0;
                return 0;
        }
        *rp = header_bytes(sd, e, h, &hl, errs);
        if (*rp != PB_OK) {
                /* as the tree path: the registry's error, meta untouched */
                out->len = start;
                out->data[start] = 0;
                if (meta)
                        *meta = saved;
                return 1;
        }
        memcpy(out->data + start, h, hl);
        return 1;
}

pb_resp_t pb_serde_encode_value(pb_serde_t *sd, pb_serde_enc_t *e,
                                const pb_json_t *value, pb_buf_t *out,
                                pb_event_meta_t *meta, pb_errors_t *errs) {
        size_t start = out->len;
        pb_resp_t r;
        e->registry_failed = 0;
        /* The header goes first and the codec appends the body; on any
         * failure the buffer is cut back to where it was. */
        r = frame_header(sd, e, out, errs);
        if (r != PB_OK)
                return r;
        r = pb_codec_value_to_avro(e->codec ? e->codec : sd->codec, e->schema,
                                   value, e->opts, out, meta, errs);
        if (r != PB_OK) {
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
        }
        return r;
}

pb_resp_t pb_serde_encode_text(pb_serde_t *sd, pb_serde_enc_t *e,
                               pb_json_parser_t *jp, const char *json,
                               size_t len, pb_buf_t *out, pb_event_meta_t *meta,
                               pb_errors_t *errs) {
        char why[PB_ERRMSG_MAX];
        e->registry_failed = 0;
        e->tree = NULL;
        if (!json)
                return PB_ERR_ARG;
        e->tree =
            pb_json_parse(jp ? jp : sd->parser, json, len, why, sizeof(why));
        if (!e->tree) {
                if (meta)
                        memset(meta, 0, sizeof(*meta));
                pb_codec_parse_error(json, len, why, errs);
                return PB_ERR_PARSE;
        }
        return pb_serde_encode_value(sd, e, e->tree, out, meta, errs);
}

pb_resp_t pb_serde_encode(pb_serde_t *sd, const pb_schema_t *s,
                          const char *topic, const char *json, size_t len,
                          const pb_encode_opts_t *opts, pb_buf_t *out,
                          pb_event_meta_t *meta, pb_errors_t *errs) {
        pb_serde_enc_t e;
        pb_resp_t r;
        memset(&e, 0, sizeof(e));
        e.schema = s;
        e.topic = topic;
        e.opts = opts;
        if (encode_fast(sd, &e, json, len, out, meta, errs, &r))
                return r;
        return pb_serde_encode_text(sd, &e, NULL, json, len, out, meta, errs);
}

/* Frame, writer (catalog or registry) and reader of a framed message. */
static pb_resp_t unframe(pb_serde_t *sd, const uint8_t *data, size_t len,
                         pb_serde_msg_t *msg, char *errstr,
                         size_t errstr_size) {
        const pb_schema_t *writer = NULL;
        pb_frame_t *f = &msg->frame;
        pb_resp_t r = pb_frame_parse(data, len, f, errstr, errstr_size);
        if (r != PB_OK)
                return r;
        msg->body_off = (size_t)(f->body - data);
        if (f->framing == PB_FRAMING_SINGLE_OBJECT) {
                writer =
                    pb_schemas_find_fingerprint(sd->catalog, f->fingerprint);
                if (!writer) {
                        snprintf(errstr, errstr_size,
                                 "unknown schema fingerprint %016llx (not "
                                 "in the local schemas)",
                                 (unsigned long long)f->fingerprint);
                        return PB_ERR_UNKNOWN_SCHEMA;
                }
        } else {
                if (!sd->registry) {
                        snprintf(errstr, errstr_size,
                                 "Confluent-framed message (schema id %u) "
                                 "but no --schema-registry given",
                                 (unsigned)f->schema_id);
                        return PB_ERR_UNKNOWN_SCHEMA;
                }
                r = pb_registry_lookup(sd->registry, f->schema_id, &writer,
                                       errstr, errstr_size);
                if (r != PB_OK)
                        return r;
        }
        /* read as the current local version of the writer's type */
        msg->writer = writer;
        msg->reader = pb_schemas_find(sd->catalog, pb_schema_type(writer));
        if (!msg->reader)
                msg->reader = writer;
        return PB_OK;
}

pb_resp_t pb_serde_read(pb_serde_t *sd, const uint8_t *data, size_t len,
                        pb_serde_msg_t *msg, pb_buf_t *out,
                        pb_event_meta_t *meta, char *errstr,
                        size_t errstr_size) {
        const pb_schema_t *reader;
        pb_resp_t r;
        memset(msg, 0, sizeof(*msg));
        r = unframe(sd, data, len, msg, errstr, errstr_size);
        if (r != PB_OK)
                return r;
        reader = msg->reader == msg->writer ? NULL : msg->reader;
        if (!out)
                return pb_codec_check(sd->codec, msg->writer, reader,
                                      msg->frame.body, msg->frame.body_len,
                                      meta, errstr, errstr_size);
        return pb_codec_avro_to_json(sd->codec, msg->writer, reader,
                                     msg->frame.body, msg->frame.body_len, out,
                                     meta, errstr, errstr_size);
}

pb_resp_t pb_serde_read_envelope(pb_serde_t *sd, const uint8_t *data,
                                 size_t len, pb_serde_msg_t *msg,
                                 pb_event_meta_t *meta, char *errstr,
                                 size_t errstr_size) {
        pb_resp_t r;
        memset(msg, 0, sizeof(*msg));
        r = unframe(sd, data, len, msg, errstr, errstr_size);
        if (r != PB_OK)
                return r;
        return pb_codec_check_envelope(
            sd->codec, msg->writer,
            msg->reader == msg->writer ? NULL : msg->reader, msg->frame.body,
            msg->frame.body_len, meta, errstr, errstr_size);
}

pb_resp_t pb_serde_decode(pb_serde_t *sd, const uint8_t *data, size_t len,
                          const pb_schema_t **type_out, pb_buf_t *out,
                          pb_event_meta_t *meta, char *errstr,
                          size_t errstr_size) {
        pb_serde_msg_t msg;
        pb_resp_t r;
        if (!out)
                return PB_ERR_ARG;
        r = pb_serde_read(sd, data, len, &msg, out, meta, errstr, errstr_size);
        if (type_out && msg.reader)
                *type_out = msg.reader;
        return r;
}

pb_resp_t pb_serde_check(pb_serde_t *sd, const uint8_t *data, size_t len,
                         const pb_schema_t **type_out,
                         const pb_schema_t **writer_out, size_t *body_off,
                         pb_event_meta_t *meta, char *errstr,
                         size_t errstr_size) {
        pb_serde_msg_t msg;
        pb_resp_t r =
            pb_serde_read(sd, data, len, &msg, NULL, meta, errstr, errstr_size);
        if (msg.writer) {
                if (type_out)
                        *type_out = msg.reader;
                if (writer_out)
                        *writer_out = msg.writer;
                if (body_off)
                        *body_off = msg.body_off;
        }
        return r;
}
