// WorkerRegistry: the workers the coordinator knows and whether each lives.
// A worker is live from its registration while its heartbeats arrive within
// `worker_timeout_ms` of each other; Check() declares a silent one lost, and
// forgets one lost for longer than `dead_worker_retention_ms` (until then it
// is listed, alive = false). Leaving (Remove) forgets a worker at once.
//
// Time is an argument (`now_ms`). Not thread-safe: the Coordinator calls it
// with its mu_ held. No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace weir::coordinator {

class WorkerRegistry {
 public:
  struct Worker {
    std::string address;
    int64_t registered_at_ms = 0;
    int64_t last_heartbeat_ms = 0;
    bool alive = true;
    int64_t dead_since_ms = 0;
    uint64_t watch = 0;  // its current watch stream (OpenWatch); 0: none
  };
  // What Register found.
  enum class Registered { kNew, kAgain, kAfterLost };
  // A worker Check() declared lost.
  struct Lost {
    std::string id;
    int64_t silent_ms = 0;  // since its last heartbeat
  };
  struct CheckResult {
    std::vector<Lost> lost;              // declared lost by this check
    std::vector<std::string> forgotten;  // lost for longer than the retention
  };

  WorkerRegistry(int64_t worker_timeout_ms, int64_t dead_worker_retention_ms)
      : timeout_ms_(worker_timeout_ms), retention_ms_(dead_worker_retention_ms) {}

  // Adds a worker, or makes a known one (lost or not) live again.
  // AlreadyExists when another process holds the id: a live worker with that
  // id and another address has heartbeated within the timeout. (Two
  // processes with one id would run the same partitions at the same epoch,
  // which fencing cannot tell apart.) The same address registering again is
  // the same process (its earlier reply was lost) and is let in; so is any
  // process once the holder misses its heartbeats for the timeout.
  Result<Registered> Register(const std::string& id, const std::string& address, int64_t now_ms);
  // Records a heartbeat. NotFound, saying what to do, for a worker that is
  // not registered or was declared lost: it must register again.
  Status Heartbeat(const std::string& id, int64_t now_ms);
  // Forgets a worker; false when it was not known.
  bool Remove(const std::string& id);
  // Declares silent workers lost and forgets long-lost ones.
  CheckResult Check(int64_t now_ms);
  // A live worker's watch stream opened: its id for CloseWatch (it replaces
  // any earlier one). NotFound for an unknown or lost worker.
  Result<uint64_t> OpenWatch(const std::string& id);
  // Watch `watch` of `id` ended. True when it was the worker's current watch
  // and the worker was live: it is declared lost now. A registration since
  // (a restarted process), a newer watch, or leaving first leave it be.
  bool CloseWatch(const std::string& id, uint64_t watch, int64_t now_ms);
  // Whether `watch` is `id`'s current watch and the worker is live.
  bool Watching(const std::string& id, uint64_t watch) const;

  bool IsLive(const std::string& id) const;
  // Live worker ids, sorted.
  std::vector<std::string> Live() const;
  // Whether `w`'s heartbeats are on time at `now_ms`: false for a lost worker
  // and for one already late that Check() has not declared lost yet.
  bool OnTime(const Worker& w, int64_t now_ms) const;
  // Every known worker, by id.
  const std::map<std::string, Worker>& all() const { return workers_; }

 private:
  const int64_t timeout_ms_;
  const int64_t retention_ms_;
  std::map<std::string, Worker> workers_;
  uint64_t next_watch_ = 1;
};

}  // namespace weir::coordinator
