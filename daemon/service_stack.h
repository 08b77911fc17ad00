// ServiceStack: the wiring of a daemon. A daemon's main starts its services
// through it, one after another; each successful start registers that
// service's stop, and Stop() runs the stops in reverse order, so what started
// last stops first and nothing is stopped while something started after it
// still runs. A start that fails stops everything started before it (newest
// first) and returns its error, so main only has to exit.
//
// Lifecycle: construct, Start()/Defer() in start-up order, Stop() once (the
// destructor stops whatever is still registered). Not thread-safe: one thread
// (main) owns it; the stops run on the thread that calls Stop().
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "daemon/stop_signals.h"

namespace weir {

class ServiceStack {
 public:
  ServiceStack() = default;
  ~ServiceStack();
  ServiceStack(const ServiceStack&) = delete;
  ServiceStack& operator=(const ServiceStack&) = delete;

  // Starts the service `name` with `start`. When that succeeds, `stop` is
  // registered to run at Stop() before every stop registered earlier. When it
  // fails, `stop` is not run (the service did not start), every service
  // started so far is stopped, newest first, and the failure is returned as
  // it is (its message already names what failed).
  [[nodiscard]] Status Start(std::string name, const std::function<Status()>& start, std::function<void()> stop);

  // Registers `stop` for something already running, e.g. a thread a
  // constructor started or a readiness flag to clear first on the way down.
  void Defer(std::string name, std::function<void()> stop);

  // Runs the registered stops, newest first, each once. Idempotent.
  void Stop();

  // A daemon's last step: waits for SIGTERM/SIGINT (or another signal
  // `signals` blocks), logs it, Stop()s and logs "stopped".
  void StopOnSignal(const StopSignals& signals);

  // How many stops are registered and not yet run.
  size_t size() const { return deferred_.size(); }

 private:
  std::vector<std::pair<std::string, std::function<void()>>> deferred_;  // in start order
};

}  // namespace weir
