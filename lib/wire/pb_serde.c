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
        size_t i;
        memset(f, 0, sizeof(*f));
        if (!data || len == 0) {
                snprintf(errstr, errstr_size, "empty message");
                return PB_ERR_TRUNCATED;
        }
        if (data[0] == 0xC3) {
                if (len < PB_SOE_HEADER_LEN) {
                        snprintf(errstr, errstr_size,
                                 "single-object frame truncated: %zu of %d "
                                 "header bytes",
                                 len, PB_SOE_HEADER_LEN);
                        return PB_ERR_TRUNCATED;
                }
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
                f->body = data + PB_SOE_HEADER_LEN;
                f->body_len = len - PB_SOE_HEADER_LEN;
                return PB_OK;
        }
        if (data[0] == 0x00) {
                if (len < PB_CONFLUENT_HEADER_LEN) {
                        snprintf(errstr, errstr_size,
                                 "Confluent frame truncated: %zu of %d "
                                 "header bytes",
                                 len, PB_CONFLUENT_HEADER_LEN);
                        return PB_ERR_TRUNCATED;
                }
                f->framing = PB_FRAMING_CONFLUENT;
                f->schema_id = (uint32_t)data[1] << 24 |
                               (uint32_t)data[2] << 16 |
                               (uint32_t)data[3] << 8 | (uint32_t)data[4];
                f->body = data + PB_CONFLUENT_HEADER_LEN;
                f->body_len = len - PB_CONFLUENT_HEADER_LEN;
                return PB_OK;
        }
        snprintf(errstr, errstr_size,
                 "unknown frame magic %02X (expected C3 01 for single-object "
                 "encoding or 00 for the Confluent wire format)",
                 data[0]);
        return PB_ERR_INVALID;
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
};

pb_serde_t *pb_serde_new(const pb_schemas_t *catalog, pb_registry_t *registry,
                         char *errstr, size_t errstr_size) {
        pb_serde_t *sd;
        if (!catalog) {
                snprintf(errstr, errstr_size, "no schema catalog");
                return NULL;
        }
        sd = calloc(1, sizeof(*sd));
        if (!sd || !(sd->codec = pb_codec_new())) {
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
        free(sd);
}

pb_codec_t *pb_serde_codec(pb_serde_t *sd) {
        return sd ? sd->codec : NULL;
}

pb_resp_t pb_serde_encode(pb_serde_t *sd, const pb_schema_t *s,
                          const char *topic, const char *json, size_t len,
                          const pb_encode_opts_t *opts, pb_buf_t *out,
                          pb_event_meta_t *meta, pb_errors_t *errs) {
        size_t start = out->len;
        pb_resp_t r;
        /* The header goes first and the codec appends the body; on any
         * failure the buffer is cut back to where it was. */
        if (sd->registry) {
                char subject[512], why[PB_ERRMSG_MAX];
                uint32_t id = 0;
                snprintf(subject, sizeof(subject), "%s-value",
                         topic ? topic : pb_schema_type(s));
                r = pb_registry_register(sd->registry, subject, s, &id, why,
                                         sizeof(why));
                if (r != PB_OK) {
                        pb_errors_add(errs, "", "schema registry: %s", why);
                        return r;
                }
                r = pb_frame_write_confluent(out, id);
        } else {
                r = pb_frame_write_soe(out, pb_schema_fingerprint(s));
        }
        if (r != PB_OK) {
                pb_errors_add(errs, "", "%s", pb_err2str(r));
                return r;
        }
        r = pb_codec_json_to_avro(sd->codec, s, json, len, opts, out, meta,
                                  errs);
        if (r != PB_OK) {
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
        }
        return r;
}

/* Frame, writer (catalog or registry) and reader of a framed message. */
static pb_resp_t pb_serde_schemas(pb_serde_t *sd, const uint8_t *data,
                                  size_t len, pb_frame_t *f,
                                  const pb_schema_t **writer_out,
                                  const pb_schema_t **reader_out, char *errstr,
                                  size_t errstr_size) {
        const pb_schema_t *writer = NULL, *reader;
        pb_resp_t r = pb_frame_parse(data, len, f, errstr, errstr_size);
        if (r != PB_OK)
                return r;
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
        reader = pb_schemas_find(sd->catalog, pb_schema_type(writer));
        if (!reader)
                reader = writer;
        *writer_out = writer;
        *reader_out = reader;
        return PB_OK;
}

pb_resp_t pb_serde_decode(pb_serde_t *sd, const uint8_t *data, size_t len,
                          const pb_schema_t **type_out, pb_buf_t *out,
                          pb_event_meta_t *meta, char *errstr,
                          size_t errstr_size) {
        const pb_schema_t *writer, *reader;
        pb_frame_t f;
        pb_resp_t r = pb_serde_schemas(sd, data, len, &f, &writer, &reader,
                                       errstr, errstr_size);
        if (r != PB_OK)
                return r;
        if (type_out)
                *type_out = reader;
        return pb_codec_avro_to_json(
            sd->codec, writer, reader == writer ? NULL : reader, f.body,
            f.body_len, out, meta, errstr, errstr_size);
}

pb_resp_t pb_serde_check(pb_serde_t *sd, const uint8_t *data, size_t len,
                         const pb_schema_t **type_out,
                         const pb_schema_t **writer_out, size_t *body_off,
                         pb_event_meta_t *meta, char *errstr,
                         size_t errstr_size) {
        const pb_schema_t *writer, *reader;
        pb_frame_t f;
        pb_resp_t r = pb_serde_schemas(sd, data, len, &f, &writer, &reader,
                                       errstr, errstr_size);
        if (r != PB_OK)
                return r;
        if (type_out)
                *type_out = reader;
        if (writer_out)
                *writer_out = writer;
        if (body_off)
                *body_off = (size_t)(f.body - data);
        return pb_codec_check(sd->codec, writer,
                              reader == writer ? NULL : reader, f.body,
                              f.body_len, meta, errstr, errstr_size);
}
