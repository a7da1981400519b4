package partnerbus.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;

/** One POST per record with a kept-alive HttpClient; see HttpSinkConnector. */
public class HttpSinkTask extends SinkTask {
  private HttpClient client;
  private URI url;
  private Duration timeout;
  private String contentType;

  @Override
  public void start(Map<String, String> props) {
    AbstractConfig c = new AbstractConfig(HttpSinkConnector.CONFIG, props);
    url = URI.create(c.getString("http.url"));
    timeout = Duration.ofMillis(c.getLong("http.timeout.ms"));
    contentType = c.getString("http.content.type");
    client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build();
  }

  private static byte[] bytes(Object v) {
    if (v == null) return new byte[0];
    if (v instanceof byte[]) return (byte[]) v;
    return v.toString().getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    for (SinkRecord r : records) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(url)
              .timeout(timeout)
              .header("Content-Type", contentType)
              .POST(HttpRequest.BodyPublishers.ofByteArray(bytes(r.value())));
      if (r.key() != null)
        b.header("ce-subject", new String(bytes(r.key()), StandardCharsets.UTF_8));
      HttpResponse<Void> resp;
      try {
        resp = client.send(b.build(), HttpResponse.BodyHandlers.discarding());
      } catch (IOException e) {
        throw new RetriableException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RetriableException(e);
      }
      if (resp.statusCode() / 100 != 2)
        throw new RetriableException("HTTP " + resp.statusCode() + " from " + url);
    }
  }

  @Override
  public void stop() {}

  @Override
  public String version() {
    return "1.0";
  }
}
