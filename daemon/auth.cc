#include "daemon/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace weir {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

Result<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return NotFound(std::string("cannot read the ") + what + " \"" + path + "\": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "worker") return Role::kWorker;
  if (name == "reader") return Role::kReader;
  if (name == "importer") return Role::kImporter;
  return InvalidArgument("unknown role \"" + std::string(name) +
                         "\" (roles: admin, worker, reader, importer; worker:ID for one worker)");
}

}  // namespace

std::string Roles::ToString() const {
  std::string out;
  for (const auto& [role, name] : {std::pair{Role::kAdmin, "admin"}, std::pair{Role::kWorker, "worker"},
                                   std::pair{Role::kReader, "reader"}, std::pair{Role::kImporter, "importer"}}) {
    if (!Intersects(role)) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out.empty() ? "no role" : out;
}

Result<TokenTable> TokenTable::Parse(std::string_view text, const std::string& source) {
  TokenTable table;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto where = [&] { return source + " line " + std::to_string(line_no) + ": "; };
    const size_t space = line.find_first_of(kSpace);
    if (space == std::string_view::npos) {
      return InvalidArgument(where() + "want `TOKEN ROLE[,ROLE...]`, found no role");
    }
    const std::string token(line.substr(0, space));
    std::string_view names = Trim(line.substr(space));
    Grant grant;
    while (!names.empty()) {
      const size_t comma = names.find(',');
      std::string_view name = Trim(names.substr(0, comma));
      names = comma == std::string_view::npos ? std::string_view{} : names.substr(comma + 1);
      if (name.starts_with("worker:")) {
        grant.worker_id = std::string(Trim(name.substr(7)));
        if (grant.worker_id.empty()) return InvalidArgument(where() + "`worker:` needs a worker id after it");
        name = "worker";
      }
      auto role = ParseRole(name);
      if (!role.ok()) return InvalidArgument(where() + role.status().message());
      grant.roles = grant.roles | *role;
    }
    if (!table.grants_.emplace(token, std::move(grant)).second) {
      return InvalidArgument(where() + "a token listed twice (give it all its roles on one line)");
    }
  }
  if (table.grants_.empty()) {
    return InvalidArgument(source + " lists no token (one `TOKEN ROLE[,ROLE...]` per line)");
  }
  return table;
}

Result<TokenTable> TokenTable::Load(const std::string& path) {
  auto text = ReadWholeFile(path, "tokens file");
  if (!text.ok()) return text.status();
  return Parse(*text, "tokens file \"" + path + "\"");
}

Roles TokenTable::RolesOf(std::string_view token) const {
  const Grant* grant = GrantOf(token);
  return grant == nullptr ? Roles() : grant->roles;
}

const Grant* TokenTable::GrantOf(std::string_view token) const {
  auto it = grants_.find(token);
  return it == grants_.end() ? nullptr : &it->second;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  auto text = ReadWholeFile(path, "token file");
  if (!text.ok()) return text.status();
  const std::string_view token = Trim(std::string_view(*text).substr(0, text->find('\n')));
  if (token.empty()) return InvalidArgument("the token file \"" + path + "\" is empty (its first line is the token)");
  return std::string(token);
}

}  // namespace weir
