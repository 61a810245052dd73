// The one place core includes Boost.Asio. Boost 1.74's awaitable.hpp forgets <utility>.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace automatelinux {
namespace asio = boost::asio;
}
