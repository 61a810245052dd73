// The "exec" peer service: what a peer's execOnPeer request runs on this daemon.
#pragma once

#include <automatelinux/sdk/sdk.hpp>

#include "isolation.hpp"
#include "policy.hpp"

namespace automatelinux::peer_exec {

class ExecService {
 public:
  ExecService(sdk::Host& host, ExecPolicy policy)
      : host_(host),
        policy_(std::move(policy)),
        isolation_(Isolation::create(host, policy_.isolation)) {}
  void serve(const sdk::ServedStreamPtr& stream, const nlohmann::json& request,
             const std::string& body);

  const ExecPolicy& policy() const { return policy_; }
  std::size_t running() const { return running_; }
  // Durable jobs count against exec.max_concurrent too.
  void count_jobs_with(std::function<std::size_t()> running_jobs) {
    running_jobs_ = std::move(running_jobs);
  }

 private:
  sdk::Host& host_;
  ExecPolicy policy_;
  std::shared_ptr<Isolation> isolation_;
  std::size_t running_ = 0;
  std::function<std::size_t()> running_jobs_ = [] { return std::size_t{0}; };
};

}  // namespace automatelinux::peer_exec
