/* Library: partnerbus_base (lib/base). */
/* partnerbus - texts for people in German, Ukrainian and English, kept
 * beside the schemas (schemas/labels/<lang>.json, format in
 * schemas/labels/README.md) and shared by the report and the console:
 * labels of enum symbols and record fields, help texts, report and UI
 * strings, and the number, money and date conventions of each language.
 *
 * Lookups fall back to English, then to the raw symbol, field name or
 * message key, so a text missing in one language never leaves a hole.
 * Every returned string lives as long as the pb_labels_t. */
#ifndef PB_LABELS_H
#define PB_LABELS_H

#include <stdint.h>

#include "pb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pb_labels pb_labels_t;

/* Loads <dir>/<lang>.json and <dir>/en.json (the fallback). lang is a
 * two-letter code ("de", "uk", "en"). NULL with errstr when a file is
 * missing, larger than 4 MiB, not JSON or lacks the "format" object. */
pb_labels_t *pb_labels_load(const char *dir, const char *lang, char *errstr,
                            size_t errstr_size);
void pb_labels_destroy(pb_labels_t *l);

/* The language loaded ("de"). */
const char *pb_labels_lang(const pb_labels_t *l);

/* Label of an enum symbol: enum_name is the enum's full name
 * ("de.nrw.partnerbus.ItemCategory"). Falls back to English, then to
 * symbol. */
const char *pb_labels_enum(const pb_labels_t *l, const char *enum_name,
                           const char *symbol);
/* Label and help of a record field (record's full name); help may be NULL
 * when no language has one. The label falls back to the field name. */
const char *pb_labels_field(const pb_labels_t *l, const char *record,
                            const char *field);
const char *pb_labels_help(const pb_labels_t *l, const char *record,
                           const char *field);
/* Label of a record (event type); falls back to the record's name. */
const char *pb_labels_record(const pb_labels_t *l, const char *record);
/* A report or UI string ("report.doc_title"); falls back to the key. */
const char *pb_labels_msg(const pb_labels_t *l, const char *key);

/* Appends the message key with {0}..{9} replaced by args[i] (missing
 * arguments stay as written). */
pb_resp_t pb_labels_msgf(const pb_labels_t *l, pb_buf_t *out, const char *key,
                         const char *const *args, size_t nargs);

/* Number and date conventions. Each writes NUL-terminated text into buf
 * and returns its length, or -1 when the input is malformed or buf is too
 * small. Grouping and separators follow the language:
 *   de "143.000,00"   uk "143 000,00" (U+00A0)   en "143,000.00". */
int pb_labels_number(const pb_labels_t *l, const char *decimal, char *buf,
                     size_t size);
/* decimal in the currency (ISO 4217 code):
 *   de "143.000,00 €"   uk "143 000,00 €"   en "€143,000.00"
 * (a non-breaking space where a space is shown). */
int pb_labels_money(const pb_labels_t *l, const char *decimal,
                    const char *currency, char *buf, size_t size);
/* "2023-02-28" -> de/uk "28.02.2023", en "28 Feb 2023". */
int pb_labels_date(const pb_labels_t *l, const char *iso_date, char *buf,
                   size_t size);
/* "2023-02" -> de "Feb. 2023", uk "лют. 2023", en "Feb 2023". */
int pb_labels_month(const pb_labels_t *l, const char *iso_month, char *buf,
                    size_t size);

#ifdef __cplusplus
}
#endif
#endif
