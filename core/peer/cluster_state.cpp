#include "core/peer/cluster_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

namespace automatelinux::core::peer {
namespace fs = std::filesystem;
using nlohmann::json;

void write_file_atomic(const fs::path& path, const std::string& content, int mode) {
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp.string());
  ::fchmod(fd, static_cast<mode_t>(mode));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + tmp.string());
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, path);
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso8601_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t));
}

std::pair<std::string, std::uint16_t> split_host_port(const std::string& text) {
  std::string host = text;
  std::uint16_t port = kDefaultPort;
  const auto colon = text.rfind(':');
  if (colon != std::string::npos && text.find(':') == colon) {  // not an IPv6 literal
    host = text.substr(0, colon);
    const std::string digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string::npos || std::stoi(digits) == 0 ||
        std::stoi(digits) > 65535)
      throw std::invalid_argument("invalid port in '" + text + "'");
    port = static_cast<std::uint16_t>(std::stoi(digits));
  }
  if (host.empty()) throw std::invalid_argument("missing host in '" + text + "'");
  return {host, port};
}

std::optional<std::string> listen_refusal(const std::string& listen, std::string& normalized) {
  try {
    const auto [host, port] = split_host_port(listen);
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) return "--listen needs an IP address, not '" + host + "'";
    normalized = host + ":" + std::to_string(port);
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string("--listen: ") + e.what();
  }
}

std::string LocalConfig::listen_or_default() const {
  return listen.empty() ? "0.0.0.0:" + std::to_string(kDefaultPort) : listen;
}

ClusterState::ClusterState(fs::path state_dir) : dir_(std::move(state_dir)) {}

namespace {

// A state file's JSON object; nothing when the file is missing; throws when it is corrupt.
std::optional<json> parse_state_file(const fs::path& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error(path.string() + " is corrupt");
  return j;
}

std::optional<LocalConfig> config_from(const json& j) {
  LocalConfig c;
  c.id = j.value("id", "");
  c.role = j.value("role", "");
  c.leader = j.value("leader", "");
  c.listen = j.value("listen", "");
  c.since = j.value("since", std::int64_t{0});
  c.removed_at = j.value("removed_at", std::int64_t{0});
  if (c.id.empty() || (c.role != "leader" && c.role != "worker")) return std::nullopt;
  return c;
}

JoinToken token_from(const json& t) {
  JoinToken token;
  token.secret_sha256 = t.value("secret_sha256", "");
  token.created = t.value("created", std::int64_t{0});
  token.expires = t.value("expires", std::int64_t{0});
  // Files from before token ids: a stable id from the stored hash (not from the secret).
  token.id = t.value("id", token.secret_sha256.substr(0, 8));
  token.uses = t.value("uses", std::uint32_t{0});
  token.used = t.value("used", std::uint32_t{0});
  if (const auto e = t.find("enrolled"); e != t.end() && e->is_array())
    for (const auto& id : *e)
      if (id.is_string()) token.enrolled.push_back(id.get<std::string>());
  token.revoked_at = t.value("revoked_at", std::int64_t{0});
  token.revoked_reason = t.value("revoked_reason", "");
  return token;
}

}  // namespace

void ClusterState::load() {
  config.reset();
  if (auto j = parse_state_file(dir_ / "peer.json")) config = config_from(*j);
  const bool converted = load_members();
  tokens.clear();
  if (auto j = parse_state_file(dir_ / "tokens.json")) {
    const json& list = (*j)["tokens"];
    if (list.is_array())
      for (const auto& t : list)
        if (t.is_object()) tokens.push_back(token_from(t));
  }
  if (converted) save_members();
}

bool ClusterState::load_members() {
  members.clear();
  revoked.clear();
  removed_at.clear();
  bool legacy_revocations = false;
  if (auto j = parse_state_file(dir_ / "members.json")) {
    const json& m = (*j)["members"];
    const json& r = (*j)["revoked"];
    const json& removed = (*j)["removed"];
    if (m.is_object())
      for (auto it = m.begin(); it != m.end(); ++it)
        members[it.key()] =
            Member{it->value("fingerprint", ""), it->value("enrolled_at", std::int64_t{0}),
                   it->value("token", "")};
    if (r.is_array()) {
      for (const auto& entry : r)
        if (entry.is_object())
          revoked.push_back(Revocation{entry.value("id", ""), entry.value("fingerprint", ""),
                                       entry.value("at", std::int64_t{0})});
    } else if (r.is_object()) {
      // The old form kept one revocation per id, so an id removed twice had lost its first
      // certificate already: what is left is converted, and nothing can bring that one back.
      legacy_revocations = true;
      for (auto it = r.begin(); it != r.end(); ++it) {
        const auto at = it->value("at", std::int64_t{0});
        revoked.push_back(Revocation{it.key(), it->value("fingerprint", ""), at});
        removed_at[it.key()] = std::max(removed_at[it.key()], at);
      }
    }
    if (removed.is_object())
      for (auto it = removed.begin(); it != removed.end(); ++it)
        if (it->is_number_integer()) removed_at[it.key()] = it->get<std::int64_t>();
  }
  std::stable_sort(revoked.begin(), revoked.end(),
                   [](const Revocation& a, const Revocation& b) { return a.at < b.at; });
  return legacy_revocations;
}

bool ClusterState::is_revoked(const std::string& fingerprint) const {
  return std::any_of(revoked.begin(), revoked.end(),
                     [&](const Revocation& r) { return r.fingerprint == fingerprint; });
}

void ClusterState::revoke(const std::string& id, const std::string& fingerprint, std::int64_t at) {
  if (!fingerprint.empty() && !is_revoked(fingerprint))
    revoked.push_back(Revocation{id, fingerprint, at});
  removed_at[id] = std::max(removed_at[id], at);
}

void ClusterState::save_config() const {
  json j = json::object();
  if (config) {
    j = {{"id", config->id}, {"role", config->role}, {"since", config->since}};
    if (!config->leader.empty()) j["leader"] = config->leader;
    if (!config->listen.empty()) j["listen"] = config->listen;
    if (config->removed_at != 0) j["removed_at"] = config->removed_at;
  }
  write_file_atomic(dir_ / "peer.json", j.dump(2) + "\n", 0640);
}

void ClusterState::save_members() const {
  json m = json::object(), r = json::array(), removed = json::object();
  for (const auto& [id, member] : members)
    m[id] = {{"fingerprint", member.fingerprint},
             {"enrolled_at", member.enrolled_at},
             {"token", member.token}};
  for (const auto& rev : revoked)
    r.push_back({{"id", rev.id}, {"fingerprint", rev.fingerprint}, {"at", rev.at}});
  for (const auto& [id, at] : removed_at) removed[id] = at;
  write_file_atomic(dir_ / "members.json",
                    json{{"members", m}, {"revoked", r}, {"removed", removed}}.dump(2) + "\n",
                    0640);
}

void ClusterState::save_tokens() const {
  json t = json::array();
  for (const auto& token : tokens)
    t.push_back({{"id", token.id},
                 {"secret_sha256", token.secret_sha256},
                 {"created", token.created},
                 {"expires", token.expires},
                 {"uses", token.uses},
                 {"used", token.used},
                 {"enrolled", token.enrolled},
                 {"revoked_at", token.revoked_at},
                 {"revoked_reason", token.revoked_reason}});
  write_file_atomic(dir_ / "tokens.json", json{{"tokens", t}}.dump(2) + "\n", 0600);
}

std::optional<std::string> ClusterState::read_tls(const std::string& name) const {
  return read_file(tls_dir() / name);
}

void ClusterState::write_tls(const std::string& name, const std::string& pem, bool secret) const {
  fs::create_directories(tls_dir());
  fs::permissions(tls_dir(), fs::perms(0700));
  write_file_atomic(tls_dir() / name, pem, secret ? 0600 : 0644);
}

}  // namespace automatelinux::core::peer
