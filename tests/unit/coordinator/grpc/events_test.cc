// The coordinator's cluster event log over gRPC (ListEvents) and weirctl's
// events command, and weirctl's byte formatting.
#include "tests/unit/coordinator/grpc/grpc_fixture.h"

using namespace weir::coordinator::grpc_testing;  // NOLINT(google-build-using-namespace): the tests' fixture

TEST_CASE("gRPC: ListEvents filters by job, after_seq and limit", "[coordinator][grpc]") {
  Fixture f;
  REQUIRE(f.coordinator->SubmitJob(Spec("a", "events"), f.now_ms).ok());  // 1: submitted, 2: topic found
  REQUIRE(f.coordinator->RegisterWorker("w1", "", f.now_ms + 1).ok());    // 3: registered, 4-5: assigned
  REQUIRE(f.coordinator->CancelJob("a", f.now_ms + 2).ok());              // 6: cancelled
  auto list = [&](const std::string& job, uint64_t after, int32_t limit, pb::ListEventsResponse* resp) {
    grpc::ClientContext ctx;
    pb::ListEventsRequest req;
    req.set_job(job);
    req.set_after_seq(after);
    req.set_limit(limit);
    return f.jobs->ListEvents(&ctx, req, resp);
  };
  auto seqs = [](const pb::ListEventsResponse& r) {
    std::vector<uint64_t> out;
    for (const auto& e : r.events()) out.push_back(e.seq());
    return out;
  };
  pb::ListEventsResponse resp;
  REQUIRE(list("", 0, 0, &resp).ok());
  CHECK(seqs(resp) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});
  CHECK(resp.last_seq() == 6);
  CHECK(resp.events(0).kind() == pb::CLUSTER_EVENT_JOB_SUBMITTED);
  CHECK(resp.events(0).at_ms() == f.now_ms);
  CHECK(resp.events(1).kind() == pb::CLUSTER_EVENT_TOPIC_FOUND);
  CHECK(resp.events(2).kind() == pb::CLUSTER_EVENT_WORKER_REGISTERED);
  CHECK(resp.events(2).worker() == "w1");
  resp.Clear();
  REQUIRE(list("a", 0, 0, &resp).ok());
  CHECK(seqs(resp) == std::vector<uint64_t>{1, 2, 4, 5, 6});
  resp.Clear();
  REQUIRE(list("a", 4, 0, &resp).ok());
  CHECK(seqs(resp) == std::vector<uint64_t>{5, 6});
  resp.Clear();
  REQUIRE(list("", 0, 2, &resp).ok());
  CHECK(seqs(resp) == std::vector<uint64_t>{5, 6});
  resp.Clear();
  REQUIRE(list("nope", 0, 0, &resp).ok());
  CHECK(resp.events_size() == 0);
  CHECK(resp.last_seq() == 6);
  CHECK(list("", 0, -1, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("weirctl events prints one line per event, --json one object per line, --follow the new ones",
          "[coordinator][grpc][cli]") {
  Fixture f;
  std::ostringstream empty;
  REQUIRE(weir::cli::EventList(f.address, {}, empty).ok());
  CHECK(empty.str() == "no events\n");

  REQUIRE(f.coordinator->SubmitJob(Spec("a", "events"), f.now_ms).ok());
  REQUIRE(f.coordinator->RegisterWorker("w1", "127.0.0.1:9500", f.now_ms + 42).ok());
  std::ostringstream out;
  REQUIRE(weir::cli::EventList(f.address, {}, out).ok());
  CHECK(out.str() ==
        "2023-11-14T22:13:20.000Z  job-submitted         a  job a submitted (topic events at 127.0.0.1:9092)\n"
        "2023-11-14T22:13:20.000Z  topic-found           a  topic \"events\" at 127.0.0.1:9092: 2 partitions, "
        "replication factor 1; dead-letter topic \"a.dlq\" found\n"
        "2023-11-14T22:13:20.042Z  worker-registered     -  worker w1 registered (127.0.0.1:9500)\n"
        "2023-11-14T22:13:20.042Z  partition-assigned    a/0  partition 0 assigned to w1 (epoch 1)\n"
        "2023-11-14T22:13:20.042Z  partition-assigned    a/1  partition 1 assigned to w1 (epoch 1)\n");

  weir::cli::EventsOptions only_b;
  only_b.job = "b";
  std::ostringstream none;
  REQUIRE(weir::cli::EventList(f.address, only_b, none).ok());
  CHECK(none.str() == "no events of job b\n");

  weir::cli::EventsOptions json;
  json.json = true;
  json.job = "a";
  std::ostringstream lines;
  REQUIRE(weir::cli::EventList(f.address, json, lines).ok());
  std::vector<std::string> objects;
  std::istringstream in(lines.str());
  for (std::string line; std::getline(in, line);) objects.push_back(line);
  REQUIRE(objects.size() == 4);
  CHECK_THAT(objects[0],
             Catch::StartsWith("{\"seq\":\"1\",\"at_ms\":\"1700000000000\",\"kind\":\"CLUSTER_EVENT_JOB_SUBMITTED\","
                               "\"job\":\"a\",\"partition\":-1,"));
  CHECK_THAT(objects[3], Catch::Contains("\"kind\":\"CLUSTER_EVENT_PARTITION_ASSIGNED\",\"job\":\"a\",\"partition\":1,"
                                         "\"worker\":\"w1\",\"from_worker\":\"\",\"epoch\":\"1\""));

  // --follow: each poll prints what is new; events appended between polls show up once.
  weir::cli::EventsOptions follow;
  follow.follow = true;
  follow.poll_interval = std::chrono::milliseconds(1);
  std::ostringstream followed;
  int polls = 0;
  follow.stop = [&] {
    ++polls;
    if (polls == 1) REQUIRE(f.coordinator->CancelJob("a", f.now_ms + 100).ok());
    return polls >= 3 || polls > 1000;
  };
  REQUIRE(weir::cli::EventList(f.address, follow, followed).ok());
  CHECK(polls == 3);
  const std::string text = followed.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 6);
  CHECK_THAT(text, Catch::EndsWith("2023-11-14T22:13:20.100Z  job-cancelled         a  job a cancelled\n"));

  SECTION("an unreachable coordinator") {
    auto unreachable = weir::cli::EventList(ClosedAddress(), {}, out);
    CHECK(unreachable.code() == weir::StatusCode::kUnavailable);
    CHECK_THAT(unreachable.message(), Catch::Contains("cannot reach the coordinator"));
  }
}

TEST_CASE("weirctl: HumanBytes", "[cli]") {
  CHECK(weir::cli::HumanBytes(0) == "0 B");
  CHECK(weir::cli::HumanBytes(1023) == "1023 B");
  CHECK(weir::cli::HumanBytes(1024) == "1.0 KiB");
  CHECK(weir::cli::HumanBytes(12595) == "12.3 KiB");
  CHECK(weir::cli::HumanBytes(5 * 1024 * 1024) == "5.0 MiB");
  CHECK(weir::cli::HumanBytes(int64_t{3} << 40) == "3.0 TiB");
}
