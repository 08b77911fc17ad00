// Fuzzes the job-spec parser. Input: YAML text. Invariants: the parser never
// throws or crashes; a spec it accepts passes validation again, compiles into
// a plan, and hashes the same after a round trip through its wire form.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/plan.h"
#include "spec/job_spec.h"
#include "spec/job_spec_yaml.h"
#include "spec/spec_hash.h"
#include "tests/fuzz/fuzz_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;  // NOLINT(google-build-using-namespace): a fuzz entry point
  auto spec = ParseJobSpecYaml(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!spec.ok()) {
    fuzz::Require(!spec.status().message().empty(), "a refused spec says why");
    return 0;
  }
  fuzz::Require(ValidateJobSpec(*spec).ok(), "a parsed spec validates");
  fuzz::Require(engine::CompilePlan(*spec).ok(), "a valid spec compiles");
  weir::v1::JobSpec copy;
  fuzz::Require(copy.ParseFromString(spec->SerializeAsString()), "a spec reads back from the wire");
  fuzz::Require(SpecHash(copy) == SpecHash(*spec), "a spec hashes the same after a round trip");
  return 0;
}
