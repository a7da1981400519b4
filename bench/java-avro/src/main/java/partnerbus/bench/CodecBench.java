/*
 * The codec peer in Apache Avro for Java, doing what bench_codec times for
 * partnerbus, on the same events:
 *
 *   encode: JSON text -> Jackson tree -> GenericRecord (same logical-type
 *           conversions: RFC 3339 instants, dates, decimals, enums, unions)
 *           -> 10-byte single-object header + GenericDatumWriter with a
 *           reused BinaryEncoder
 *   decode: header check -> GenericDatumReader (reused record and
 *           BinaryDecoder) -> natural JSON text with a Jackson JsonGenerator
 *           (instants, dates and decimals as strings, as partnerbus writes
 *           them)
 *
 * Input: the valid examples of each type, turned into 1024 distinct events
 * exactly as bench_codec does (event_id and key varied), cycled until N.
 * Before the measured rounds the types run in turn, in both directions,
 * for WARMUP seconds of CPU each, then one unmeasured round, so the JIT
 * has compiled the paths. Time is the process's
 * CPU time (garbage collection and JIT threads included; bench_codec's
 * thread is the whole of its process). Prints one line per measurement:
 *   raw ROUND TYPE SIDE EVENTS_PER_S
 * Usage: CodecBench SCHEMAS_DIR N ROUNDS [TYPE] (WARMUP from -Dwarmup, s).
 */
package partnerbus.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

public final class CodecBench {
    static final int RING = 1024;
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonFactory JSON = new JsonFactory();
    static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /* CPU time of the whole process: the garbage collector's and the JIT's
     * threads are part of the cost of this path */
    static double cpu() {
        return OS.getProcessCpuTime() / 1e9;
    }

    /* ---- JSON -> GenericRecord ---- */

    static Object fill(Schema s, JsonNode j) {
        LogicalType lt = s.getLogicalType();
        switch (s.getType()) {
            case NULL:
                return null;
            case BOOLEAN:
                return j.booleanValue();
            case INT:
                if (lt instanceof LogicalTypes.Date)
                    return (int) LocalDate.parse(j.textValue()).toEpochDay();
                return j.intValue();
            case LONG:
                if (lt instanceof LogicalTypes.TimestampMillis)
                    return OffsetDateTime.parse(j.textValue()).toInstant().toEpochMilli();
                if (lt instanceof LogicalTypes.TimestampMicros) {
                    Instant t = OffsetDateTime.parse(j.textValue()).toInstant();
                    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
                }
                return j.longValue();
            case FLOAT:
                return j.floatValue();
            case DOUBLE:
                return j.doubleValue();
            case STRING:
                if (!j.isTextual())
                    throw new IllegalArgumentException("not a string");
                return j.textValue();
            case BYTES:
                if (lt instanceof LogicalTypes.Decimal)
                    return ByteBuffer.wrap(decimal((LogicalTypes.Decimal) lt, j.textValue()));
                return ByteBuffer.wrap(java.util.Base64.getDecoder().decode(j.textValue()));
            case FIXED: {
                byte[] b = lt instanceof LogicalTypes.Decimal
                        ? decimal((LogicalTypes.Decimal) lt, j.textValue())
                        : java.util.Base64.getDecoder().decode(j.textValue());
                byte[] f = new byte[s.getFixedSize()];
                byte pad = (b.length > 0 && b[0] < 0) ? (byte) 0xff : 0;
                int off = f.length - b.length;
                Arrays.fill(f, 0, off, pad);
                System.arraycopy(b, 0, f, off, b.length);
                return new GenericData.Fixed(s, f);
            }
            case ENUM:
                if (!s.hasEnumSymbol(j.textValue()))
                    throw new IllegalArgumentException("no such symbol " + j.textValue());
                return new GenericData.EnumSymbol(s, j.textValue());
            case RECORD: {
                GenericData.Record r = new GenericData.Record(s);
                for (Schema.Field f : s.getFields()) {
                    JsonNode m = j.get(f.name());
                    if (m == null) {
                        if (f.hasDefaultValue())
                            r.put(f.pos(), GenericData.get().getDefaultValue(f));
                        continue;
                    }
                    r.put(f.pos(), fill(f.schema(), m));
                }
                return r;
            }
            case ARRAY: {
                List<Object> a = new GenericData.Array<>(j.size(), s);
                for (JsonNode e : j)
                    a.add(fill(s.getElementType(), e));
                return a;
            }
            case MAP: {
                Map<String, Object> m = new HashMap<>();
                Iterator<Map.Entry<String, JsonNode>> it = j.fields();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    m.put(e.getKey(), fill(s.getValueType(), e.getValue()));
                }
                return m;
            }
            case UNION: {
                if (j.isNull())
                    return null;
                for (Schema b : s.getTypes())
                    if (b.getType() != Schema.Type.NULL)
                        return fill(b, j);
                throw new IllegalArgumentException("no branch");
            }
        }
        throw new IllegalArgumentException("type " + s.getType());
    }

    static byte[] decimal(LogicalTypes.Decimal d, String text) {
        BigDecimal v = new BigDecimal(text).setScale(d.getScale(), RoundingMode.UNNECESSARY);
        if (v.precision() > d.getPrecision())
            throw new IllegalArgumentException("precision");
        return v.unscaledValue().toByteArray();
    }

    /* ---- GenericRecord -> natural JSON ---- */

    /* The bytes of a bytes or fixed value: a decimal as its plain number
     * string, anything else in base64. */
    static void writeBytes(JsonGenerator g, LogicalType lt, byte[] a) throws IOException {
        if (lt instanceof LogicalTypes.Decimal)
            g.writeString(new BigDecimal(new BigInteger(a),
                    ((LogicalTypes.Decimal) lt).getScale()).toPlainString());
        else
            g.writeBinary(a);
    }

    static void write(JsonGenerator g, Schema s, Object v) throws IOException {
        LogicalType lt = s.getLogicalType();
        switch (s.getType()) {
            case NULL:
                g.writeNull();
                return;
            case BOOLEAN:
                g.writeBoolean((Boolean) v);
                return;
            case INT:
                if (lt instanceof LogicalTypes.Date)
                    g.writeString(LocalDate.ofEpochDay((Integer) v).toString());
                else
                    g.writeNumber((Integer) v);
                return;
            case LONG:
                if (lt instanceof LogicalTypes.TimestampMillis)
                    g.writeString(Instant.ofEpochMilli((Long) v).toString());
                else if (lt instanceof LogicalTypes.TimestampMicros) {
                    long us = (Long) v;
                    g.writeString(Instant.ofEpochSecond(Math.floorDiv(us, 1_000_000L),
                            Math.floorMod(us, 1_000_000L) * 1000).toString());
                } else
                    g.writeNumber((Long) v);
                return;
            case FLOAT:
                g.writeNumber((Float) v);
                return;
            case DOUBLE:
                g.writeNumber((Double) v);
                return;
            case STRING:
            case ENUM:
                g.writeString(v.toString());
                return;
            case BYTES: {
                ByteBuffer b = (ByteBuffer) v;
                byte[] a = new byte[b.remaining()];
                b.duplicate().get(a);
                writeBytes(g, lt, a);
                return;
            }
            case FIXED:
                writeBytes(g, lt, ((GenericFixed) v).bytes());
                return;
            case RECORD: {
                GenericRecord r = (GenericRecord) v;
                g.writeStartObject();
                for (Schema.Field f : s.getFields()) {
                    g.writeFieldName(f.name());
                    write(g, f.schema(), r.get(f.pos()));
                }
                g.writeEndObject();
                return;
            }
            case ARRAY:
                g.writeStartArray();
                for (Object e : (List<?>) v)
                    write(g, s.getElementType(), e);
                g.writeEndArray();
                return;
            case MAP:
                g.writeStartObject();
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    g.writeFieldName(e.getKey().toString());
                    write(g, s.getValueType(), e.getValue());
                }
                g.writeEndObject();
                return;
            case UNION: {
                int b = GenericData.get().resolveUnion(s, v);
                write(g, s.getTypes().get(b), v);
                return;
            }
        }
        throw new IllegalArgumentException("type " + s.getType());
    }

    /* ---- one event type ---- */

    static final class Type {
        String name;
        Schema schema;
        byte[] header = new byte[10];
        byte[][] events = new byte[RING][];
        byte[][] encoded = new byte[RING][];
        GenericDatumWriter<Object> writer;
        GenericDatumReader<Object> reader;
        BinaryEncoder enc;
        BinaryDecoder dec;
        Object reuse;
        ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 16);
        ByteArrayOutputStream js = new ByteArrayOutputStream(1 << 16);
        long sink;

        void encodeOne(byte[] text) throws IOException {
            JsonNode j = MAPPER.readTree(text);
            Object rec = fill(schema, j);
            out.reset();
            out.write(header);
            enc = EncoderFactory.get().directBinaryEncoder(out, enc);
            writer.write(rec, enc);
            enc.flush();
            sink += out.size();
        }

        void decodeOne(byte[] b) throws IOException {
            for (int i = 0; i < 10; i++)
                if (b[i] != header[i])
                    throw new IOException("header");
            dec = DecoderFactory.get().binaryDecoder(b, 10, b.length - 10, dec);
            reuse = reader.read(reuse, dec);
            js.reset();
            try (JsonGenerator g = JSON.createGenerator(js)) {
                write(g, schema, reuse);
            }
            sink += js.size();
        }
    }

    static Type load(File avsc, File examples) throws IOException {
        Type t = new Type();
        t.schema = new Schema.Parser().parse(avsc);
        t.name = t.schema.getProp("partnerbus.type");
        String key = t.schema.getProp("partnerbus.key");
        long fp = SchemaNormalization.parsingFingerprint64(t.schema);
        t.header[0] = (byte) 0xc3;
        t.header[1] = 0x01;
        for (int b = 0; b < 8; b++)
            t.header[2 + b] = (byte) (fp >>> (8 * b));
        File[] files = new File(examples, t.name).listFiles((d, n) -> n.endsWith(".json"));
        if (files == null || files.length == 0)
            throw new IOException("no examples for " + t.name);
        Arrays.sort(files);
        List<JsonNode> tmpl = new ArrayList<>();
        for (File f : files)
            tmpl.add(MAPPER.readTree(Files.readAllBytes(f.toPath())));
        for (int k = 0; k < RING; k++) {
            ObjectNode j = (ObjectNode) tmpl.get(k % tmpl.size()).deepCopy();
            j.put("event_id", String.format("3f1c9a52-6b1e-4c07-9d2a-%012x", (long) k * 7919));
            if (key != null) {
                JsonNode kv = j.get(key);
                j.put(key, (kv != null && kv.isTextual() ? kv.textValue() : "k") + "-" + k);
            }
            t.events[k] = MAPPER.writeValueAsBytes(j);
        }
        t.writer = new GenericDatumWriter<>(t.schema);
        t.reader = new GenericDatumReader<>(t.schema);
        for (int k = 0; k < RING; k++) {
            t.encodeOne(t.events[k]);
            t.encoded[k] = t.out.toByteArray();
        }
        return t;
    }

    static double encode(Type t, long n) throws IOException {
        double t0 = cpu();
        for (long i = 0; i < n; i++)
            t.encodeOne(t.events[(int) (i % RING)]);
        return cpu() - t0;
    }

    static double decode(Type t, long n) throws IOException {
        double t0 = cpu();
        for (long i = 0; i < n; i++)
            t.decodeOne(t.encoded[(int) (i % RING)]);
        return cpu() - t0;
    }

    public static void main(String[] args) throws IOException {
        File dir = new File(args[0]);
        long n = Long.parseLong(args[1]);
        int rounds = Integer.parseInt(args[2]);
        String only = args.length > 3 ? args[3] : null;
        double warmup = Double.parseDouble(System.getProperty("warmup", "3"));
        File[] avscs = dir.listFiles((d, f) -> f.endsWith(".avsc"));
        Arrays.sort(avscs);
        List<Type> types = new ArrayList<>();
        for (File f : avscs) {
            Type t = load(f, new File(dir, "examples/valid"));
            if (only == null || only.equals(t.name))
                types.add(t);
        }
        /* warm-up: every type in turn, so the JIT compiles the shared code
         * with the profile of all of them, until each had WARMUP seconds;
         * then one unmeasured round of the measured size, so compilations
         * still under way do not land in the first measured type */
        double spent = 0;
        while (spent < warmup * types.size())
            for (Type t : types)
                spent += encode(t, 20000) + decode(t, 20000);
        for (Type t : types)
            spent += encode(t, n) + decode(t, n);
        for (Type t : types) {
            long jb = 0;
            for (byte[] e : t.events)
                jb += e.length;
            System.out.printf("# java %s: avg JSON %d B, Avro %d B (with header)%n",
                    t.name, jb / RING, t.encoded[0].length);
        }
        System.out.printf("# java warm-up %.1f s CPU%n", spent);
        for (int r = 0; r < rounds; r++) {
            for (Type t : types) {
                double e = encode(t, n), d = decode(t, n);
                System.out.printf("raw %d %s java-encode %.0f%n", r, t.name, n / e);
                System.out.printf("raw %d %s java-decode %.0f%n", r, t.name, n / d);
            }
            System.out.flush();
        }
        long s = 0;
        for (Type t : types)
            s += t.sink;
        System.out.println("# java checksum " + s);
    }
}
