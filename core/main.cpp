// automatelinux-daemon: the per-machine daemon behind `d`.
#include <iostream>

#include "core/config.hpp"
#include "core/daemon.hpp"

int main(int argc, char** argv) {
  try {
    auto config = automatelinux::core::load_config(argc, argv);
    if (!config) return 0;
    return automatelinux::core::run_daemon(*config);
  } catch (const std::exception& e) {
    std::cerr << "automatelinux-daemon: " << e.what() << "\n";
    return 1;
  }
}
