# Shared by scripts/demo, scripts/test and scripts/bench: Debian packages and the build.
# shellcheck shell=bash

AL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AL_PACKAGES=(g++ cmake ninja-build pkg-config ccache
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev libgtest-dev
  bats jq python3 git iproute2 openssl procps clang libclang-rt-14-dev dpkg-dev file pmccabe
  go-md2man lintian man-db systemd
  openssh-client openssh-sftp-server rsync)
# d-ssh's tests mount with sshfs where the fuse device exists (they skip it elsewhere).
[ -c /dev/fuse ] && AL_PACKAGES+=(sshfs)

# Installs missing Debian packages when root; otherwise prints the exact command and fails.
ensure_packages() {
  local missing=() pkg
  for pkg in "${AL_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "==> installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# build DIR [cmake options…]: configure (once) and build with Ninja, two jobs.
build() {
  local dir=$1
  shift
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$AL_ROOT" -B "$dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
  cmake --build "$dir" -j2
}
