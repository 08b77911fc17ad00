// KafkaDiscovery: a topic's partition count from a Kafka metadata request
// (librdkafka), the coordinator's PartitionDiscovery in production.
//
// Stateless: each call opens a short-lived client, asks for the metadata of
// every topic (so a missing topic is never auto-created by the request), and
// closes it. Thread-safe; a call blocks for up to the timeout.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>

#include <absl/base/thread_annotations.h>

#include "common/mutex.h"

#include "coordinator/coordinator.h"

namespace weir::coordinator {

class KafkaDiscovery final : public PartitionDiscovery {
 public:
  explicit KafkaDiscovery(std::chrono::milliseconds timeout = std::chrono::seconds(2)) : timeout_(timeout) {}

  // NotFound when the brokers answer without the topic; Unavailable when no
  // broker answers within the timeout; InvalidArgument for a client
  // configuration librdkafka refuses.
  // InvalidArgument too for a reference in `properties` that cannot be resolved.
  // The dead-letter topic is created once per brokers and topic name, if
  // missing; a failure to create it is logged and is not the job's.
  Result<TopicFound> FindTopic(const std::string& brokers, const std::string& topic,
                               const google::protobuf::Map<std::string, std::string>& properties,
                               const std::string& dead_letter_topic) override;
  // Creates the topic when missing (CreateTopics); an error says why it
  // could not be and what to do.
  Result<int32_t> EnsureRepartitionTopic(const std::string& brokers, const std::string& topic, int32_t partitions,
                                         int32_t replication,
                                         const google::protobuf::Map<std::string, std::string>& properties) override;

  // DeleteRecords through librdkafka's admin API; an error names the
  // partition and Kafka's reason (weir-devkafka's mock cluster answers none).
  Status DeleteRecords(const std::string& brokers, const std::string& topic,
                       const google::protobuf::Map<std::string, std::string>& properties,
                       const std::map<int32_t, int64_t>& before) override;

 private:
  // FindTopic; with create_partitions > 0, creates `topic` when missing.
  Result<TopicFound> Lookup(const std::string& brokers, const std::string& topic,
                            const google::protobuf::Map<std::string, std::string>& properties,
                            const std::string& dead_letter_topic, int32_t create_partitions,
                            int32_t create_replication);
  // Whether (brokers, topic) was not tried yet; marks it tried.
  bool FirstAttempt(const std::string& brokers, const std::string& topic);

  const std::chrono::milliseconds timeout_;
  weir::Mutex mu_;
  std::set<std::string> created_ ABSL_GUARDED_BY(mu_);  // brokers "\n" topic, creation tried
};

}  // namespace weir::coordinator
