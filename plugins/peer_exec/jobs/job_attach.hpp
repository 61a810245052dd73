// attachJob's serving side: replays a job's stored output — stdout to stdout, stderr to stderr,
// byte for byte — and then follows it live from the files the supervisor keeps writing, with no
// gap and no duplicate, until the job ends; then ends with the job's status. Every attacher reads
// on its own, at the pace of its own stream's window.
#pragma once

#include <memory>
#include <string>

#include <automatelinux/sdk/sdk.hpp>

#include "../unique_fd.hpp"
#include "dir_watch.hpp"
#include "job_output.hpp"
#include "job_store.hpp"

namespace automatelinux::peer_exec::jobs {

// How a job's state ends a request about it (attachJob, waitJob): as execOnPeer maps a command.
sdk::Result job_result(const JobState& state, const std::string& id);

class JobAttach : public std::enable_shared_from_this<JobAttach> {
 public:
  // `follow`: keep going until the job ends; otherwise stop after what is stored now.
  JobAttach(sdk::Host& host, sdk::ServedStreamPtr stream, std::shared_ptr<JobStore> store,
            std::uint64_t number, std::string id, bool follow);
  void start();

 private:
  struct Cursor {
    Cursor(sdk::Channel c, const char* n) : channel(c), name(n) {}
    sdk::Channel channel;
    const char* name;
    std::uint64_t segment = 0;  // the segment being read
    std::uint64_t offset = 0;   // within it
    std::uint64_t position = 0;  // in the whole stream
    UniqueFd fd;
    char last = '\n';
    bool final_look = false;  // the job has ended: one more read, then done
    bool in_flight = false;  // a write waits for the stream's window
    bool idle = false;       // caught up with the job: waits for it to write more
    bool done = false;
  };

  void step(Cursor& cursor);
  bool open_segment(Cursor& cursor);
  void at_end(Cursor& cursor);
  void finish_channel(Cursor& cursor);
  void wait_for_change();
  void finish(sdk::Result result);

  sdk::ServedStreamPtr stream_;
  std::shared_ptr<JobStore> store_;
  std::uint64_t number_;
  std::string id_, dir_;
  bool follow_;
  OutputLayout layout_;
  std::shared_ptr<DirWatch> watch_;
  Cursor out_{sdk::Channel::out, "stdout"}, err_{sdk::Channel::err, "stderr"};
  bool finished_ = false;
};

}  // namespace automatelinux::peer_exec::jobs
