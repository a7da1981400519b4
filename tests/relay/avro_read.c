/* avro_read: reads Avro container files with avro-c (the independent
 * reader) and prints, per record, "<event_id> <hex of the record
 * re-encoded by avro-c>". The relay tests compare that with the bodies of
 * the Kafka messages: equal bytes mean avro-c decoded exactly what was
 * published. Exit 1 on any read error other than the end of a file.
 *     cc -o avro_read avro_read.c $(pkg-config --cflags --libs avro-c) */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
        int i, rc, bad = 0;
        static char buf[1 << 20];
        for (i = 1; i < argc; i++) {
                avro_file_reader_t rd;
                avro_schema_t ws;
                avro_value_iface_t *iface;
                avro_value_t v, f;
                if (avro_file_reader(argv[i], &rd)) {
                        fprintf(stderr, "%s: %s\n", argv[i], avro_strerror());
                        return 1;
                }
                ws = avro_file_reader_get_writer_schema(rd);
                iface = avro_generic_class_from_schema(ws);
                avro_generic_value_new(iface, &v);
                while ((rc = avro_file_reader_read_value(rd, &v)) == 0) {
                        const char *id = "?";
                        size_t idl, n, k;
                        avro_writer_t w = avro_writer_memory(buf, sizeof(buf));
                        if (avro_value_get_by_name(&v, "event_id", &f, NULL) ||
                            avro_value_get_string(&f, &id, &idl))
                                id = "?";
                        if (avro_value_write(w, &v)) {
                                fprintf(stderr, "%s: re-encode: %s\n", argv[i],
                                        avro_strerror());
                                return 1;
                        }
                        n = (size_t)avro_writer_tell(w);
                        printf("%s ", id);
                        for (k = 0; k < n; k++)
                                printf("%02x", (unsigned char)buf[k]);
                        putchar('\n');
                        avro_writer_free(w);
                }
                if (rc != EOF) {
                        fprintf(stderr, "%s: read error: %s\n", argv[i],
                                avro_strerror());
                        bad = 1;
                }
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
                avro_schema_decref(ws);
                avro_file_reader_close(rd);
        }
        return bad;
}
