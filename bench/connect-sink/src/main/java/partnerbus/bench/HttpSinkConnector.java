package partnerbus.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * A Kafka Connect sink that POSTs every record to one URL (the peer of
 * bench/webhook.sh). Settings:
 *
 * <ul>
 *   <li>http.url (required): where to POST
 *   <li>http.timeout.ms (default 10000): whole request
 *   <li>http.content.type (default application/octet-stream)
 * </ul>
 *
 * One request per record, in the order Connect hands them to the task (one
 * task per partition with tasks.max = partitions, so order per key holds);
 * a failed request (transport error or a status outside 2xx) makes the task
 * throw a RetriableException, so Connect hands the same records again.
 */
public class HttpSinkConnector extends SinkConnector {
  static final ConfigDef CONFIG =
      new ConfigDef()
          .define("http.url", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "where to POST")
          .define(
              "http.timeout.ms",
              ConfigDef.Type.LONG,
              10000L,
              ConfigDef.Importance.MEDIUM,
              "whole request timeout")
          .define(
              "http.content.type",
              ConfigDef.Type.STRING,
              "application/octet-stream",
              ConfigDef.Importance.LOW,
              "Content-Type of every request");

  private Map<String, String> props;

  @Override
  public void start(Map<String, String> props) {
    this.props = props;
  }

  @Override
  public Class<? extends Task> taskClass() {
    return HttpSinkTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    List<Map<String, String>> l = new ArrayList<>();
    for (int i = 0; i < maxTasks; i++) l.add(props);
    return l;
  }

  @Override
  public void stop() {}

  @Override
  public ConfigDef config() {
    return CONFIG;
  }

  @Override
  public String version() {
    return "1.0";
  }
}
