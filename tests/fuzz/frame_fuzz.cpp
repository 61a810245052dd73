// libFuzzer target for the frame codec: any byte sequence must decode into frames or a
// FrameError — never a crash, hang, or unbounded allocation.
#include <cstddef>
#include <cstdint>

#include "wire/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  automatelinux::wire::Decoder decoder;
  // Feed in two pieces so split frames are exercised too.
  const std::size_t half = size / 2;
  try {
    decoder.feed(reinterpret_cast<const char*>(data), half);
    while (decoder.next()) {
    }
    decoder.feed(reinterpret_cast<const char*>(data) + half, size - half);
    while (auto frame = decoder.next()) {
      (void)frame->type();
      (void)automatelinux::wire::encode(frame->header, frame->body);
    }
  } catch (const automatelinux::wire::FrameError&) {
  }
  return 0;
}
