// ServiceStack: stops run newest first, once; a failed start stops what
// already started and registers nothing for itself.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/service_stack.h"

namespace {

using weir::ServiceStack;
using weir::Status;

// Starts service `name` on `stack`, recording its start and stop in `log`.
Status StartLogged(ServiceStack& stack, std::vector<std::string>& log, const std::string& name, Status result = {}) {
  return stack.Start(
      name,
      [&log, name, result] {
        log.push_back("start " + name);
        return result;
      },
      [&log, name] { log.push_back("stop " + name); });
}

}  // namespace

TEST_CASE("ServiceStack stops its services in reverse start order, deferred stops included", "[daemon]") {
  std::vector<std::string> log;
  ServiceStack stack;
  REQUIRE(StartLogged(stack, log, "store").ok());
  REQUIRE(StartLogged(stack, log, "grpc").ok());
  stack.Defer("readiness", [&log] { log.push_back("stop readiness"); });
  REQUIRE(StartLogged(stack, log, "http").ok());
  CHECK(stack.size() == 4);

  stack.Stop();
  CHECK(log == std::vector<std::string>{"start store", "start grpc", "start http", "stop http", "stop readiness",
                                        "stop grpc", "stop store"});
  CHECK(stack.size() == 0);
}

TEST_CASE("ServiceStack runs each stop once: Stop is idempotent and the destructor stops only what is left",
          "[daemon]") {
  std::vector<std::string> log;
  {
    ServiceStack stack;
    REQUIRE(StartLogged(stack, log, "a").ok());
    stack.Stop();
    stack.Stop();
    REQUIRE(StartLogged(stack, log, "b").ok());
  }  // the destructor stops "b" only
  CHECK(log == std::vector<std::string>{"start a", "stop a", "start b", "stop b"});
}

TEST_CASE("ServiceStack unwinds a failed start: what started stops newest first, the failed one is not stopped",
          "[daemon]") {
  std::vector<std::string> log;
  ServiceStack stack;
  REQUIRE(StartLogged(stack, log, "store").ok());
  REQUIRE(StartLogged(stack, log, "grpc").ok());
  const Status s = StartLogged(stack, log, "http", weir::Unavailable("cannot listen for HTTP on 127.0.0.1:1"));

  CHECK(s.code() == weir::StatusCode::kUnavailable);
  CHECK(s.message() == "cannot listen for HTTP on 127.0.0.1:1");
  CHECK(log == std::vector<std::string>{"start store", "start grpc", "start http", "stop grpc", "stop store"});
  CHECK(stack.size() == 0);
  stack.Stop();  // nothing left to run
  CHECK(log.size() == 5);
}

TEST_CASE("ServiceStack with a first start that fails stops nothing", "[daemon]") {
  std::vector<std::string> log;
  ServiceStack stack;
  CHECK(StartLogged(stack, log, "store", weir::NotFound("no such directory")).code() == weir::StatusCode::kNotFound);
  CHECK(log == std::vector<std::string>{"start store"});
}

TEST_CASE("ServiceStack stops the services a stop registers while stopping, before the older ones", "[daemon]") {
  // Not a pattern to use, but a stop must never be lost or run twice.
  std::vector<std::string> log;
  ServiceStack stack;
  REQUIRE(StartLogged(stack, log, "old").ok());
  stack.Defer("outer", [&] {
    log.push_back("stop outer");
    stack.Defer("late", [&log] { log.push_back("stop late"); });
  });
  stack.Stop();
  CHECK(log == std::vector<std::string>{"start old", "stop outer", "stop late", "stop old"});
}
