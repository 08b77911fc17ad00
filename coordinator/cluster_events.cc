#include "coordinator/cluster_events.h"

namespace weir::coordinator::events {
namespace {

namespace pb = weir::v1;

pb::ClusterEvent Event(pb::ClusterEventKind kind, const std::string& job, int32_t partition, const std::string& worker,
                       std::string message) {
  pb::ClusterEvent e;
  e.set_kind(kind);
  e.set_job(job);
  e.set_partition(partition);
  e.set_worker(worker);
  e.set_message(std::move(message));
  return e;
}

pb::ClusterEvent PartitionEvent(pb::ClusterEventKind kind, const std::string& job, PartitionId partition,
                                const std::string& worker, Epoch epoch, std::string message) {
  pb::ClusterEvent e = Event(kind, job, partition.value(), worker, std::move(message));
  e.set_epoch(epoch.value());
  return e;
}

std::string Partition(PartitionId p) { return "partition " + std::to_string(p.value()); }
std::string Epochs(Epoch e) { return "epoch " + std::to_string(e.value()); }

// "1 unreadable restore point" / "2 unreadable restore points", with the first one's reason.
std::string Skipped(const pb::RestoreInfo& r) {
  std::string text = std::to_string(r.fallbacks()) + " unreadable restore point" + (r.fallbacks() == 1 ? "" : "s");
  if (!r.detail().empty()) text += " (" + r.detail() + ")";
  return text;
}

}  // namespace

pb::ClusterEvent JobSubmitted(const pb::JobSpec& spec) {
  return Event(pb::CLUSTER_EVENT_JOB_SUBMITTED, spec.name(), -1, "",
               "job " + spec.name() + " submitted (topic " + spec.source().kafka().topic() + " at " +
                   spec.source().kafka().brokers() + ")");
}

pb::ClusterEvent JobCancelled(const std::string& job) {
  return Event(pb::CLUSTER_EVENT_JOB_CANCELLED, job, -1, "", "job " + job + " cancelled");
}

pb::ClusterEvent TopicFound(const std::string& job, const std::string& summary) {
  return Event(pb::CLUSTER_EVENT_TOPIC_FOUND, job, -1, "", summary);
}

pb::ClusterEvent DiscoveryFailed(const std::string& job, const std::string& reason) {
  return Event(pb::CLUSTER_EVENT_DISCOVERY_FAILED, job, -1, "", "partitions unknown (retrying): " + reason);
}

pb::ClusterEvent RepartitionTrimFailed(const std::string& job, const std::string& reason) {
  return Event(pb::CLUSTER_EVENT_REPARTITION_TRIM_FAILED, job, -1, "",
               reason + " (the repartition topic's records behind the oldest kept checkpoint; retrying)");
}

pb::ClusterEvent WorkerDisconnected(const std::string& worker) {
  return Event(pb::CLUSTER_EVENT_WORKER_LOST, "", -1, worker,
               "worker " + worker + " lost: its connection to the coordinator closed; its partitions move");
}

pb::ClusterEvent WorkerRegistered(const std::string& worker, const std::string& address, bool again, bool was_lost) {
  std::string message = "worker " + worker + " registered";
  if (again) message += was_lost ? " again after being lost" : " again";
  if (!address.empty()) message += " (" + address + ")";
  return Event(pb::CLUSTER_EVENT_WORKER_REGISTERED, "", -1, worker, std::move(message));
}

pb::ClusterEvent WorkerRefused(const std::string& worker, const std::string& address, const std::string& why) {
  return Event(pb::CLUSTER_EVENT_WORKER_REFUSED, "", -1, worker,
               "registration of " + worker + " from " + address + " refused: " + why);
}

pb::ClusterEvent WorkerLeft(const std::string& worker, size_t handoffs) {
  return Event(pb::CLUSTER_EVENT_WORKER_LEFT, "", -1, worker,
               "worker " + worker + " left with " + std::to_string(handoffs) + " handoff snapshot" +
                   (handoffs == 1 ? "" : "s") + "; its partitions move");
}

pb::ClusterEvent WorkerLost(const std::string& worker, int64_t silent_ms, int64_t timeout_ms) {
  return Event(pb::CLUSTER_EVENT_WORKER_LOST, "", -1, worker,
               "worker " + worker + " lost: no heartbeat for " + std::to_string(silent_ms) + " ms (timeout " +
                   std::to_string(timeout_ms) + " ms); its partitions move");
}

pb::ClusterEvent PartitionAssigned(const std::string& job, PartitionId partition, const std::string& from,
                                   const std::string& to, Epoch epoch) {
  std::string message = Partition(partition) +
                        (from.empty() ? " assigned to " + to : " moved from " + from + " to " + to) + " (" +
                        Epochs(epoch) + ")";
  pb::ClusterEvent e =
      PartitionEvent(pb::CLUSTER_EVENT_PARTITION_ASSIGNED, job, partition, to, epoch, std::move(message));
  e.set_from_worker(from);
  return e;
}

pb::ClusterEvent PartitionRestored(const std::string& job, PartitionId partition, const std::string& worker,
                                   Epoch epoch, const pb::RestoreInfo& restore) {
  std::string message = Partition(partition) + " on " + worker + " (" + Epochs(epoch) + ") ";
  switch (restore.source()) {
    case pb::RESTORE_SOURCE_HANDOFF: message += "restored from its previous owner's handoff snapshot"; break;
    case pb::RESTORE_SOURCE_CHECKPOINT:
      message += "restored from checkpoint " + std::to_string(restore.checkpoint());
      if (restore.fallbacks() > 0) message += ", an older restore point, after " + Skipped(restore);
      break;
    default:
      message += "started from the job's start offset";
      message += restore.fallbacks() > 0 ? " after " + Skipped(restore) : ": nothing to restore";
      break;
  }
  pb::ClusterEvent e =
      PartitionEvent(pb::CLUSTER_EVENT_PARTITION_RESTORED, job, partition, worker, epoch, std::move(message));
  *e.mutable_restore() = restore;
  e.set_checkpoint(restore.source() == pb::RESTORE_SOURCE_CHECKPOINT ? restore.checkpoint() : 0);
  return e;
}

pb::ClusterEvent PartitionFenced(const std::string& job, PartitionId partition, const std::string& worker, Epoch epoch,
                                 const std::string& reason) {
  std::string message = Partition(partition) + " fenced: the feature store refused " + worker + "'s writes at " +
                        Epochs(epoch) + " (a newer owner exists)";
  if (!reason.empty()) message += ": " + reason;
  return PartitionEvent(pb::CLUSTER_EVENT_PARTITION_FENCED, job, partition, worker, epoch, std::move(message));
}

pb::ClusterEvent PartitionReEpoched(const std::string& job, PartitionId partition, const std::string& worker,
                                    Epoch from, Epoch to) {
  return PartitionEvent(pb::CLUSTER_EVENT_PARTITION_REEPOCHED, job, partition, worker, to,
                        Partition(partition) + " on " + worker + " was fenced at its current " + Epochs(from) +
                            ": the feature store has seen a higher epoch than this coordinator issued (was an older "
                            "state.pb restored?); it runs on at " +
                            Epochs(to));
}

pb::ClusterEvent PartitionFailed(const std::string& job, PartitionId partition, const std::string& worker, Epoch epoch,
                                 const std::string& reason) {
  return PartitionEvent(pb::CLUSTER_EVENT_PARTITION_FAILED, job, partition, worker, epoch,
                        reason.empty() ? Partition(partition) + " failed on " + worker + " (no reason given)" : reason);
}

pb::ClusterEvent RecordsSkipped(const std::string& job, PartitionId partition, const std::string& worker, Epoch epoch,
                                int64_t count, const std::string& detail) {
  std::string message = Partition(partition) + " on " + worker + " skipped " + std::to_string(count) +
                        " records Kafka no longer had (source.on_offset_gap: skip)";
  if (!detail.empty()) message += ": " + detail;
  return PartitionEvent(pb::CLUSTER_EVENT_RECORDS_SKIPPED, job, partition, worker, epoch, std::move(message));
}

pb::ClusterEvent KeyConflict(const std::string& job, PartitionId partition, const std::string& worker, Epoch epoch,
                             const std::string& detail) {
  return PartitionEvent(pb::CLUSTER_EVENT_KEY_CONFLICT, job, partition, worker, epoch,
                        Partition(partition) + " on " + worker + ": " +
                            (detail.empty() ? "rows for keys another partition of the job wrote first" : detail));
}

pb::ClusterEvent PartitionRecovered(const std::string& job, PartitionId partition, const std::string& worker,
                                    Epoch epoch) {
  return PartitionEvent(pb::CLUSTER_EVENT_PARTITION_RECOVERED, job, partition, worker, epoch,
                        Partition(partition) + " running again on " + worker + " (" + Epochs(epoch) + ")");
}

pb::ClusterEvent CheckpointCommitted(const std::string& job, CheckpointId id, int64_t bytes, int64_t duration_ms) {
  pb::ClusterEvent e = Event(pb::CLUSTER_EVENT_CHECKPOINT_COMMITTED, job, -1, "",
                             "checkpoint " + std::to_string(id.value()) + " committed (" + std::to_string(bytes) +
                                 " bytes, " + std::to_string(duration_ms) + " ms after its trigger)");
  e.set_checkpoint(id.value());
  return e;
}

pb::ClusterEvent CheckpointAbandoned(const std::string& job, CheckpointId id, const std::string& reason) {
  pb::ClusterEvent e = Event(pb::CLUSTER_EVENT_CHECKPOINT_ABANDONED, job, -1, "",
                             "checkpoint " + std::to_string(id.value()) + " abandoned: " + reason);
  e.set_checkpoint(id.value());
  return e;
}

}  // namespace weir::coordinator::events
