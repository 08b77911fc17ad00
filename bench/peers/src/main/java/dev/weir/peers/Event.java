package dev.weir.peers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * One record of weir-loadgen's topic, {"user_id":"u42","ts":1700000000123,"amount":12.5,...}:
 * the entity key, the event time in ms and the summed field. A Flink POJO (public fields, a
 * no-argument constructor).
 */
public final class Event {
  private static final ObjectMapper JSON = new ObjectMapper();

  public String key;
  public long ts;
  public double amount;

  public Event() {}

  static Event parse(byte[] json) throws IOException {
    JsonNode node = JSON.readTree(json);
    Event e = new Event();
    e.key = node.get("user_id").asText();
    e.ts = node.get("ts").asLong();
    JsonNode amount = node.get("amount");
    e.amount = amount == null ? 0 : amount.asDouble();
    return e;
  }
}
