// StopSignals: how every daemon takes SIGTERM/SIGINT. Constructed first in
// main, before any thread starts, it blocks the signals in the calling thread
// (and so in every thread started later); Wait() then takes one
// synchronously (sigwait), so shutdown runs as ordinary code, not in a
// signal handler.
#pragma once

#include <csignal>
#include <initializer_list>

namespace weir {

class StopSignals {
 public:
  // Blocks SIGTERM, SIGINT and `extra` (e.g. SIGUSR1 for a fault-injection hook).
  explicit StopSignals(std::initializer_list<int> extra = {});
  // Waits for one of the blocked signals and returns it.
  int Wait() const;
  // "SIGTERM", "SIGINT", "SIGUSR1", ... for log lines.
  static const char* Name(int sig);

 private:
  sigset_t set_;
};

}  // namespace weir
