package dev.weir.peers;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * The Flink 2.x DataStream job: Weir's bench features (see {@link Features}) from the same Kafka
 * topic, in event time with bounded out-of-orderness (--delay-ms, Weir's
 * watermark.max_out_of_orderness) and allowed lateness (--lateness-ms), exactly-once checkpoints
 * on the heap (hashmap) or RocksDB backend.
 *
 * <pre>
 *   FlinkFeatures --bootstrap HOST:PORT --topic T [--features all|tumbling|sliding]
 *     [--delay-ms 2000] [--lateness-ms 0] [--backend hashmap|rocksdb] [--checkpoint-dir DIR]
 *     [--checkpoint-ms 10000] [--bounded true] [--expect N] [--rows FILE] [--view bench]
 *     [--remote HOST:PORT]   submit to a session cluster's REST endpoint (default: in-process)
 *     [--detached true]      with --remote: print "peers: job ID" and return once submitted
 * </pre>
 *
 * The sink counts rows, prints the first one's time (see {@link Progress}) and, with --rows,
 * writes them as JSON lines in Weir's row format.
 */
public final class FlinkFeatures {
  private FlinkFeatures() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    Features features = new Features(args.get("features", "all"));
    long delayMs = args.getLong("delay-ms", 2000);
    long latenessMs = args.getLong("lateness-ms", 0);
    String view = args.get("view", "bench");
    String backend = args.get("backend", "hashmap");

    Map<String, String> settings = new HashMap<>();
    settings.put("state.backend.type", backend);
    settings.put("execution.checkpointing.interval", args.getLong("checkpoint-ms", 10000) + " ms");
    settings.put("execution.checkpointing.mode", "EXACTLY_ONCE");
    if (args.get("checkpoint-dir", null) != null) {
      settings.put("execution.checkpointing.dir", Paths.get(args.require("checkpoint-dir")).toUri().toString());
    }
    // RocksDB's tuning guide: incremental checkpoints.
    if (backend.equals("rocksdb")) settings.put("execution.checkpointing.incremental", "true");
    Configuration conf = Configuration.fromMap(settings);

    StreamExecutionEnvironment env;
    String remote = args.get("remote", null);
    if (remote != null) {
      int colon = remote.lastIndexOf(':');
      env = StreamExecutionEnvironment.createRemoteEnvironment(
          remote.substring(0, colon), Integer.parseInt(remote.substring(colon + 1)), conf);
    } else {
      env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    }
    env.setParallelism(1);

    KafkaSourceBuilder<Event> source = KafkaSource.<Event>builder()
        .setBootstrapServers(args.require("bootstrap"))
        .setTopics(args.require("topic"))
        .setGroupId(args.get("group", "weir-peers-flink"))
        .setStartingOffsets(OffsetsInitializer.earliest())
        .setDeserializer(KafkaRecordDeserializationSchema.valueOnly(new EventSchema()));
    if (Boolean.parseBoolean(args.get("bounded", "false"))) source.setBounded(OffsetsInitializer.latest());

    DataStream<Event> events = env.fromSource(source.build(),
            WatermarkStrategy.<Event>forBoundedOutOfOrderness(Duration.ofMillis(delayMs))
                .withTimestampAssigner((e, previous) -> e.ts),
            "kafka")
        .map(new CountEvents(args.getLong("expect", -1)))
        .name("count-events");
    KeyedStream<Event, String> byKey = events.keyBy(e -> e.key);
    Duration lateness = Duration.ofMillis(latenessMs);

    DataStream<Row> rows = null;
    if (features.tumbling) {
      rows = union(rows, byKey.window(TumblingEventTimeWindows.of(Features.TUMBLING))
          .allowedLateness(lateness)
          .aggregate(new CountSumAgg(), features.tumblingCount ? new CountSumRows(view, delayMs)
              : new OneRow(view, "amount_sum_1m", false, delayMs))
          .name("tumbling 1m"));
    }
    if (features.sliding) {
      rows = union(rows, byKey.window(SlidingEventTimeWindows.of(Features.SLIDING_SIZE, Features.SLIDING_SLIDE))
          .allowedLateness(lateness)
          .aggregate(new CountSumAgg(), new OneRow(view, "amount_sum_1h", false, delayMs))
          .name("sliding 1h/1m sum"));
    }
    if (features.session) {
      rows = union(rows, byKey.window(EventTimeSessionWindows.withGap(Features.SESSION_GAP))
          .allowedLateness(lateness)
          .aggregate(new CountSumAgg(), new OneRow(view, "session_count", true, delayMs))
          .name("session 30s count"));
    }
    rows.sinkTo(new RowSink(args.get("rows", null))).name("rows");
    String name = "weir-peers " + args.get("features", "all") + " " + backend;
    if (Boolean.parseBoolean(args.get("detached", "false"))) {
      // Submitted to a session cluster: print the job id and leave it running there.
      Progress.line("job " + env.executeAsync(name).getJobID());
      System.exit(0);
    }
    env.execute(name);
  }

  private static DataStream<Row> union(DataStream<Row> a, DataStream<Row> b) {
    return a == null ? b : a.union(b);
  }

  /** Kafka record values to events. */
  static final class EventSchema implements DeserializationSchema<Event> {
    @Override
    public Event deserialize(byte[] message) throws IOException {
      return Event.parse(message);
    }

    @Override
    public boolean isEndOfStream(Event next) {
      return false;
    }

    @Override
    public TypeInformation<Event> getProducedType() {
      return TypeInformation.of(Event.class);
    }
  }

  /** Passes events through, reporting the first and the EXPECTED-th (see {@link Progress}). */
  static final class CountEvents implements MapFunction<Event, Event> {
    private final long expected;
    private transient Progress progress;

    CountEvents(long expected) {
      this.expected = expected;
    }

    @Override
    public Event map(Event e) {
      if (progress == null) progress = new Progress(expected);
      progress.event();
      return e;
    }
  }

  /** Count and sum of amount, incrementally (one accumulator per key and window). */
  public static final class CountSum {
    public long count;
    public double sum;

    public CountSum() {}
  }

  static final class CountSumAgg implements AggregateFunction<Event, CountSum, CountSum> {
    @Override
    public CountSum createAccumulator() {
      return new CountSum();
    }

    @Override
    public CountSum add(Event e, CountSum acc) {
      acc.count++;
      acc.sum += e.amount;
      return acc;
    }

    @Override
    public CountSum getResult(CountSum acc) {
      return acc;
    }

    @Override
    public CountSum merge(CountSum a, CountSum b) {
      a.count += b.count;
      a.sum += b.sum;
      return a;
    }
  }

  /** The tumbling window's two rows: amount_count_1m and amount_sum_1m. */
  static final class CountSumRows extends ProcessWindowFunction<CountSum, Row, String, TimeWindow> {
    private final String view;
    private final long delayMs;

    CountSumRows(String view, long delayMs) {
      this.view = view;
      this.delayMs = delayMs;
    }

    @Override
    public void process(String key, Context ctx, Iterable<CountSum> in, Collector<Row> out) {
      CountSum cs = in.iterator().next();
      long availableAt = ctx.currentWatermark() + 1 + delayMs;
      TimeWindow w = ctx.window();
      out.collect(new Row(view, key, "amount_count_1m", w.getStart(), w.getEnd(), cs.count, true, availableAt));
      out.collect(new Row(view, key, "amount_sum_1m", w.getStart(), w.getEnd(), cs.sum, false, availableAt));
    }
  }

  /** One row per window: the count (integral) or the sum. */
  static final class OneRow extends ProcessWindowFunction<CountSum, Row, String, TimeWindow> {
    private final String view;
    private final String feature;
    private final boolean count;
    private final long delayMs;

    OneRow(String view, String feature, boolean count, long delayMs) {
      this.view = view;
      this.feature = feature;
      this.count = count;
      this.delayMs = delayMs;
    }

    @Override
    public void process(String key, Context ctx, Iterable<CountSum> in, Collector<Row> out) {
      CountSum cs = in.iterator().next();
      TimeWindow w = ctx.window();
      out.collect(new Row(view, key, feature, w.getStart(), w.getEnd(), count ? cs.count : cs.sum, count,
          ctx.currentWatermark() + 1 + delayMs));
    }
  }

  /** Counts rows; reports the first; with a path, appends them to it as JSON lines. */
  static final class RowSink implements Sink<Row> {
    private final String path;

    RowSink(String path) {
      this.path = path;
    }

    @Override
    public SinkWriter<Row> createWriter(WriterInitContext context) throws IOException {
      return new Writer(path);
    }
  }

  static final class Writer implements SinkWriter<Row> {
    private final Progress progress = new Progress(-1);
    private final BufferedWriter out;
    private long rows;

    Writer(String path) throws IOException {
      out = path == null ? null : Files.newBufferedWriter(Paths.get(path), StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @Override
    public void write(Row row, Context context) throws IOException {
      progress.row();
      rows++;
      if (out != null) {
        out.write(row.toJson());
        out.write('\n');
      }
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
      if (out != null) out.flush();
    }

    @Override
    public void close() throws IOException {
      if (out != null) out.close();
      Progress.line("rows " + rows);
    }
  }
}
