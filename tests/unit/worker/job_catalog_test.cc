#include <catch2/catch.hpp>

#include "spec/spec_hash.h"
#include "tests/unit/worker/worker_test_support.h"
#include "worker/job_catalog.h"

namespace weir::worker {
namespace {

using testing::CountJob;

weir::v1::JobSpecRef Ref(const std::string& job, uint64_t hash) {
  weir::v1::JobSpecRef ref;
  ref.set_job(job);
  ref.set_spec_hash(hash);
  return ref;
}

TEST_CASE("a held spec is kept under the coordinator's hash and not compiled again", "[worker]") {
  const weir::v1::JobSpec spec = CountJob()->spec;
  JobCatalog catalog;
  weir::v1::HeartbeatResponse first;
  *first.add_jobs() = spec;
  *first.add_job_specs() = Ref("clicks", 77);
  catalog.Update(first);
  const HeldJob* held = catalog.Find("clicks");
  REQUIRE(held != nullptr);
  REQUIRE(held->runtime != nullptr);
  const auto runtime = held->runtime;
  const auto refs = catalog.Refs();
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].job() == "clicks");
  CHECK(refs[0].spec_hash() == 77);

  // The coordinator knows the worker holds it: only the hash comes.
  weir::v1::HeartbeatResponse second;
  *second.add_job_specs() = Ref("clicks", 77);
  catalog.Update(second);
  REQUIRE(catalog.Find("clicks") != nullptr);
  CHECK(catalog.Find("clicks")->runtime == runtime);

  // A job no longer listed is forgotten.
  catalog.Update(weir::v1::HeartbeatResponse());
  CHECK(catalog.Find("clicks") == nullptr);
  CHECK(catalog.Refs().empty());
}

TEST_CASE("a changed hash without its spec drops the job, so the next request asks for it", "[worker]") {
  JobCatalog catalog;
  weir::v1::HeartbeatResponse first;
  *first.add_jobs() = CountJob()->spec;
  *first.add_job_specs() = Ref("clicks", 1);
  catalog.Update(first);
  weir::v1::HeartbeatResponse changed;
  *changed.add_job_specs() = Ref("clicks", 2);
  catalog.Update(changed);
  CHECK(catalog.Find("clicks") == nullptr);
  CHECK(catalog.Refs().empty());
}

TEST_CASE("a coordinator sending full specs every time is followed, a spec is compiled only when it changes",
          "[worker]") {
  weir::v1::JobSpec spec = CountJob()->spec;
  JobCatalog catalog;
  weir::v1::HeartbeatResponse full;
  *full.add_jobs() = spec;
  catalog.Update(full);
  REQUIRE(catalog.Find("clicks") != nullptr);
  const auto runtime = catalog.Find("clicks")->runtime;
  CHECK(catalog.Find("clicks")->spec_hash == SpecHash(spec));
  catalog.Update(full);
  CHECK(catalog.Find("clicks")->runtime == runtime);

  spec.set_view("clicks_v2");
  weir::v1::HeartbeatResponse changed;
  *changed.add_jobs() = spec;
  catalog.Update(changed);
  REQUIRE(catalog.Find("clicks")->runtime != nullptr);
  CHECK(catalog.Find("clicks")->runtime != runtime);
  CHECK(catalog.Find("clicks")->runtime->spec.view() == "clicks_v2");
}

TEST_CASE("a spec that does not compile here is held with the reason, and not sent again", "[worker]") {
  weir::v1::JobSpec spec = CountJob()->spec;
  spec.mutable_checkpoint()->set_storage("s3://bucket/checkpoints");
  JobCatalog catalog;
  weir::v1::HeartbeatResponse response;
  *response.add_jobs() = spec;
  *response.add_job_specs() = Ref("clicks", 5);
  catalog.Update(response);
  const HeldJob* held = catalog.Find("clicks");
  REQUIRE(held != nullptr);
  CHECK(held->runtime == nullptr);
  CHECK_THAT(held->error, Catch::Contains("s3://bucket/checkpoints"));
  REQUIRE(catalog.Refs().size() == 1);  // held: the coordinator need not send it again
}

}  // namespace
}  // namespace weir::worker
