// Coordinator::TrimRepartitionTopics: the housekeeping of re-keyed jobs'
// repartition topics (docs/checkpoints.md, "Re-keyed jobs").
#include <spdlog/spdlog.h>

#include "coordinator/cluster_events.h"
#include "coordinator/coordinator.h"
#include "spec/job_spec.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

// "0:1200 1:980": where each partition's records now start.
std::string Offsets(const std::map<int32_t, int64_t>& before) {
  std::string out;
  for (const auto& [partition, offset] : before) {
    if (!out.empty()) out += " ";
    out += std::to_string(partition) + ":" + std::to_string(offset);
  }
  return out;
}

}  // namespace

void Coordinator::TrimRepartitionTopics(int64_t now_ms) {
  struct Due {
    std::string job;
    std::string brokers;
    std::string topic;
    google::protobuf::Map<std::string, std::string> properties;
    std::map<int32_t, int64_t> before;
    uint64_t checkpoint = 0;
  };
  std::vector<Due> due;
  {
    weir::MutexLock lock(&mu_);
    for (const pb::JobRecord& job : store_->jobs()) {
      const int32_t sources = job.source_partitions();
      if (sources <= 0 || job.state() != pb::JOB_STATE_RUNNING || job.checkpoints_size() == 0) continue;
      Trim& trim = trims_[job.spec().name()];
      if (trim.in_flight || now_ms < trim.next_ms) continue;
      // The oldest kept checkpoint: a restore may fall back to it, so every
      // record it has yet to read stays. Offsets only grow from one
      // checkpoint to the next.
      const pb::CheckpointInfo& oldest = job.checkpoints(0);
      Due d;
      for (int32_t p = sources; p < job.partitions() && p < oldest.partitions_size(); ++p) {
        const int64_t offset = oldest.partitions(p).next_offset();
        const int32_t repartition = p - sources;
        auto done = trim.deleted_below.find(repartition);
        if (offset > 0 && (done == trim.deleted_below.end() || offset > done->second)) d.before[repartition] = offset;
      }
      if (d.before.empty()) continue;
      trim.in_flight = true;
      trim.next_ms = now_ms + options_.repartition_trim_interval_ms;
      d.job = job.spec().name();
      d.brokers = job.spec().source().kafka().brokers();
      d.topic = RepartitionTopicOf(job.spec());
      d.properties = job.spec().source().kafka().properties();
      d.checkpoint = oldest.id();
      due.push_back(std::move(d));
    }
  }
  for (const Due& d : due) {
    const Status s = discovery_->DeleteRecords(d.brokers, d.topic, d.properties, d.before);
    weir::MutexLock lock(&mu_);
    auto it = trims_.find(d.job);
    if (it == trims_.end()) continue;  // cancelled or submitted again meanwhile
    Trim& trim = it->second;
    trim.in_flight = false;
    if (s.ok()) {
      for (const auto& [partition, offset] : d.before) trim.deleted_below[partition] = offset;
      trim.last = "records of " + d.topic + " deleted below checkpoint " + std::to_string(d.checkpoint) +
                  " (the oldest kept), partition:offset " + Offsets(trim.deleted_below);
      trim.failed = false;
      spdlog::info("job {}: {}", d.job, trim.last);
      continue;
    }
    const std::string& why = s.message();  // "cannot delete records of <topic> at <brokers>: ..."
    if (!trim.failed || trim.last != why) {
      spdlog::warn("job {}: {} (retrying every {} ms)", d.job, why, options_.repartition_trim_interval_ms);
      events_.Append(events::RepartitionTrimFailed(d.job, s.message()), now_ms);
    }
    trim.last = why;
    trim.failed = true;
  }
}

}  // namespace weir::coordinator
