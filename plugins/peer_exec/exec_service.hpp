// The "exec" peer service: what a peer's execOnPeer request runs on this daemon.
#pragma once

#include <automatelinux/sdk/sdk.hpp>

#include "policy.hpp"

namespace automatelinux::peer_exec {

class ExecService {
 public:
  ExecService(sdk::Host& host, ExecPolicy policy) : host_(host), policy_(std::move(policy)) {}
  void serve(const sdk::StreamPtr& stream, const nlohmann::json& request, const std::string& body);

 private:
  sdk::Host& host_;
  ExecPolicy policy_;
  std::size_t running_ = 0;
};

}  // namespace automatelinux::peer_exec
