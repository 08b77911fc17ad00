#include "daemon/service_stack.h"

#include <spdlog/spdlog.h>

namespace weir {

ServiceStack::~ServiceStack() { Stop(); }

Status ServiceStack::Start(std::string name, const std::function<Status()>& start, std::function<void()> stop) {
  spdlog::debug("starting {}", name);
  Status s = start();
  if (!s.ok()) {
    spdlog::debug("{} did not start; stopping the {} service(s) started before it", name, deferred_.size());
    Stop();
    return s;
  }
  deferred_.emplace_back(std::move(name), std::move(stop));
  return Status::Ok();
}

void ServiceStack::Defer(std::string name, std::function<void()> stop) {
  deferred_.emplace_back(std::move(name), std::move(stop));
}

void ServiceStack::Stop() {
  while (!deferred_.empty()) {
    // Popped before it runs, so a stop that throws or re-enters runs once.
    auto [name, stop] = std::move(deferred_.back());
    deferred_.pop_back();
    spdlog::debug("stopping {}", name);
    if (stop) stop();
  }
}

void ServiceStack::StopOnSignal(const StopSignals& signals) {
  spdlog::info("{} received, stopping", StopSignals::Name(signals.Wait()));
  Stop();
  spdlog::info("stopped");
}

}  // namespace weir
