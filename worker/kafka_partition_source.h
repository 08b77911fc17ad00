// KafkaPartitionSource: a PartitionSource over one librdkafka consumer for
// one job's topic. Partitions are assign()ed at explicit offsets; the
// consumer never subscribes, so no consumer-group join happens and offsets
// live in Weir's snapshots, not in the brokers.
//
// Problems: librdkafka retries a lost broker by itself and only reports the
// error (once, then suppressed while it repeats). The source remembers the
// last error and, from librdkafka's statistics (every second), whether each
// partition's leader broker is up; a partition whose leader is not up since
// an error has that error as its Problem(). A record, the partition's end
// reached, or its leader up again clears it.
//
// Lifecycle and thread: see PartitionSource. librdkafka's callbacks run
// inside Poll, on the owning thread.
#pragma once

#include <memory>
#include <string>

#include "worker/partition_source.h"

namespace weir::worker {

struct KafkaSourceOptions {
  std::string client_id = "weir-worker";
};

// A PartitionSourceFactory making Kafka sources.
PartitionSourceFactory KafkaSourceFactory(KafkaSourceOptions options);

// The source of `job`'s topic. Errors: librdkafka refused a setting or could
// not create the consumer (the message names the brokers and what to fix).
Result<std::unique_ptr<PartitionSource>> MakeKafkaSource(const JobRuntime& job, const KafkaSourceOptions& options);

}  // namespace weir::worker
