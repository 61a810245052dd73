#include "wire/frame.hpp"

#include <algorithm>
#include <cstring>

namespace automatelinux::wire {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes, 4);
}

std::uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
         std::uint32_t{u[3]};
}

}  // namespace

namespace {
std::string encode_head(const nlohmann::json& header, std::size_t body_size, std::size_t reserve) {
  const std::string head = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::size_t total = 4 + head.size() + body_size;
  if (total > kMaxFrameSize) throw FrameError("frame too large to send: " + std::to_string(total));
  std::string out;
  out.reserve(kPrefixSize + head.size() + reserve);
  put_u32(out, static_cast<std::uint32_t>(total));
  put_u32(out, static_cast<std::uint32_t>(head.size()));
  out += head;
  return out;
}
}  // namespace

std::string encode(const nlohmann::json& header, std::string_view body) {
  std::string out = encode_head(header, body.size(), body.size());
  out.append(body.data(), body.size());
  return out;
}

std::string encode_head(const nlohmann::json& header, std::size_t body_size) {
  return encode_head(header, body_size, 0);
}

std::vector<std::string> split_nul(std::string_view body) {
  std::vector<std::string> parts;
  while (true) {
    const auto nul = body.find('\0');
    parts.emplace_back(body.substr(0, nul));
    if (nul == std::string_view::npos) return parts;
    body.remove_prefix(nul + 1);
  }
}

std::string join_nul(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.push_back('\0');
    out += parts[i];
  }
  return out;
}

std::uint64_t uint_field(const nlohmann::json& header, const char* key, std::uint64_t fallback) {
  auto it = header.find(key);
  if (it == header.end()) return fallback;
  if (!it->is_number_unsigned())
    throw FrameError(std::string("field '") + key + "' must be a non-negative integer");
  return it->get<std::uint64_t>();
}

std::int64_t int_field(const nlohmann::json& header, const char* key, std::int64_t fallback) {
  auto it = header.find(key);
  if (it == header.end()) return fallback;
  if (!it->is_number_integer())
    throw FrameError(std::string("field '") + key + "' must be an integer");
  return it->get<std::int64_t>();
}

bool bool_field(const nlohmann::json& header, const char* key, bool fallback) {
  auto it = header.find(key);
  if (it == header.end()) return fallback;
  if (!it->is_boolean()) throw FrameError(std::string("field '") + key + "' must be a boolean");
  return it->get<bool>();
}

std::string string_field(const nlohmann::json& header, const char* key,
                         const std::string& fallback) {
  auto it = header.find(key);
  if (it == header.end()) return fallback;
  if (!it->is_string()) throw FrameError(std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

void check_json_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth)
          throw FrameError("frame header nested deeper than " + std::to_string(max_depth));
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
}

Frame decode_payload(std::string_view payload) {
  if (payload.size() < 4) throw FrameError("frame shorter than its header length field");
  const std::uint32_t head_len = get_u32(payload.data());
  if (head_len > payload.size() - 4)
    throw FrameError("frame header length " + std::to_string(head_len) + " exceeds frame size " +
                     std::to_string(payload.size()));
  const std::string_view head = payload.substr(4, head_len);
  check_json_depth(head);
  Frame frame;
  frame.header = nlohmann::json::parse(head, nullptr, /*allow_exceptions=*/false);
  if (frame.header.is_discarded()) throw FrameError("frame header is not valid JSON");
  if (!frame.header.is_object()) throw FrameError("frame header is not a JSON object");
  auto type = frame.header.find("t");
  if (type == frame.header.end() || !type->is_string())
    throw FrameError("frame header has no string field 't'");
  frame.body.assign(payload.substr(4 + head_len));
  return frame;
}

std::pair<char*, std::size_t> Decoder::prepare(std::size_t at_least) {
  if (offset_ == end_) {
    offset_ = end_ = 0;
    // Drained: room grown for a large frame goes back to the allocator.
    if (storage_.size() > 4 * kMaxChunk) std::string().swap(storage_);
  }
  if (storage_.size() - end_ < at_least) {
    // Out of room at the end: the partial frame moves to the front. A busy stream doubles the
    // storage up to four times `at_least`, so that move (half a frame on average) comes once
    // per several frames read; a frame larger than that grows it as far as it needs.
    std::memmove(storage_.data(), storage_.data() + offset_, end_ - offset_);
    end_ -= offset_;
    offset_ = 0;
    const std::size_t wanted =
        std::max(end_ + at_least, std::min(2 * storage_.size(), 4 * at_least));
    if (wanted > storage_.size()) storage_.resize(wanted);
  }
  return {storage_.data() + end_, storage_.size() - end_};
}

void Decoder::feed(const char* data, std::size_t size) {
  std::memcpy(prepare(size).first, data, size);
  commit(size);
}

std::optional<Frame> Decoder::next() {
  const std::size_t available = end_ - offset_;
  if (available < 4) return std::nullopt;
  const std::uint32_t total = get_u32(storage_.data() + offset_);
  if (total > max_frame_)
    throw FrameError("frame of " + std::to_string(total) + " bytes exceeds the limit of " +
                     std::to_string(max_frame_));
  if (total < 4) throw FrameError("frame length " + std::to_string(total) + " is too small");
  if (available < 4 + std::size_t{total}) return std::nullopt;
  Frame frame = decode_payload(std::string_view(storage_).substr(offset_ + 4, total));
  offset_ += 4 + total;
  return frame;
}

}  // namespace automatelinux::wire
