// source.partitioned_by and repartition: which jobs are re-keyed, and the
// misconfigurations refused at submit.
#include <catch2/catch.hpp>

#include <string>

#include "spec/job_spec.h"
#include "spec/job_spec_yaml.h"

namespace weir {
namespace {

std::string Spec(const std::string& source_extra, const std::string& extra = "") {
  return "name: j\nsource: { kafka: { brokers: \"k:9092\", topic: t }" + source_extra +
         " }\nkey: merchant\nevent_time: { field: ts }\nview: v\n"
         "features:\n  - { name: n, agg: count, window: { tumbling: 1m } }\n"
         "sink: { feature_store: \"fs:7070\" }\n" +
         extra;
}

TEST_CASE("a job is re-keyed only when partitioned_by names something other than its key", "[spec]") {
  Result<v1::JobSpec> plain = ParseJobSpecYaml(Spec(""));
  REQUIRE(plain.ok());
  CHECK_FALSE(IsRekeyed(*plain));

  Result<v1::JobSpec> same = ParseJobSpecYaml(Spec(", partitioned_by: merchant"));
  REQUIRE(same.ok());
  CHECK_FALSE(IsRekeyed(*same));

  Result<v1::JobSpec> rekeyed = ParseJobSpecYaml(Spec(", partitioned_by: user_id", "repartition: { partitions: 8 }\n"));
  REQUIRE(rekeyed.ok());
  CHECK(IsRekeyed(*rekeyed));
  CHECK(rekeyed->repartition().partitions() == 8);
  CHECK(RepartitionTopicOf(*rekeyed) == "weir.j.repartition");

  Result<v1::JobSpec> by_message_key = ParseJobSpecYaml(Spec(", partitioned_by: kafka_key"));
  REQUIRE(by_message_key.ok());
  CHECK(IsRekeyed(*by_message_key));
}

TEST_CASE("misused partitioned_by and repartition are refused with their path", "[spec]") {
  auto error = [](const std::string& yaml) {
    Result<v1::JobSpec> spec = ParseJobSpecYaml(yaml);
    REQUIRE_FALSE(spec.ok());
    return spec.status().message();
  };
  CHECK(error(Spec(", partitioned_by: ts")).find("source.partitioned_by: \"ts\" is the event-time field") !=
        std::string::npos);
  CHECK(error(Spec(", partitioned_by: \"a b\"")).find("source.partitioned_by: \"a b\" is not a top-level field") !=
        std::string::npos);
  CHECK(error(Spec("", "repartition: { partitions: 4 }\n")).find("repartition: applies only to a re-keyed job") !=
        std::string::npos);
  CHECK(error(Spec(", partitioned_by: user_id", "repartition: { partitions: -1 }\n"))
            .find("repartition.partitions: -1 is not in [0, 10000]") != std::string::npos);
  CHECK(error(Spec(", partitioned_by: user_id", "repartition: { partitions: many }\n"))
            .find("repartition.partitions: \"many\" is not a whole number") != std::string::npos);
  CHECK(error(Spec(", partitioned_by: user_id", "repartition: { size: 4 }\n")).find("repartition.size") !=
        std::string::npos);

  // From the wire: the same checks.
  Result<v1::JobSpec> spec = ParseJobSpecYaml(Spec(""));
  REQUIRE(spec.ok());
  spec->mutable_repartition()->set_partitions(3);
  const Status checked = ValidateJobSpec(*spec);
  REQUIRE_FALSE(checked.ok());
  CHECK(checked.message().find("repartition: applies only to a re-keyed job") != std::string::npos);
}

}  // namespace
}  // namespace weir
