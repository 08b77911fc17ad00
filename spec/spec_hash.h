// The identity of a job spec's content: the coordinator sends it with every
// assignment, and a worker holding a spec of that hash needs no copy.
#pragma once

#include <cstdint>

#include "weir/v1/job.pb.h"

namespace weir {

// XXH3 of the spec's deterministic serialization (stable for map fields too),
// so equal specs hash equally in every process of one build.
uint64_t SpecHash(const weir::v1::JobSpec& spec);

}  // namespace weir
