package dev.weir.peers;

import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Writes each partition of a topic, in offset order, to DIR/partition-P.jsonl (one record value
 * a line), up to the end offsets it finds when it starts: the input of `weirctl replay
 * --partition P` for the cross-check, which replays each partition on its own as a worker does.
 *
 * <pre>
 *   TopicDump --bootstrap HOST:PORT --topic T --dir DIR
 * </pre>
 */
public final class TopicDump {
  private TopicDump() {}

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv);
    String topic = args.require("topic");
    Path dir = Paths.get(args.require("dir"));
    Files.createDirectories(dir);
    Properties props = new Properties();
    props.put("bootstrap.servers", args.require("bootstrap"));
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    props.put("enable.auto.commit", "false");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo p : consumer.partitionsFor(topic)) partitions.add(new TopicPartition(topic, p.partition()));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      Map<TopicPartition, BufferedWriter> out = new HashMap<>();
      Map<TopicPartition, Long> left = new HashMap<>();
      for (TopicPartition tp : partitions) {
        out.put(tp, Files.newBufferedWriter(dir.resolve("partition-" + tp.partition() + ".jsonl"), StandardCharsets.UTF_8));
        long n = end.get(tp) - consumer.position(tp);
        if (n > 0) left.put(tp, n);
      }
      long total = 0;
      long deadline = System.currentTimeMillis() + 120_000;
      while (!left.isEmpty()) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("timed out reading " + topic);
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          TopicPartition tp = new TopicPartition(r.topic(), r.partition());
          Long n = left.get(tp);
          if (n == null || r.offset() >= end.get(tp)) continue;
          BufferedWriter w = out.get(tp);
          w.write(new String(r.value(), StandardCharsets.UTF_8));
          w.write('\n');
          total++;
          if (r.offset() + 1 >= end.get(tp)) left.remove(tp);
        }
      }
      for (BufferedWriter w : out.values()) w.close();
      System.out.println("peers: dumped " + total + " records of " + partitions.size() + " partitions");
    }
  }
}
