#!/usr/bin/env bats
# automatelinux-daemon --check-config: the real daemon binary checks a config file against every
# key core and the bundled plugins declare, reports each problem with its key, and starts nothing.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_daemons; }

# check JSON [flags…]: writes JSON to a file and runs the check on it (stdout and stderr apart).
check() {
  CONF=$BATS_TEST_TMPDIR/daemon.json
  printf '%s\n' "$1" >"$CONF"
  shift
  run --separate-stderr "$DAEMON" --check-config --config "$CONF" "$@"
}

# refused KEY: the check failed with one line naming KEY, prefixed by the file.
refused() {
  [ "$status" -ne 0 ]
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == "$CONF: "*"$1"* ]]
}

@test "a good file passes: exit 0 and 'FILE: OK', and nothing is started or created" {
  check '{"heartbeat_ms": 500, "log": {"level": "debug"}, "plugins": {"disabled": ["git"]},
          "exec": {"default_timeout": "10m", "max_concurrent": 4, "isolation": "subreaper",
                   "allowed_roots": ["/tmp"], "sftp_server": "/usr/lib/openssh/sftp-server"},
          "jobs": {"keep": "12h", "max_output_bytes": 1048576}}' \
    --socket "$BATS_TEST_TMPDIR/sock" --state-dir "$BATS_TEST_TMPDIR/state"
  [ "$status" -eq 0 ]
  [ "$output" = "$CONF: OK" ]
  [ -z "$stderr" ]
  [ ! -e "$BATS_TEST_TMPDIR/sock" ]
  [ ! -e "$BATS_TEST_TMPDIR/state" ]
}

@test "the example config that ships passes" {
  CONF=$BATS_TEST_DIRNAME/../../packaging/daemon.example.json
  run --separate-stderr "$DAEMON" --check-config --config "$CONF"
  [ "$status" -eq 0 ]
  [ "$output" = "$CONF: OK" ]
}

@test "an empty object passes" {
  check '{}'
  [ "$status" -eq 0 ]
  [ "$output" = "$CONF: OK" ]
}

@test "unknown keys are problems, at the top and inside a section" {
  check '{"sokcet": "/tmp/s"}'
  refused "unknown key 'sokcet'"
  check '{"exec": {"default_timout": "10s"}}'
  refused "unknown key 'exec.default_timout' (exec takes: "
  [[ "$stderr" == *"default_timeout"* ]]
  check '{"log": {"lvl": "info"}}'
  refused "unknown key 'log.lvl' (log takes: level, max_bytes, keep)"
}

@test "a wrong type names the key and what it takes" {
  check '{"socket": 5}'
  [ "$stderr" = "$CONF: 'socket' must be a string" ]
  refused "'socket' must be a string"
  check '{"exec": {"allowed_peers": "vps"}}'
  refused "'exec.allowed_peers' must be a list of strings"
  check '{"exec": []}'
  refused "'exec' must be an object"
  check '{"heartbeat_ms": "fast"}'
  refused "'heartbeat_ms' must be an integer from 100 to 600000"
}

@test "a bad duration shows the key and the value" {
  check '{"exec": {"default_timeout": "10x"}}'
  [ "$stderr" = "$CONF: exec.default_timeout: \"10x\" is not a duration (e.g. \"30s\", \"10m\")" ]
  refused "exec.default_timeout"
  check '{"jobs": {"keep": "0s"}}'
  refused 'jobs.keep: "0s" is not a duration above zero'
  check '{"exec": {"default_timeout": "366d"}}'
  refused "exec.default_timeout"
}

@test "an integer out of range shows the range" {
  check '{"heartbeat_ms": 50}'
  refused "heartbeat_ms: 50 is out of range (an integer from 100 to 600000)"
  check '{"jobs": {"max_output_bytes": 1024}}'
  refused "jobs.max_output_bytes: 1024 is out of range (an integer of at least 65536)"
  check '{"exec": {"max_concurrent": 0}}'
  refused "exec.max_concurrent: 0 is out of range"
}

@test "a value outside an enumeration lists the choices" {
  check '{"exec": {"isolation": "chroot"}}'
  refused 'exec.isolation: "chroot" is not one of "auto", "cgroup", "subreaper"'
  check '{"log": {"level": "loud"}}'
  refused 'log.level: "loud" is not one of "trace", "debug", "info"'
}

@test "a missing or unreadable plugin directory is a problem" {
  check "{\"plugin_dir\": \"$BATS_TEST_TMPDIR/none\"}"
  refused "plugin_dir: cannot read $BATS_TEST_TMPDIR/none: No such file or directory"
  touch "$BATS_TEST_TMPDIR/file"
  check '{}' --plugin-dir "$BATS_TEST_TMPDIR/file"
  refused "plugin_dir: cannot read $BATS_TEST_TMPDIR/file: Not a directory"
}

@test "a plugin the loader would refuse is a problem, unless it is disabled" {
  mkdir "$BATS_TEST_TMPDIR/plugins"
  cp "$FIXTURES/bad_abi.so" "$BATS_TEST_TMPDIR/plugins/"
  check '{}' --plugin-dir "$BATS_TEST_TMPDIR/plugins"
  refused "plugin_dir: $BATS_TEST_TMPDIR/plugins/bad_abi.so would be refused: SDK ABI version 999, this daemon needs 7"
  check '{"plugins": {"disabled": ["bad_abi"]}}' --plugin-dir "$BATS_TEST_TMPDIR/plugins"
  [ "$status" -eq 0 ]
}

@test "a disabled plugin's section is known but not checked; a plugin that reads none has none" {
  check '{"plugins": {"disabled": ["peer_exec"]}, "exec": {"isolation": "chroot"}}'
  [ "$status" -eq 0 ]
  check '{"plugins": {"enabled": ["git"]}, "jobs": {"keep": "forever"}}'
  [ "$status" -eq 0 ]
  check '{"git": {"x": 1}}'
  refused "unknown key 'git'"
}

@test "every problem in one file is reported, one line each" {
  check '{"socket": 5, "sockte": "x", "heartbeat_ms": 5, "log": {"level": "loud"},
          "plugins": {"enable": ["git"]}, "plugin_dir": 7,
          "exec": {"default_timeout": "10x", "isolation": "chroot", "max_concurrent": 0},
          "jobs": {"keep": 5}}'
  [ "$status" -ne 0 ]
  [ "${#stderr_lines[@]}" -eq 10 ]
  for key in "'socket'" "'sockte'" heartbeat_ms log.level "'plugins.enable'" "'plugin_dir'" \
    exec.default_timeout exec.isolation exec.max_concurrent "'jobs.keep'"; do
    grep -qF -- "$key" <<<"$stderr" || { echo "missing $key"; false; }
  done
  [ "$(grep -c "^$CONF: " <<<"$stderr")" -eq 10 ]
}

@test "a file that cannot be read or parsed fails the check" {
  run --separate-stderr "$DAEMON" --check-config --config "$BATS_TEST_TMPDIR/missing.json"
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"$BATS_TEST_TMPDIR/missing.json"* ]]
  check '{"socket": '
  [ "$status" -ne 0 ]
  [ "$stderr" = "$CONF: not valid JSON" ]
}

@test "at start-up an unknown key is a warning in the log; a bad core value still refuses" {
  printf '{"sockte": "x", "exec": {"newer_key": 1}}\n' >"$BATS_TEST_TMPDIR/warn.json"
  start_daemon a --config "$BATS_TEST_TMPDIR/warn.json"
  grep -q "warn.json: unknown key 'sockte'" "$BATS_TEST_TMPDIR/a/state/daemon.log"
  grep -q "warn.json: unknown key 'exec.newer_key'" "$BATS_TEST_TMPDIR/a/state/daemon.log"
  run dd a listPlugins --json
  [ "$(jq -r '.[] | select(.name == "peer_exec") | .state' <<<"$output")" = loaded ]
  printf '{"heartbeat_ms": 50}\n' >"$BATS_TEST_TMPDIR/bad.json"
  run "$DAEMON" --config "$BATS_TEST_TMPDIR/bad.json" --socket "$BATS_TEST_TMPDIR/b.sock" \
    --state-dir "$BATS_TEST_TMPDIR/b"
  [ "$status" -eq 1 ]
  [ "$output" = "automatelinux-daemon: $BATS_TEST_TMPDIR/bad.json: heartbeat_ms: 50 is out of range (an integer from 100 to 600000)" ]
  [ ! -e "$BATS_TEST_TMPDIR/b" ]
}

@test "exec.user_map: a key that is not MEMBER:NAME or a value that is not a list of names is refused" {
  check '{"exec": {"user_map": {"laptop:alice": ["deploy"], "*:*": ["*"]}}}'
  [ "$status" -eq 0 ]
  [ "$output" = "$CONF: OK" ]
  check '{"exec": {"user_map": {"laptop": ["deploy"]}}}'
  refused 'exec.user_map: key "laptop" is not MEMBER:NAME'
  check '{"exec": {"user_map": {"laptop:alice:x": ["deploy"]}}}'
  refused 'exec.user_map: key "laptop:alice:x" is not MEMBER:NAME'
  check '{"exec": {"user_map": {"laptop:alice": "deploy"}}}'
  refused "'exec.user_map' must be an object of \"MEMBER:NAME\": [\"USER\", …]"
  check '{"exec": {"user_map": {"laptop:alice": [""]}}}'
  refused 'exec.user_map: "laptop:alice" maps to "", not a user name'
}
