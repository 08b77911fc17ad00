// The one mapping between Status and gRPC status, both ways: codes survive a
// round trip, gRPC-only codes land on the nearest Status code, and no
// message is ever empty.
#include <grpcpp/support/status.h>

#include <catch2/catch.hpp>

#include "daemon/grpc_util.h"

using weir::FromGrpcStatus;
using weir::Status;
using weir::StatusCode;
using weir::ToGrpcStatus;

TEST_CASE("Status survives ToGrpcStatus then FromGrpcStatus with its code and message", "[daemon]") {
  for (StatusCode code :
       {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kAlreadyExists,
        StatusCode::kFailedPrecondition, StatusCode::kDataLoss, StatusCode::kUnavailable, StatusCode::kInternal}) {
    const Status back = FromGrpcStatus(ToGrpcStatus(Status(code, "job \"x\" is bad")));
    CHECK(back.code() == code);
    CHECK(back.message() == "job \"x\" is bad");
  }
  CHECK(ToGrpcStatus(Status::Ok()).ok());
  CHECK(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST_CASE("FromGrpcStatus maps the codes only gRPC has to the nearest Status code", "[daemon]") {
  auto code_of = [](grpc::StatusCode c) { return FromGrpcStatus(grpc::Status(c, "m")).code(); };
  CHECK(code_of(grpc::StatusCode::DEADLINE_EXCEEDED) == StatusCode::kUnavailable);
  CHECK(code_of(grpc::StatusCode::RESOURCE_EXHAUSTED) == StatusCode::kUnavailable);
  CHECK(code_of(grpc::StatusCode::CANCELLED) == StatusCode::kUnavailable);
  CHECK(code_of(grpc::StatusCode::PERMISSION_DENIED) == StatusCode::kFailedPrecondition);
  CHECK(code_of(grpc::StatusCode::UNAUTHENTICATED) == StatusCode::kFailedPrecondition);
  CHECK(code_of(grpc::StatusCode::ABORTED) == StatusCode::kFailedPrecondition);
  CHECK(code_of(grpc::StatusCode::OUT_OF_RANGE) == StatusCode::kInvalidArgument);
  CHECK(code_of(grpc::StatusCode::UNIMPLEMENTED) == StatusCode::kInternal);
  CHECK(code_of(grpc::StatusCode::UNKNOWN) == StatusCode::kInternal);
}

TEST_CASE("FromGrpcStatus names the gRPC code when the peer sent no message", "[daemon]") {
  // What a client gets from a server that lacks the service: no message.
  const Status s = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""));
  CHECK(s.message() == "UNIMPLEMENTED (is this the right service at that address?)");
  CHECK(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")).message() == "UNAVAILABLE");
}
