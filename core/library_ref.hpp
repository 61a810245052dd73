// A loaded plugin library. Whatever holds plugin code — a registered handler, a stream a plugin
// was given or opened, a timer or descriptor made for a plugin, a plugin's callback — holds one
// of these next to it, destroyed after it, so a library stays mapped exactly as long as something
// may still run or destroy its code. This reference count is the only thing keeping plugins
// loaded; nothing pins them for the whole process.
#pragma once

#include <functional>
#include <memory>

namespace boost::dll {
class shared_library;
}

namespace automatelinux::core {

using LibraryRef = std::shared_ptr<boost::dll::shared_library>;

// Keeps `library` loaded for as long as `function` lives. The library is the first member, so it
// is released after the plugin's closure has been destroyed (lambda captures have no defined
// order, hence a struct).
template <class R, class... Args>
std::function<R(Args...)> keeping_loaded(LibraryRef library, std::function<R(Args...)> function) {
  if (!library || !function) return function;
  struct Kept {
    LibraryRef library;
    std::function<R(Args...)> function;
    R operator()(Args... args) const { return function(std::forward<Args>(args)...); }
  };
  return Kept{std::move(library), std::move(function)};
}

}  // namespace automatelinux::core
