// weir_kafka_consume_bench: the raw librdkafka consume rate of a topic, the
// baseline of the end-to-end benchmark (scripts/bench-cluster.sh). It
// assign()s every partition from the beginning, with the consumer settings
// the worker uses, and reads up to each partition's end offset as it was at
// start, doing nothing with the records but counting their bytes.
//
// Prints: `raw consume: N records, B bytes in S s = R records/s`.
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
  CLI::App app{"weir_kafka_consume_bench: raw librdkafka consume rate of a whole topic"};
  std::string brokers = "127.0.0.1:9092";
  std::string topic;
  app.add_option("--brokers", brokers, "Bootstrap servers")->capture_default_str();
  app.add_option("--topic", topic, "Topic to read")->required();
  CLI11_PARSE(app, argc, argv);

  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", brokers},          {"group.id", "weir-bench"},
      {"enable.auto.commit", "false"},         {"fetch.wait.max.ms", "10"},
      {"queued.max.messages.kbytes", "16384"}, {"enable.auto.offset.store", "false"},
  };
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
      std::cerr << name << ": " << err << "\n";
      return 2;
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    std::cerr << "cannot create a consumer: " << err << "\n";
    return 1;
  }
  RdKafka::Metadata* raw = nullptr;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  if (consumer->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    std::cerr << "cannot read the metadata of " << topic << "\n";
    return 1;
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (metadata->topics()->empty() || metadata->topics()->at(0)->partitions()->empty()) {
    std::cerr << "topic " << topic << " has no partitions\n";
    return 1;
  }
  const int partitions = static_cast<int>(metadata->topics()->at(0)->partitions()->size());
  std::vector<int64_t> end(static_cast<size_t>(partitions));
  int64_t total = 0;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (consumer->query_watermark_offsets(topic, p, &low, &high, 10000) != RdKafka::ERR_NO_ERROR) {
      std::cerr << "cannot read the offsets of partition " << p << "\n";
      return 1;
    }
    end[static_cast<size_t>(p)] = high;
    total += high - low;
    if (high > low) assignment.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  if (consumer->assign(assignment) != RdKafka::ERR_NO_ERROR) {
    std::cerr << "assign failed\n";
    return 1;
  }
  RdKafka::TopicPartition::destroy(assignment);

  int64_t records = 0, bytes = 0;
  int done_partitions = 0;
  std::vector<bool> done(static_cast<size_t>(partitions));
  for (int p = 0; p < partitions; ++p) {
    if (end[static_cast<size_t>(p)] == 0) {
      done[static_cast<size_t>(p)] = true;
      ++done_partitions;
    }
  }
  const auto started = std::chrono::steady_clock::now();
  auto last_record = started;
  while (done_partitions < partitions) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (m->err() == RdKafka::ERR__TIMED_OUT) {
      if (std::chrono::steady_clock::now() - last_record > std::chrono::seconds(30)) {
        std::cerr << "no record for 30 s; read " << records << " of " << total << "\n";
        return 1;
      }
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    last_record = std::chrono::steady_clock::now();
    ++records;
    bytes += static_cast<int64_t>(m->len());
    const auto p = static_cast<size_t>(m->partition());
    if (!done[p] && m->offset() + 1 >= end[p]) {
      done[p] = true;
      ++done_partitions;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "raw consume: " << records << " records, " << bytes << " bytes in " << seconds
            << " s = " << static_cast<int64_t>(static_cast<double>(records) / seconds) << " records/s" << std::endl;
  consumer->close();
  return 0;
}
