#include "wire/frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace wire = automatelinux::wire;

namespace {

std::string prefix(std::uint32_t total, std::uint32_t head) {
  std::string out;
  for (std::uint32_t v : {total, head})
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((v >> shift) & 0xff));
  return out;
}

std::string raw_frame(const std::string& head, const std::string& body) {
  return prefix(static_cast<std::uint32_t>(4 + head.size() + body.size()),
                static_cast<std::uint32_t>(head.size())) +
         head + body;
}

}  // namespace

TEST(Frame, EncodesBigEndianLengthsThenHeaderThenBody) {
  const std::string frame = wire::encode({{"t", "x"}}, "BODY");
  const std::string head = R"({"t":"x"})";
  EXPECT_EQ(frame, prefix(4 + head.size() + 4, head.size()) + head + "BODY");
}

TEST(Frame, RoundTripsBinaryBodyByteForByte) {
  std::string body;
  for (int i = 0; i < 256; ++i) body.push_back(static_cast<char>(i));
  wire::Decoder decoder;
  const std::string frame = wire::encode({{"t", "data"}, {"ch", 1}}, body);
  decoder.feed(frame.data(), frame.size());
  auto decoded = decoder.next();
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->type(), "data");
  EXPECT_EQ(decoded->header["ch"], 1);
  EXPECT_EQ(decoded->body, body);
  EXPECT_FALSE(decoder.next());
}

TEST(Frame, DecodesFramesFedOneByteAtATime) {
  const std::string stream = wire::encode({{"t", "a"}}, "1") + wire::encode({{"t", "b"}}, "") +
                             wire::encode({{"t", "c"}}, std::string(70000, 'z'));
  wire::Decoder decoder;
  std::vector<std::string> types;
  for (char c : stream) {
    decoder.feed(&c, 1);
    while (auto frame = decoder.next()) types.push_back(frame->type());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(decoder.buffered(), 0u);
}

// A reader that reads straight into the decoder, in pieces that cut frames anywhere, as a TLS
// channel does: every frame arrives whole and in order, and the decoder's storage stays within
// four times the room asked for while frames are no larger than that room.
TEST(Frame, FramesReadStraightIntoTheDecoderArriveWholeAndItsRoomStaysBounded) {
  std::string stream;
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; ++i) {
    bodies.push_back(
        std::string(static_cast<std::size_t>(1 + (i * 7919) % 60000), char('a' + i % 26)));
    stream += wire::encode({{"t", "data"}, {"i", i}}, bodies.back());
  }
  constexpr std::size_t kRoom = 64 * 1024;
  wire::Decoder decoder;
  std::size_t pos = 0, largest_room = 0, read = 0;
  int next = 0;
  while (pos < stream.size()) {
    auto [room, room_size] = decoder.prepare(kRoom);
    ASSERT_GE(room_size, kRoom);
    largest_room = std::max(largest_room, room_size + decoder.buffered());
    // Reads of 1 to 16 KiB: a record's worth, or the rest of one.
    const std::size_t n = std::min({room_size, stream.size() - pos, 1 + (read++ * 7001) % 16384});
    std::memcpy(room, stream.data() + pos, n);
    decoder.commit(n);
    pos += n;
    while (auto frame = decoder.next()) {
      ASSERT_EQ(frame->header["i"], next);
      ASSERT_EQ(frame->body, bodies[static_cast<std::size_t>(next)]);
      ++next;
    }
  }
  EXPECT_EQ(next, 200);
  EXPECT_EQ(decoder.buffered(), 0u);
  EXPECT_LE(largest_room, 4 * kRoom);
}

TEST(Frame, TruncatedFrameWaitsForMoreBytes) {
  const std::string frame = wire::encode({{"t", "a"}}, "hello");
  wire::Decoder decoder;
  decoder.feed(frame.data(), frame.size() - 1);
  EXPECT_FALSE(decoder.next());
  decoder.feed(frame.data() + frame.size() - 1, 1);
  EXPECT_TRUE(decoder.next());
}

TEST(Frame, OversizedLengthIsRejectedBeforeTheBodyArrives) {
  wire::Decoder decoder;
  const std::string only_prefix = prefix(wire::kMaxFrameSize + 1, 2);
  decoder.feed(only_prefix.data(), only_prefix.size());
  EXPECT_THROW(decoder.next(), wire::FrameError);
}

TEST(Frame, MaximumSizeFrameIsAccepted) {
  const std::string head = R"({"t":"x"})";
  const std::string body(wire::kMaxFrameSize - 4 - head.size(), 'b');
  const std::string frame = raw_frame(head, body);
  wire::Decoder decoder;
  decoder.feed(frame.data(), frame.size());
  auto decoded = decoder.next();
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->body.size(), body.size());
}

TEST(Frame, EncodeRefusesFramesOverTheLimit) {
  EXPECT_THROW(wire::encode({{"t", "x"}}, std::string(wire::kMaxFrameSize, 'b')), wire::FrameError);
}

TEST(Frame, LengthTooSmallForHeaderFieldIsRejected) {
  const std::string bad = prefix(2, 0) + "xx";
  wire::Decoder decoder;
  decoder.feed(bad.data(), bad.size());
  EXPECT_THROW(decoder.next(), wire::FrameError);
}

TEST(Frame, HeaderLongerThanFrameIsRejected) {
  const std::string bad = prefix(10, 7) + "{\"t\":\"a\"}";
  wire::Decoder decoder;
  decoder.feed(bad.data(), bad.size());
  EXPECT_THROW(decoder.next(), wire::FrameError);
}

TEST(Frame, RejectsInvalidJsonNonObjectsAndMissingType) {
  for (const std::string head : {"{not json", "[1,2]", "\"t\"", R"({"x":1})", R"({"t":5})", ""}) {
    const std::string frame = raw_frame(head, "");
    wire::Decoder decoder;
    decoder.feed(frame.data(), frame.size());
    EXPECT_THROW(decoder.next(), wire::FrameError) << head;
  }
}

TEST(Frame, JsonDepthIsBounded) {
  auto nested = [](int depth) {
    return R"({"t":"x","v":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  EXPECT_NO_THROW(wire::check_json_depth(nested(wire::kMaxJsonDepth)));
  EXPECT_THROW(wire::check_json_depth(nested(wire::kMaxJsonDepth + 1)), wire::FrameError);
  const std::string deep = raw_frame(nested(100000), "");
  wire::Decoder decoder;
  decoder.feed(deep.data(), deep.size());
  EXPECT_THROW(decoder.next(), wire::FrameError);
}

TEST(Frame, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string head = R"({"t":"x","s":")" + std::string(100, '[') + R"(\"{{{"})";
  EXPECT_NO_THROW(wire::check_json_depth(head));
  const std::string frame = raw_frame(head, "");
  wire::Decoder decoder;
  decoder.feed(frame.data(), frame.size());
  EXPECT_TRUE(decoder.next());
}

TEST(Frame, InvalidUtf8InHeaderStringsIsReplacedNotThrown) {
  EXPECT_NO_THROW(wire::encode({{"t", "x"}, {"reason", std::string("\xff\xfe")}}));
}

TEST(Frame, DecoderRefusesFramesAboveItsOwnCapFromTheLengthPrefixAlone) {
  wire::Decoder decoder;
  decoder.set_max_frame(16 * 1024);
  EXPECT_EQ(decoder.max_frame(), 16u * 1024);
  const std::string small = wire::encode({{"t", "enroll"}}, std::string(15000, 'c'));
  decoder.feed(small.data(), small.size());
  ASSERT_TRUE(decoder.next());
  // Only the 4-byte length of a 1 MiB frame: refused before its bytes arrive.
  const std::string big = prefix(1024 * 1024, 10).substr(0, 4);
  decoder.feed(big.data(), big.size());
  EXPECT_THROW(decoder.next(), wire::FrameError);
  // The cap never exceeds the protocol's.
  wire::Decoder other;
  other.set_max_frame(10 * wire::kMaxFrameSize);
  EXPECT_EQ(other.max_frame(), wire::kMaxFrameSize);
}
