// The feature store's gRPC services over a RowStore: FeatureSink (the write
// path workers stream batches into) and FeatureStore (online reads and
// exports). Write, Import and Export are sync handlers on gRPC's thread pool;
// GetOnlineFeatures is a callback handler answered inline on gRPC's callback
// threads. All state is in the RowStore, which is thread-safe.
#pragma once

#include <functional>
#include <memory>

#include <grpcpp/impl/codegen/service_type.h>

#include "daemon/prometheus_fwd.h"
#include "featurestore/row_store.h"

namespace weir {
class Authorizer;
}

namespace weir::featurestore {

class KeyOwners;

// Both services, sharing one store. The store must outlive them.
struct FeatureStoreServices {
  std::unique_ptr<grpc::Service> sink;
  std::unique_ptr<grpc::Service> store;
  // Looks at the store's disk again (RowStore::CheckStorage: resumes writes
  // once space is back) and updates the storage gauges. The daemon calls it
  // every second from a thread of its own.
  std::function<void()> watch_storage;
  // Drops the rows past each view's retention (RowStore::ExpireRows at the
  // wall clock), counts them in weir_store_rows_expired_total{view} and logs
  // them. The daemon calls it every --retention-interval from a thread of
  // its own.
  std::function<void()> expire_rows;
};

// Registers the store's metrics (docs in featurestore/README.md) in
// `registry` when it is not null, and builds the services. With an
// `authorizer` (which must outlive them) each method checks its role: Write
// needs `worker`, Import `importer`, GetOnlineFeatures and Export `reader`.
// With `key_owners` (which must outlive them) Write checks that each key of
// a job comes from one partition, and its reply names the rows that do not
// (key_owners.h).
FeatureStoreServices MakeFeatureStoreServices(RowStore* store, prometheus::Registry* registry = nullptr,
                                              const Authorizer* authorizer = nullptr, KeyOwners* key_owners = nullptr);

// The highest epoch FeatureSink.Write accepts at wall-clock time `now_ms`:
// a day past it. The coordinator issues epochs by counting from 1, or, when
// it re-epochs a partition, from its wall clock (docs/checkpoints.md); an
// epoch above this one was never issued, and would fence the partition for
// good.
uint64_t MaxAcceptedEpoch(int64_t now_ms);

}  // namespace weir::featurestore
