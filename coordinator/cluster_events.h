// The cluster events the coordinator logs (EventLog), one builder per kind:
// each sets the kind, the fields weirctl events shows and filters on, and a
// message a user can read without the other fields. Pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/types.h"
#include "weir/v1/services.pb.h"

namespace weir::coordinator::events {

weir::v1::ClusterEvent JobSubmitted(const weir::v1::JobSpec& spec);
weir::v1::ClusterEvent JobCancelled(const std::string& job);
// Partition discovery found the job's topic; `summary` says what it found.
weir::v1::ClusterEvent TopicFound(const std::string& job, const std::string& summary);
// Partition discovery failed (logged once per distinct reason); it retries.
weir::v1::ClusterEvent DiscoveryFailed(const std::string& job, const std::string& reason);
// Deleting a re-keyed job's repartition-topic records failed.
weir::v1::ClusterEvent RepartitionTrimFailed(const std::string& job, const std::string& reason);

// `again`: the worker was known (re-registering, e.g. after a restart);
// `was_lost`: it had been declared lost.
weir::v1::ClusterEvent WorkerRegistered(const std::string& worker, const std::string& address, bool again,
                                        bool was_lost);
// A registration from `address` refused because another live process holds the id.
weir::v1::ClusterEvent WorkerRefused(const std::string& worker, const std::string& address, const std::string& why);
weir::v1::ClusterEvent WorkerLeft(const std::string& worker, size_t handoffs);
weir::v1::ClusterEvent WorkerLost(const std::string& worker, int64_t silent_ms, int64_t timeout_ms);
// Lost because its watch stream to the coordinator closed (kind WORKER_LOST).
weir::v1::ClusterEvent WorkerDisconnected(const std::string& worker);

// `from` empty: the partition's first owner (or its first since it was unassigned).
weir::v1::ClusterEvent PartitionAssigned(const std::string& job, PartitionId partition, const std::string& from,
                                         const std::string& to, Epoch epoch);
// Where `worker` started the partition at `epoch` (its PartitionStatus.restored).
weir::v1::ClusterEvent PartitionRestored(const std::string& job, PartitionId partition, const std::string& worker,
                                         Epoch epoch, const weir::v1::RestoreInfo& restore);
weir::v1::ClusterEvent PartitionFenced(const std::string& job, PartitionId partition, const std::string& worker,
                                       Epoch epoch, const std::string& reason);
// The owner was fenced at its current epoch `from`; the partition now has `to`.
weir::v1::ClusterEvent PartitionReEpoched(const std::string& job, PartitionId partition, const std::string& worker,
                                          Epoch from, Epoch to);
// The message is the worker's reason.
weir::v1::ClusterEvent PartitionFailed(const std::string& job, PartitionId partition, const std::string& worker,
                                       Epoch epoch, const std::string& reason);
// `count` more records skipped because Kafka no longer had them (on_offset_gap: skip).
weir::v1::ClusterEvent RecordsSkipped(const std::string& job, PartitionId partition, const std::string& worker,
                                      Epoch epoch, int64_t count, const std::string& detail);
// The store saw rows of one key from this partition and another; `detail`
// is the worker's description (a key, the other partition, the fix).
weir::v1::ClusterEvent KeyConflict(const std::string& job, PartitionId partition, const std::string& worker,
                                   Epoch epoch, const std::string& detail);
weir::v1::ClusterEvent PartitionRecovered(const std::string& job, PartitionId partition, const std::string& worker,
                                          Epoch epoch);

weir::v1::ClusterEvent CheckpointCommitted(const std::string& job, CheckpointId id, int64_t bytes, int64_t duration_ms);
weir::v1::ClusterEvent CheckpointAbandoned(const std::string& job, CheckpointId id, const std::string& reason);

}  // namespace weir::coordinator::events
