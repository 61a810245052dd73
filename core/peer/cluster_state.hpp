// What a daemon remembers about the cluster, in its state dir. Every file is replaced atomically
// (write, fsync, rename); secrets are 0600.
//   peer.json     this daemon's id, role, leader / listen address
//   tls/          node.key node.crt ca.crt (every member); ca.key (leader only)
//   members.json  leader only: enrolled workers, their certificate fingerprints and the id of the
//                 token that enrolled each; every revoked certificate; when each id was last
//                 removed
//   roster.json   every member: the signed member table (core/peer/roster_book.hpp)
//   tokens.json   leader only: join tokens (only a hash of each secret) with their public id,
//                 expiry, uses, the members each enrolled and revocation
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace automatelinux::core::peer {

inline constexpr std::uint16_t kDefaultPort = 3600;

struct LocalConfig {
  std::string id;
  std::string role;        // "leader" or "worker"
  std::string leader;      // HOST:PORT, workers
  std::string listen;      // HOST:PORT, leaders; workers' direct sessions (empty: the default)
  std::int64_t since = 0;  // unix seconds when this role was set
  // Workers: when this daemon learned that it was removed from the cluster (the leader refused
  // its certificate, or a signed roster revokes it); 0 = not removed. A removed worker dials
  // no one until it is joined again with a token.
  std::int64_t removed_at = 0;

  // Where this member takes peer sessions: `listen`, else 0.0.0.0:3600.
  std::string listen_or_default() const;
};

struct Member {
  std::string fingerprint;
  std::int64_t enrolled_at = 0;
  std::string token;  // public id of the join token that enrolled it; empty if unknown (older file)
};

// One revoked certificate. Kept per certificate, never replaced: an id removed twice has two
// (node certificates live ten years, so the list is kept whole; it is small).
struct Revocation {
  std::string id;
  std::string fingerprint;
  std::int64_t at = 0;
  bool operator==(const Revocation&) const = default;
};

struct JoinToken {
  std::string secret_sha256;
  std::int64_t created = 0;
  std::int64_t expires = 0;
  std::string id;                     // short public id; older files: derived from the hash on load
  std::uint32_t uses = 0;             // enrollments allowed; 0 = any number until it expires
  std::uint32_t used = 0;             // enrollments done
  std::vector<std::string> enrolled;  // member ids it enrolled
  std::int64_t revoked_at = 0;        // 0 = not revoked
  std::string revoked_reason;         // e.g. "it enrolled vps, which was removed"

  bool revoked() const { return revoked_at != 0; }
  bool used_up() const { return uses != 0 && used >= uses; }
};

class ClusterState {
 public:
  explicit ClusterState(std::filesystem::path state_dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path tls_dir() const { return dir_ / "tls"; }

  std::optional<LocalConfig> config;
  bool is_leader() const { return config && config->role == "leader"; }
  bool is_worker() const { return config && config->role == "worker"; }
  std::string self_id() const { return config ? config->id : std::string{}; }
  std::map<std::string, Member> members;
  std::vector<Revocation> revoked;                 // every revoked certificate, oldest first
  std::map<std::string, std::int64_t> removed_at;  // by id: its latest removal (the token rule)
  std::vector<JoinToken> tokens;

  bool is_revoked(const std::string& fingerprint) const;
  // Records the removal of `id` whose certificate is `fingerprint`, at `at`.
  void revoke(const std::string& id, const std::string& fingerprint, std::int64_t at);

  // Missing files are empty state; corrupt ones throw std::runtime_error. A members.json from
  // before per-certificate revocations (an object of revocations by id) is converted and
  // written back in the new form.
  void load();
  void save_config() const;
  void save_members() const;
  void save_tokens() const;

  std::optional<std::string> read_tls(const std::string& name) const;
  void write_tls(const std::string& name, const std::string& pem, bool secret) const;

 private:
  // Reads members.json; true when it had the old form (revocations by id) and was converted.
  bool load_members();

  std::filesystem::path dir_;
};

// Writes `content` to `path` atomically with the given mode.
void write_file_atomic(const std::filesystem::path& path, const std::string& content, int mode);
std::optional<std::string> read_file(const std::filesystem::path& path);

std::int64_t unix_now();
std::string iso8601_utc(std::int64_t unix_seconds);

// "host:port" with the port defaulting to 3600; throws std::invalid_argument naming the problem.
std::pair<std::string, std::uint16_t> split_host_port(const std::string& text);
// Why `listen` (HOST:PORT, HOST an IP address) cannot be listened on, in one line for the user;
// else nothing, and `normalized` is set.
std::optional<std::string> listen_refusal(const std::string& listen, std::string& normalized);

}  // namespace automatelinux::core::peer
