import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.SchemaStore;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads partnerbus topics as generic Avro records, in both framings.
 * Usage: ReadTopic BROKERS TOPIC[,TOPIC...] SCHEMA_DIR [REGISTRY_URL [MAX]]
 */
public class ReadTopic {
    static final GenericData MODEL = new GenericData();
    static {
        // decimals as BigDecimal, dates as LocalDate, instants as Instant
        MODEL.addLogicalTypeConversion(new Conversions.DecimalConversion());
        MODEL.addLogicalTypeConversion(new TimeConversions.DateConversion());
        MODEL.addLogicalTypeConversion(new TimeConversions.TimestampMillisConversion());
    }

    // Single-object encoding (C3 01 + fingerprint): the schema store knows
    // every schema in schemas/, one decoder per type reads into that type's
    // current schema (older writer schemas are resolved to it).
    static final SchemaStore.Cache STORE = new SchemaStore.Cache();
    static final Map<String, Schema> BY_TYPE = new HashMap<>();
    static final Map<String, BinaryMessageDecoder<GenericRecord>> DECODERS = new HashMap<>();

    // Confluent wire format (00 + 4-byte id): writer schemas by registry id.
    static final Map<Integer, Schema> BY_ID = new HashMap<>();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static String registry;

    static void loadSchemas(Path dir) throws Exception {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.avsc")) {
            for (Path f : files) {
                // a parser per file: the files share names such as Organisation
                Schema s = new Schema.Parser().parse(f.toFile());
                String type = s.getProp("partnerbus.type");
                STORE.addSchema(s);
                BY_TYPE.put(type, s);
                DECODERS.put(type, new BinaryMessageDecoder<>(MODEL, s, STORE));
            }
        }
    }

    static Schema registrySchema(int id) throws Exception {
        Schema s = BY_ID.get(id);
        if (s == null) {
            if (registry == null)
                throw new IllegalStateException("schema id " + id + " but no registry URL given");
            HttpRequest req = HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id)).build();
            HttpResponse<String> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200)
                throw new IllegalStateException("registry: HTTP " + resp.statusCode() + " for id " + id);
            String json = new ObjectMapper().readTree(resp.body()).get("schema").asText();
            s = new Schema.Parser().parse(json);
            BY_ID.put(id, s);
        }
        return s;
    }

    /** The event in a message; ceType (header ce_type) names its type. */
    static GenericRecord decode(byte[] value, String ceType) throws Exception {
        Schema reader = BY_TYPE.get(ceType);
        if (reader == null)
            throw new IllegalStateException("unknown event type " + ceType);
        if (value.length >= 10 && (value[0] & 0xff) == 0xC3 && value[1] == 0x01)
            return DECODERS.get(ceType).decode(value);
        if (value.length >= 5 && value[0] == 0x00) {
            Schema writer = registrySchema(ByteBuffer.wrap(value, 1, 4).getInt());
            GenericDatumReader<GenericRecord> r = new GenericDatumReader<>(writer, reader, MODEL);
            return r.read(null, DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null));
        }
        throw new IllegalStateException("unknown framing");
    }

    static String header(ConsumerRecord<?, ?> rec, String name) {
        Header h = rec.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: ReadTopic BROKERS TOPIC[,TOPIC...] SCHEMA_DIR [REGISTRY_URL [MAX]]");
            System.exit(2);
        }
        loadSchemas(Path.of(args[2]));
        registry = args.length > 3 && !args[3].isEmpty() ? args[3] : null;
        long max = args.length > 4 ? Long.parseLong(args[4]) : Long.MAX_VALUE;

        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, System.getenv().getOrDefault("GROUP", "my-agency"));
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        long seen = 0;
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(args[1].split(",")));
            while (seen < max) {
                for (ConsumerRecord<String, byte[]> rec : consumer.poll(Duration.ofSeconds(1))) {
                    try {
                        GenericRecord event = decode(rec.value(), header(rec, "ce_type"));
                        System.out.println(rec.key() + "\t" + header(rec, "ce_id") + "\t" + event);
                    } catch (Exception e) {  // report, go on
                        System.err.printf("%s [%d] offset %d: %s%n", rec.topic(), rec.partition(),
                                          rec.offset(), e);
                    }
                    seen++;
                }
                consumer.commitSync();  // after printing: at least once
            }
        }
    }
}
