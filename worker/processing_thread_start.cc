// ProcessingThread, the partitions' lifecycle: starting them (restore, source,
// assignment) with retries, pausing them for backpressure, and following
// their source's problems. Runs on the processing thread.
#include <spdlog/spdlog.h>

#include "worker/processing_thread.h"
#include "worker/rekey_source.h"

namespace weir::worker {

void ProcessingThread::StartDue() {
  const TimePoint now = options_.now();
  for (auto& [name, js] : jobs_) {
    for (auto& [partition, owned] : js.partitions) {
      if (!owned.assigned && owned.retry_at <= now) TryStart(js, partition, owned);
    }
  }
}

void ProcessingThread::TryStart(JobSource& js, PartitionId partition, Owned& owned) {
  const std::string& name = js.job->spec.name();
  PartitionCounters& counters = *owned.task->counters();
  if (!owned.restored) {
    owned.restored = true;
    if (owned.restore_from.empty()) {
      counters.SetRestored(ToRestoreInfo(nullptr));
    } else {
      counters.SetState(weir::v1::PARTITION_STATE_RESTORING);
      const RestoreOutcome restored = RestorePartition(*owned.task, owned.restore_from);
      if (options_.restores != nullptr) options_.restores->Record(name, restored);
      counters.SetRestored(ToRestoreInfo(&restored));
      owned.restore_from.clear();
    }
    counters.SetState(weir::v1::PARTITION_STATE_STARTING);
  }
  if (js.source == nullptr && js.layout.rekeyed() && js.job->repartition != nullptr) {
    js.source = std::make_unique<RekeySource>(options_.sources, js.job, js.layout);
  } else if (js.source == nullptr) {
    auto source = options_.sources(*js.job);
    if (!source.ok()) return StartFailed(name, partition, owned, source.status().message());
    js.source = std::move(*source);
  }
  if (owned.task->stage() == 1 && owned.shuffle == nullptr) {
    auto producer = RepartitionProducer::Create(*js.job, partition.value(),
                                                "weir-worker-" + name + "-rekey-" + std::to_string(partition.value()),
                                                owned.task->counters());
    if (!producer.ok()) return StartFailed(name, partition, owned, producer.status().message());
    owned.shuffle = std::move(*producer);
  }
  const KafkaOffset start = owned.task->start_offset();
  if (const Status s = js.source->Assign(partition, start); !s.ok()) {
    return StartFailed(name, partition, owned, s.message());
  }
  owned.assigned = true;
  owned.backoff.Succeeded();
  if (!owned.unproven) counters.SetState(weir::v1::PARTITION_STATE_RUNNING);  // else failed until proven
  spdlog::info("job {} partition {}: started at epoch {} from offset {} (thread {})", name, partition.value(),
               owned.task->epoch().value(),
               start == kOffsetEnd         ? std::string("latest")
               : start == kOffsetBeginning ? std::string("earliest")
                                           : std::to_string(start.value()),
               index_);
}

void ProcessingThread::StartFailed(const std::string& job, PartitionId partition, Owned& owned,
                                   const std::string& reason) {
  const auto delay = owned.backoff.Failed();
  owned.retry_at = options_.now() + delay;
  owned.task->counters()->SetState(weir::v1::PARTITION_STATE_FAILED, reason);
  spdlog::error("job {} partition {}: cannot start: {} (retrying in {} ms)", job, partition.value(), reason,
                delay.count());
}

PartitionState ProcessingThread::StartedState(const Owned& owned) {
  return owned.paused ? weir::v1::PARTITION_STATE_PAUSED : weir::v1::PARTITION_STATE_RUNNING;
}

void ProcessingThread::UpdatePauses() {
  for (auto& [name, js] : jobs_) {
    for (auto& [partition, owned] : js.partitions) {
      if (!owned.assigned) continue;
      const bool full = !owned.sink->HasRoom(name);
      if (full == owned.paused) continue;
      owned.paused = full;
      if (full) {
        js.source->Pause(partition);
        spdlog::debug("job {} partition {}: paused, feature store {} full", name, partition.value(),
                      owned.sink->address());
      } else {
        js.source->Resume(partition);
      }
      if (!owned.problem.empty()) continue;  // failed wins
      if (full) {
        owned.task->counters()->SetState(weir::v1::PARTITION_STATE_PAUSED,
                                         "the feature store at " + owned.sink->address() + " has " +
                                             std::to_string(owned.sink->pending_bytes(name) >> 20) +
                                             " MiB of this job's rows waiting (the --max-pending-mib bound): "
                                             "consumption resumes as it accepts them");
      } else {
        owned.task->counters()->SetState(weir::v1::PARTITION_STATE_RUNNING);
      }
    }
  }
}

void ProcessingThread::UpdateProblems(JobSource& js) {
  if (js.source->WantsNewClient()) return ReplaceClient(js);
  for (auto& [partition, owned] : js.partitions) {
    if (!owned.assigned) continue;
    std::string problem = js.source->Problem(partition);
    if (problem.empty() && owned.unproven) {
      if (!js.source->ProvenReadable(partition)) continue;  // nothing wrong known yet, nothing right either
      owned.unproven = false;
      js.new_client_backoff.Succeeded();
    }
    if (problem == owned.problem) continue;
    PartitionCounters& counters = *owned.task->counters();
    if (problem.empty()) {
      spdlog::info("job {} partition {}: readable again", js.job->spec.name(), partition.value());
      counters.SetState(StartedState(owned));
    } else {
      // Logged when it starts; the reason's details may change while it lasts.
      if (owned.problem.empty())
        spdlog::error("job {} partition {}: {}", js.job->spec.name(), partition.value(), problem);
      counters.SetState(weir::v1::PARTITION_STATE_FAILED, problem);
    }
    owned.problem = std::move(problem);
  }
}

void ProcessingThread::ReplaceClient(JobSource& js) {
  const std::string& name = js.job->spec.name();
  const auto delay = js.new_client_backoff.Failed();
  const TimePoint retry_at = options_.now() + delay;
  std::string reason;
  for (auto& [partition, owned] : js.partitions) {
    if (!owned.assigned) continue;
    if (std::string problem = js.source->Problem(partition); !problem.empty()) reason = std::move(problem);
  }
  if (reason.empty()) reason = "the Kafka brokers refused this worker's client (its credentials or its TLS handshake)";
  spdlog::warn("job {}: {}; making a new Kafka client in {} ms, with the job's settings read again", name, reason,
               delay.count());
  for (auto& [partition, owned] : js.partitions) {
    if (!owned.assigned) continue;
    owned.task->set_start_offset(KafkaOffset(owned.task->NextOffset()));  // where it was
    owned.assigned = false;
    owned.paused = false;  // the new client is not paused; UpdatePauses pauses it again
    owned.unproven = true;
    owned.retry_at = retry_at;
    if (owned.problem.empty()) owned.problem = reason;
    owned.task->counters()->SetState(weir::v1::PARTITION_STATE_FAILED, owned.problem);
  }
  polled_.clear();    // views into the closing client's records
  js.source.reset();  // TryStart makes the new one
}

}  // namespace weir::worker
