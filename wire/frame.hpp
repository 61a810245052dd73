// Wire format: one frame = u32 N · u32 H · H bytes of JSON header · N-4-H bytes of raw body.
// Both integers are big-endian; N counts everything after itself. The same framing carries the
// CLI's Unix-socket protocol and the peer protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace automatelinux::wire {

inline constexpr std::size_t kMaxFrameSize = 1024 * 1024;  // N, checked before allocating
inline constexpr std::size_t kMaxChunk = 64 * 1024;        // data bytes per frame
inline constexpr int kMaxJsonDepth = 32;
inline constexpr std::size_t kPrefixSize = 8;

struct Frame {
  nlohmann::json header;  // always an object with a string "t" (the message type)
  std::string body;

  const std::string& type() const { return header.at("t").get_ref<const std::string&>(); }
};

// Malformed input: the message names what was wrong, on one line.
class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Typed access to untrusted header fields: a missing field gives the default, a field of the
// wrong type throws FrameError naming it (never nlohmann::type_error).
std::uint64_t uint_field(const nlohmann::json& header, const char* key, std::uint64_t fallback);
std::int64_t int_field(const nlohmann::json& header, const char* key, std::int64_t fallback);
bool bool_field(const nlohmann::json& header, const char* key, bool fallback);
std::string string_field(const nlohmann::json& header, const char* key,
                         const std::string& fallback);

// Byte strings (arguments, directories) travel NUL-separated in a frame's body.
std::vector<std::string> split_nul(std::string_view body);
std::string join_nul(const std::vector<std::string>& parts);

// Serialises a frame. Strings in `header` that are not valid UTF-8 are replaced rather than
// throwing; byte strings belong in the body.
std::string encode(const nlohmann::json& header, std::string_view body = {});
// The part of a frame before its body (length prefixes and header), for a writer that sends the
// body from its own buffer (a gathered write) instead of copying it behind the header.
std::string encode_head(const nlohmann::json& header, std::size_t body_size);

// Validates nesting depth without building anything, so a hostile header cannot exhaust the stack.
void check_json_depth(std::string_view text, int max_depth = kMaxJsonDepth);

// Parses one frame's payload (everything after N): the header length, the header and the body.
Frame decode_payload(std::string_view payload);

// Incremental decoder for a byte stream. Holds at most one partial frame plus what was read.
// A reader reads straight into the decoder (prepare, then commit) instead of copying in (feed).
class Decoder {
 public:
  // Frames larger than `max_frame` (N, at most kMaxFrameSize) are refused as soon as their length
  // prefix arrives, before their bytes are buffered; e.g. a small cap before authentication.
  void set_max_frame(std::size_t max_frame) {
    max_frame_ = max_frame < kMaxFrameSize ? max_frame : kMaxFrameSize;
  }
  std::size_t max_frame() const { return max_frame_; }
  // Room for at least `at_least` bytes after what is buffered (all the room there is, which may
  // be more). It stays valid until the next prepare or feed; only those move buffered bytes.
  std::pair<char*, std::size_t> prepare(std::size_t at_least);
  // `n` bytes were written into the room prepare gave.
  void commit(std::size_t n) { end_ += n; }
  void feed(const char* data, std::size_t size);
  // Returns the next complete frame, or nothing if more bytes are needed. Throws FrameError on
  // malformed input; the stream is unusable after that.
  std::optional<Frame> next();
  std::size_t buffered() const { return end_ - offset_; }

 private:
  std::string storage_;  // all of it is usable room (sized, so zero-filled only when it grows)
  std::size_t offset_ = 0, end_ = 0;  // the buffered bytes are [offset_, end_)
  std::size_t max_frame_ = kMaxFrameSize;
};

}  // namespace automatelinux::wire
