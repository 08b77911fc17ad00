// Bearer tokens and their roles (docs/operations.md, "Security"), without
// gRPC: what a server's --tokens-file says and what a client's --token-file
// holds. Tokens come from files only, never from command lines (where `ps`
// shows them to every local user).
//
// Pure functions and a value type; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace weir {

// What a token may do. A token may hold several roles.
enum class Role : uint8_t {
  kAdmin = 1,     // submit, cancel and checkpoint jobs (and read the coordinator's state)
  kWorker = 2,    // register, heartbeat, leave; write a job's rows to the store
  kReader = 4,    // read features (and the coordinator's state: jobs, workers, events)
  kImporter = 8,  // backfill rows (weirctl features import)
};

// A set of roles, as a bit mask of Role values.
class Roles {
 public:
  constexpr Roles() = default;
  constexpr Roles(Role r) : bits_(static_cast<uint8_t>(r)) {}  // NOLINT(google-explicit-constructor)
  constexpr Roles operator|(Roles o) const { return Roles(static_cast<uint8_t>(bits_ | o.bits_)); }
  constexpr bool Intersects(Roles o) const { return (bits_ & o.bits_) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  // "admin", "reader, importer": for error messages.
  std::string ToString() const;

 private:
  constexpr explicit Roles(uint8_t bits) : bits_(bits) {}
  uint8_t bits_ = 0;
};

constexpr Roles operator|(Role a, Role b) { return Roles(a) | Roles(b); }

// What one token may do: its roles and, for a worker token bound to one
// worker (`worker:ID`), that worker's id.
struct Grant {
  Roles roles;
  std::string worker_id;  // empty: any worker id
};

// A server's tokens: each token's roles.
class TokenTable {
 public:
  // Reads a tokens file: one token per line, `TOKEN ROLE[,ROLE...]`
  // (roles: admin, worker, reader, importer; `worker:ID` binds a worker token
  // to the worker `ID`, which it alone may register and heartbeat as); blank
  // lines and lines starting with '#' are skipped. An error names the file
  // and the line. A file with no token is an error (it would refuse every
  // call).
  [[nodiscard]] static Result<TokenTable> Load(const std::string& path);
  // Parses the text of a tokens file; `source` names it in errors.
  [[nodiscard]] static Result<TokenTable> Parse(std::string_view text, const std::string& source);

  // The roles of `token`; empty when the token is unknown.
  Roles RolesOf(std::string_view token) const;
  // What `token` may do; null when the token is unknown.
  const Grant* GrantOf(std::string_view token) const;
  size_t size() const { return grants_.size(); }

 private:
  std::map<std::string, Grant, std::less<>> grants_;
};

// Reads a client's token file: the token is the file's first line, without
// surrounding white space. An error names the file.
[[nodiscard]] Result<std::string> ReadTokenFile(const std::string& path);

}  // namespace weir
