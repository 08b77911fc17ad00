// RekeySource: the PartitionSource of a re-keyed job on one processing
// thread. It reads the job's partitions of both stages (RekeyLayout):
// partitions [0, sources) from the source topic, and partition
// sources + q from repartition partition q, each through a source the
// injected factory makes on first use (the repartition one parses stage 1's
// headers into SourceRecord::meta). Records come back under the job's
// partition ids, so the processing thread treats both stages alike.
//
// Lifecycle and thread: see PartitionSource.
#pragma once

#include <memory>

#include "worker/job_runtime.h"
#include "worker/partition_source.h"

namespace weir::worker {

class RekeySource final : public PartitionSource {
 public:
  // `job` must be re-keyed (job->repartition set) and `layout.rekeyed()`.
  RekeySource(PartitionSourceFactory factory, std::shared_ptr<const JobRuntime> job, RekeyLayout layout);

  Status Assign(PartitionId partition, KafkaOffset offset) override;
  void Unassign(PartitionId partition) override;
  void Poll(const PollLimits& limits, std::vector<SourceRecord>* out) override;
  void Pause(PartitionId partition) override;
  void Resume(PartitionId partition) override;
  std::optional<KafkaOffset> EndOffset(PartitionId partition) override;
  std::string Problem(PartitionId partition) override;
  bool WantsNewClient() override;
  bool ProvenReadable(PartitionId partition) override;
  uint64_t TakeSkippedRecords(PartitionId partition) override;

 private:
  // The stage's source for `partition` (null until made) and the partition
  // in its topic.
  std::unique_ptr<PartitionSource>& SourceOf(PartitionId partition);
  PartitionId TopicPartition(PartitionId partition) const;

  PartitionSourceFactory factory_;
  std::shared_ptr<const JobRuntime> job_;
  RekeyLayout layout_;
  std::unique_ptr<PartitionSource> stage1_;  // the source topic
  std::unique_ptr<PartitionSource> stage2_;  // the repartition topic
  bool stage2_first_ = false;                // alternates which is polled first
};

}  // namespace weir::worker
