// automatelinux-daemon: the per-machine daemon behind `d`.
#include <malloc.h>

#include <iostream>

#include "core/config.hpp"
#include "core/config_check.hpp"
#include "core/daemon.hpp"

int main(int argc, char** argv) {
  // Streaming allocates and frees ~64 KiB buffers all the time; keep freed memory in the heap
  // instead of returning it to the kernel and faulting it back in (measured: a large share of
  // the daemon's time at 1 GB/s). Bounded: at most 8 MiB is kept untrimmed.
  ::mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  try {
    namespace core = automatelinux::core;
    const auto cli = core::parse_command_line(argc, argv);
    if (!cli) return 0;
    if (cli->check_config) return core::run_config_check(*cli, std::cout, std::cerr);
    return core::run_daemon(core::load_config(*cli));
  } catch (const std::exception& e) {
    std::cerr << "automatelinux-daemon: " << e.what() << "\n";
    return 1;
  }
}
