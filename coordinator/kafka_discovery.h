// KafkaDiscovery: a topic's partition count from a Kafka metadata request
// (librdkafka), the coordinator's PartitionDiscovery in production.
//
// Stateless: each call opens a short-lived client, asks for the metadata of
// every topic (so a missing topic is never auto-created by the request), and
// closes it. Thread-safe; a call blocks for up to the timeout.
#pragma once

#include <chrono>

#include "coordinator/coordinator.h"

namespace weir::coordinator {

class KafkaDiscovery final : public PartitionDiscovery {
 public:
  explicit KafkaDiscovery(std::chrono::milliseconds timeout = std::chrono::seconds(2)) : timeout_(timeout) {}

  // NotFound when the brokers answer without the topic; Unavailable when no
  // broker answers within the timeout; InvalidArgument for a client
  // configuration librdkafka refuses.
  // InvalidArgument too for a reference in `properties` that cannot be resolved.
  Result<int32_t> PartitionCount(const std::string& brokers, const std::string& topic,
                                 const google::protobuf::Map<std::string, std::string>& properties) override;

 private:
  const std::chrono::milliseconds timeout_;
};

}  // namespace weir::coordinator
