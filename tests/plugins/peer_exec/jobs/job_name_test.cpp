#include "plugins/peer_exec/jobs/job_name.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace automatelinux::peer_exec::jobs {
namespace {

TEST(JobName, ALetterThenLettersDigitsDotsUnderscoresAndDashes) {
  EXPECT_TRUE(valid_job_name("build"));
  EXPECT_TRUE(valid_job_name("honest.job_1-a"));
  EXPECT_TRUE(valid_job_name(std::string(64, 'a')));
}

TEST(JobName, PathsControlsLongNamesAndNonAsciiAreRefused) {
  for (const auto& name :
       std::vector<std::string>{"", "../../etc/x", "a/b", "a\nb", "9lives", ".hidden", "-x", "a b",
                                "job\xc2\x9b"
                                "31m",
                                "caf\xc3\xa9", std::string(65, 'a'), std::string(5000, 'a')})
    EXPECT_FALSE(valid_job_name(name)) << name;
}

TEST(JobName, TheRefusalIsOneEscapedLineWhateverTheName) {
  const auto reason = invalid_job_name_reason("job name", "a\nb\xc2\x9b" + std::string(5000, 'x'));
  EXPECT_EQ(reason.find('\n'), std::string::npos);
  EXPECT_EQ(reason.find("\xc2\x9b"), std::string::npos);
  EXPECT_LT(reason.size(), 200u);
  EXPECT_EQ(reason.rfind("invalid job name 'a\\x0ab\\xc2\\x9b", 0), 0u);
}

}  // namespace
}  // namespace automatelinux::peer_exec::jobs
