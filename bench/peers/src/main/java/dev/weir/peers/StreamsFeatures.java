package dev.weir.peers;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * The Kafka Streams application: Weir's bench features (see {@link Features}) from the same
 * topic, final results only (suppress untilWindowCloses), exactly_once_v2, one stream thread.
 *
 * <pre>
 *   StreamsFeatures --bootstrap HOST:PORT --topic T --output OUT --state-dir DIR
 *     [--app-id weir-peers] [--features all|tumbling|sliding] [--grace-ms 2000]
 *     [--expect N] [--view bench]
 * </pre>
 *
 * Kafka Streams has no watermark: a window closes when the task's stream time (the greatest
 * record timestamp seen in its partition) reaches its end plus the grace period, and a record for
 * a closed window is dropped. Weir fires a window when max event time − delay ≥ end and drops its
 * state (allowed lateness 0) at that point, so a grace of Weir's watermark delay plus its allowed
 * lateness closes the same windows at the same records. The input topic's records are keyed by the
 * entity key (weir-loadgen keys them by user_id), so no repartition topic is needed.
 */
public final class StreamsFeatures {
  private StreamsFeatures() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    Features features = new Features(args.get("features", "all"));
    Duration grace = Duration.ofMillis(args.getLong("grace-ms", 2000));
    String view = args.get("view", "bench");
    String output = args.require("output");

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, args.get("app-id", "weir-peers"));
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args.require("bootstrap"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.STATE_DIR_CONFIG, args.require("state-dir"));
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");

    Serde<Event> eventSerde = Serdes.serdeFrom((topic, e) -> {
      throw new UnsupportedOperationException("events are only read");
    }, (topic, bytes) -> {
      try {
        return Event.parse(bytes);
      } catch (java.io.IOException ex) {
        throw new org.apache.kafka.common.errors.SerializationException(ex);
      }
    });
    Serde<FlinkFeatures.CountSum> countSumSerde = Serdes.serdeFrom((topic, cs) -> {
      if (cs == null) return null;
      return ByteBuffer.allocate(16).putLong(cs.count).putDouble(cs.sum).array();
    }, (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer b = ByteBuffer.wrap(bytes);
      FlinkFeatures.CountSum cs = new FlinkFeatures.CountSum();
      cs.count = b.getLong();
      cs.sum = b.getDouble();
      return cs;
    });

    Progress in = new Progress(args.getLong("expect", -1));
    Progress out = new Progress(-1);
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, Event> events = builder.stream(args.require("topic"),
        Consumed.with(Serdes.String(), eventSerde)
            .withTimestampExtractor((record, partitionTime) -> ((Event) record.value()).ts));
    KGroupedStream<String, Double> byKey = events.peek((k, e) -> in.event())
        .mapValues(e -> e.amount)
        .groupByKey(Grouped.with(Serdes.String(), Serdes.Double()));
    List<KStream<String, String>> rows = new ArrayList<>();
    long graceMs = grace.toMillis();

    if (features.tumbling) {
      rows.add(byKey.windowedBy(TimeWindows.ofSizeAndGrace(Features.TUMBLING, grace))
          .aggregate(FlinkFeatures.CountSum::new, (k, amount, acc) -> {
            acc.count++;
            acc.sum += amount;
            return acc;
          }, Materialized.with(Serdes.String(), countSumSerde))
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream()
          .flatMap((w, cs) -> {
            long s = w.window().start();
            long e = w.window().end();
            KeyValue<String, String> sum =
                KeyValue.pair(w.key(), new Row(view, w.key(), "amount_sum_1m", s, e, cs.sum, false, e + graceMs).toJson());
            if (!features.tumblingCount) return List.of(sum);
            return List.of(KeyValue.pair(w.key(),
                new Row(view, w.key(), "amount_count_1m", s, e, cs.count, true, e + graceMs).toJson()), sum);
          }));
    }
    if (features.sliding) {
      rows.add(byKey.windowedBy(TimeWindows.ofSizeAndGrace(Features.SLIDING_SIZE, grace)
              .advanceBy(Features.SLIDING_SLIDE))
          .aggregate(() -> 0.0, (k, amount, acc) -> acc + amount, Materialized.with(Serdes.String(), Serdes.Double()))
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream()
          .map((w, sum) -> KeyValue.pair(w.key(), new Row(view, w.key(), "amount_sum_1h", w.window().start(),
              w.window().end(), sum, false, w.window().end() + graceMs).toJson())));
    }
    if (features.session) {
      long gap = Features.SESSION_GAP.toMillis();
      rows.add(byKey.windowedBy(SessionWindows.ofInactivityGapAndGrace(Features.SESSION_GAP, grace))
          .count(Materialized.with(Serdes.String(), Serdes.Long()))
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream()
          // Kafka Streams' session ends at its last event; Weir's (and Flink's) at last + gap.
          .filter((w, n) -> n != null)
          .map((w, n) -> KeyValue.pair(w.key(), new Row(view, w.key(), "session_count", w.window().start(),
              w.window().end() + gap, n, true, w.window().end() + gap + graceMs).toJson())));
    }
    KStream<String, String> all = rows.get(0);
    for (int i = 1; i < rows.size(); i++) all = all.merge(rows.get(i));
    all.peek((k, v) -> out.row()).to(output, Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(20));
      stopped.countDown();
    }));
    streams.setUncaughtExceptionHandler(e -> {
      Progress.line("error " + e);
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .SHUTDOWN_CLIENT;
    });
    streams.start();
    stopped.await();
  }
}
