#include "coordinator/worker_registry.h"

namespace weir::coordinator {

Result<WorkerRegistry::Registered> WorkerRegistry::Register(const std::string& id, const std::string& address,
                                                            int64_t now_ms) {
  if (auto held = workers_.find(id);
      held != workers_.end() && held->second.address != address && OnTime(held->second, now_ms)) {
    return AlreadyExists("worker id \"" + id + "\" is in use by a live worker at " + held->second.address +
                         " (last heartbeat " + std::to_string(now_ms - held->second.last_heartbeat_ms) +
                         " ms ago): give each worker a unique --id (WEIR_ID). A restarted worker is let in once the "
                         "old process misses its heartbeats for " +
                         std::to_string(timeout_ms_) + " ms");
  }
  auto [it, added] = workers_.try_emplace(id);
  Worker& w = it->second;
  const Registered result = added ? Registered::kNew : (w.alive ? Registered::kAgain : Registered::kAfterLost);
  w.address = address;
  w.registered_at_ms = now_ms;
  w.last_heartbeat_ms = now_ms;
  w.alive = true;
  w.dead_since_ms = 0;
  w.watch = 0;  // a watch of an earlier process of this id no longer speaks for it
  return result;
}

Status WorkerRegistry::Heartbeat(const std::string& id, int64_t now_ms) {
  auto it = workers_.find(id);
  if (it == workers_.end()) {
    return NotFound("worker \"" + id + "\" is not registered (register again: the coordinator may have restarted)");
  }
  if (!it->second.alive) {
    return NotFound("worker \"" + id + "\" was declared dead (no heartbeat within " + std::to_string(timeout_ms_) +
                    " ms, or its connection to the coordinator closed) and its partitions moved (drop them and "
                    "register again)");
  }
  it->second.last_heartbeat_ms = now_ms;
  return Status::Ok();
}

bool WorkerRegistry::Remove(const std::string& id) { return workers_.erase(id) > 0; }

WorkerRegistry::CheckResult WorkerRegistry::Check(int64_t now_ms) {
  CheckResult result;
  for (auto it = workers_.begin(); it != workers_.end();) {
    Worker& w = it->second;
    if (w.alive && now_ms - w.last_heartbeat_ms > timeout_ms_) {
      w.alive = false;
      w.dead_since_ms = now_ms;
      result.lost.push_back({it->first, now_ms - w.last_heartbeat_ms});
    }
    if (!w.alive && now_ms - w.dead_since_ms > retention_ms_) {
      result.forgotten.push_back(it->first);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  return result;
}

Result<uint64_t> WorkerRegistry::OpenWatch(const std::string& id) {
  auto it = workers_.find(id);
  if (it == workers_.end() || !it->second.alive) {
    return NotFound("worker \"" + id + "\" is not registered (or was declared lost): register first");
  }
  it->second.watch = next_watch_++;
  return it->second.watch;
}

bool WorkerRegistry::CloseWatch(const std::string& id, uint64_t watch, int64_t now_ms) {
  auto it = workers_.find(id);
  if (it == workers_.end() || it->second.watch != watch) return false;
  Worker& w = it->second;
  w.watch = 0;
  if (!w.alive) return false;
  w.alive = false;
  w.dead_since_ms = now_ms;
  return true;
}

bool WorkerRegistry::Watching(const std::string& id, uint64_t watch) const {
  auto it = workers_.find(id);
  return it != workers_.end() && it->second.alive && it->second.watch == watch;
}

bool WorkerRegistry::IsLive(const std::string& id) const {
  auto it = workers_.find(id);
  return it != workers_.end() && it->second.alive;
}

std::vector<std::string> WorkerRegistry::Live() const {
  std::vector<std::string> live;
  for (const auto& [id, w] : workers_) {
    if (w.alive) live.push_back(id);
  }
  return live;  // std::map iterates in id order
}

bool WorkerRegistry::OnTime(const Worker& w, int64_t now_ms) const {
  return w.alive && now_ms - w.last_heartbeat_ms <= timeout_ms_;
}

}  // namespace weir::coordinator
