package dev.weir.peers;

/**
 * One feature row, written as a JSON line in Weir's row format (docs/semantics.md, "Feature
 * rows"). A count is written as an integer, a sum as a number. {@code availableAt} is what the
 * engine knows of the greatest event time when the row fires: the watermark plus the delay for
 * Flink, the stream time for Kafka Streams; it is not compared (it is per partition in Weir).
 */
public final class Row {
  public String view;
  public String key;
  public String feature;
  public long windowStart;
  public long windowEnd;
  public double value;
  public boolean integral;
  public long availableAt;

  public Row() {}

  Row(String view, String key, String feature, long windowStart, long windowEnd, double value, boolean integral,
      long availableAt) {
    this.view = view;
    this.key = key;
    this.feature = feature;
    this.windowStart = windowStart;
    this.windowEnd = windowEnd;
    this.value = value;
    this.integral = integral;
    this.availableAt = availableAt;
  }

  String toJson() {
    StringBuilder b = new StringBuilder(160);
    b.append("{\"view\":");
    quote(b, view);
    b.append(",\"key\":");
    quote(b, key);
    b.append(",\"feature\":");
    quote(b, feature);
    b.append(",\"window_start\":").append(windowStart);
    b.append(",\"window_end\":").append(windowEnd);
    b.append(",\"value\":");
    if (integral) {
      b.append((long) value);
    } else {
      b.append(value);
    }
    b.append(",\"revision\":0,\"available_at\":").append(availableAt).append('}');
    return b.toString();
  }

  private static void quote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    b.append('"');
  }
}
