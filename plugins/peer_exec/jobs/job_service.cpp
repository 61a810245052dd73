#include "job_service.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>

#include "../environment.hpp"
#include "../process.hpp"
#include "job_attach.hpp"
#include "job_files.hpp"
#include "job_name.hpp"

namespace automatelinux::peer_exec::jobs {
namespace {

constexpr std::chrono::seconds kCheckEvery{1};
constexpr int kPruneEveryTicks = 600;

// What listJobs shows as the command: the shell line, or the argv joined by spaces.
std::string display_command(const std::vector<std::string>& parts, bool shell) {
  if (shell) return parts[1];
  std::string text;
  for (std::size_t i = 1; i < parts.size(); ++i) text += (i > 1 ? " " : "") + parts[i];
  return text;
}

// Where job-supervisor lives: beside the plugin directory (lib/automatelinux/job-supervisor, the
// plugin being lib/automatelinux/plugins/peer_exec.so), in a build tree as in an install.
std::string default_supervisor() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&default_supervisor), &info) == 0 || info.dli_fname == nullptr)
    return "job-supervisor";
  return (std::filesystem::path(info.dli_fname).parent_path().parent_path() / "job-supervisor")
      .string();
}

// Waits for the supervisor's one line ("ok PID" or "error REASON"), then reaps it when it ends
// (while this daemon lives; after a restart it is init's).
struct Launch : std::enable_shared_from_this<Launch> {
  static constexpr std::chrono::seconds kReportWithin{10};
  sdk::AsyncFdPtr out, pidfd;
  sdk::TimerPtr deadline;
  pid_t pid = -1;
  std::string line;
  std::function<void(std::string)> on_line;

  void read() {
    deadline->start(kReportWithin, [self = shared_from_this()] {
      ::kill(self->pid, SIGKILL);  // stuck before it started the command: nothing else to end
      self->report("error job-supervisor did not report within 10 s");
    });
    read_more();
  }
  void read_more() {
    out->read_some([self = shared_from_this()](std::string_view data, bool eof) {
      self->line.append(data);
      const auto newline = self->line.find('\n');
      if (newline == std::string::npos && !eof && self->line.size() < 4096) return self->read_more();
      self->report(self->line.substr(0, newline));
    });
  }
  void report(const std::string& text) {
    deadline->cancel();
    out->close();
    if (auto handler = std::exchange(on_line, {})) handler(text);
  }
  void reap() {
    pidfd->wait_readable([self = shared_from_this()](bool) {
      ::waitpid(self->pid, nullptr, WNOHANG);
      self->pidfd->close();
    });
  }
};

}  // namespace

JobService::JobService(sdk::Host& host, const ExecPolicy& policy, std::shared_ptr<JobStore> store,
                       std::function<std::size_t()> running_requests)
    : host_(host),
      policy_(policy),
      store_(std::move(store)),
      running_requests_(std::move(running_requests)),
      ticker_(host.make_timer()) {}

void JobService::start() {
  using namespace std::placeholders;
  auto self = shared_from_this();
  auto bind = [self](void (JobService::*method)(const sdk::ServedStreamPtr&, const nlohmann::json&,
                                                const std::string&)) {
    return [self, method](sdk::ServedStreamPtr stream, const nlohmann::json& header,
                          const std::string& body) { ((*self).*method)(stream, header, body); };
  };
  host_.add_peer_service(kStartJob, bind(&JobService::start_job));
  host_.add_peer_service(kListJobs, bind(&JobService::list));
  host_.add_peer_service(kAttachJob, bind(&JobService::attach));
  host_.add_peer_service(kWaitJob, bind(&JobService::wait));
  host_.add_peer_service(kKillJob, bind(&JobService::kill));
  store_->prune();
  tick();
}

void JobService::tick() {
  // Notices ends (audited) and vanished supervisors (lost) while nobody asks; prunes now and then.
  store_->check_running();
  // Over jobs.max_total_bytes: finished jobs go (oldest first) before running ones drop output.
  if (++ticks_ % kPruneEveryTicks == 0 || store_->over_budget()) store_->prune();
  std::weak_ptr<JobService> weak = shared_from_this();
  ticker_->start(kCheckEvery, [weak] {
    if (auto self = weak.lock()) self->tick();
  });
}

std::string JobService::self() const {
  return host_.peers().local().id.value_or("this peer");
}

std::string JobService::supervisor_path() const {
  return store_->limits().supervisor.value_or(default_supervisor());
}

void JobService::start_job(const sdk::ServedStreamPtr& stream, const nlohmann::json& header,
                           const std::string& body) {
  const std::string me = self();
  const std::string requester = stream->requester().peer;
  if (auto why = policy_.check_peer(requester); !why.empty())
    return sdk::fail(stream, "Denied on " + me + ": " + why);
  const auto running = running_requests_() + store_->running_count();
  if (running >= policy_.max_concurrent)
    return sdk::fail(stream, "busy: " + me + " is already running " + std::to_string(running) +
                                 " commands");
  const std::string mode = header.value("mode", "");
  const auto parts = sdk::split_nul(body);
  if ((mode == "shell" && parts.size() != 2) || (mode == "argv" && parts.size() < 2) ||
      (mode != "shell" && mode != "argv"))
    return sdk::fail(stream, "bad request: malformed job request (a NUL byte in a field?)");
  std::string name;
  if (header.contains("name")) {
    if (!header["name"].is_string()) return sdk::fail(stream, "bad request: job name");
    name = header["name"].get<std::string>();
    // Checked here too: the requesting side's check is the member's to skip.
    if (!valid_job_name(name)) return sdk::fail(stream, invalid_job_name_reason("job name", name));
    // One running job per name on a host; whose it is, and its number, only for who may see it.
    if (auto other = store_->running_named(name))
      return sdk::fail(stream, "Job already running: " + me + ":" + name +
                                   (visible_to(stream->requester(), *other)
                                        ? " (" + me + ":" + std::to_string(*other) + ")"
                                        : " (another user's)"));
  }
  std::int64_t timeout_ms = 0;
  if (header.contains("job_timeout_ms") && header["job_timeout_ms"].is_number_integer())
    timeout_ms = header["job_timeout_ms"].get<std::int64_t>();
  else if (policy_.default_timeout)
    timeout_ms = policy_.default_timeout->count();
  if (timeout_ms < 0 || timeout_ms > sdk::kMaxDuration.count())
    return sdk::fail(stream, "bad request: job timeout");

  // The same choice of user as for any command; the job belongs to whoever asked.
  std::optional<std::string> asked;
  if (header.contains("user")) {
    if (!header["user"].is_string()) return sdk::fail(stream, "bad request: user");
    asked = header["user"].get<std::string>();
  }
  const auto choice = policy_.choose_user(stream->requester(), asked, me);
  if (!choice.refusal.empty()) {
    stream->describe_for_audit({.directory = {}, .denied = true, .job = {}});
    return sdk::fail(stream, "Denied on " + me + ": " + choice.refusal);
  }
  const passwd* account = ::getpwnam(choice.user.c_str());
  if (account == nullptr) return sdk::fail(stream, "No such user on " + me + ": " + choice.user);
  // As for exec: no switch when it is the daemon's own user and no run_as applies.
  const bool same_user = account->pw_uid == ::geteuid() && !policy_.run_as;

  OpenDirectory directory;
  std::uint64_t number = 0;
  Child child;
  try {
    directory = policy_.open_directory(parts[0], me);
    store_->prune();  // room for the new job's output first
    number = store_->create();
    const auto dir = store_->dir(number);
    const auto cap = store_->limits().max_output_bytes;
    nlohmann::json spec = {{"name", name.empty() ? nlohmann::json() : nlohmann::json(name)},
                           {"directory", directory.path},
                           {"command", display_command(parts, mode == "shell")},
                           {"requester", requester},
                           {"owner", owner_of(stream->requester())},
                           {"user", choice.user},
                           {"request_id", stream->request_id()},
                           {"started", files::iso_utc(std::time(nullptr))},
                           {"boot_id", store_->boot_id()},
                           {"max_output_bytes", cap},
                           {"timeout_ms", timeout_ms > 0 ? nlohmann::json(timeout_ms) : nullptr}};
    files::write_atomically(
        dir, files::kSpec,
        spec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");

    SpawnRequest request;
    request.directory = directory.path;
    request.directory_fd = directory.fd.get();
    request.argv = {supervisor_path(),
                    dir,
                    same_user ? std::string() : choice.user,
                    std::to_string(timeout_ms),
                    std::to_string(cap),
                    std::to_string(store_->limits().max_total_bytes),
                    "--"};
    if (mode == "shell") {
      request.argv.insert(request.argv.end(), {"/bin/sh", "-c", parts[1]});
    } else {
      request.argv.insert(request.argv.end(), parts.begin() + 1, parts.end());
    }
    request.environment = command_environment({choice.user, me, requester});
    child = spawn(request);
  } catch (const std::exception& e) {
    if (number > 0) store_->discard(number);
    return sdk::fail(stream, "Cannot run on " + me + ": " + e.what());
  }
  ::close(child.stdin_fd);
  ::close(child.stderr_fd);
  auto launch = std::make_shared<Launch>();
  launch->out = host_.adopt_fd(child.stdout_fd);
  launch->pidfd = host_.adopt_fd(child.pidfd);
  launch->pid = child.pid;
  launch->deadline = host_.make_timer();
  launch->on_line = [self = shared_from_this(), stream, number, me,
                     directory_path = directory.path](std::string line) {
    if (line.rfind("ok ", 0) != 0) {
      self->store_->discard(number);
      const std::string why = line.rfind("error ", 0) == 0 ? line.substr(6) : "job-supervisor failed";
      return sdk::fail(stream, "Cannot run on " + me + ": " + why);
    }
    self->store_->started(number);
    stream->describe_for_audit({.directory = directory_path, .denied = false, .job = number});
    self->host_.logger()->info("audit job={} event=start request={} pid={}", number,
                               stream->request_id(), line.substr(3));
    sdk::reply(stream, me + ":" + std::to_string(number) + "\n");
  };
  launch->read();
  launch->reap();
}

nlohmann::json JobService::owner_of(const sdk::Requester& requester) const {
  return {{"member", requester.peer.empty() ? self() : requester.peer}, {"name", requester.name}};
}

bool JobService::visible_to(const sdk::Requester& requester, std::uint64_t number) const {
  if (requester.root) return true;
  if (requester.name.empty()) return false;
  const auto spec = store_->spec(number);
  // A job from before owners were recorded belongs to root.
  if (!spec || !spec->contains("owner") || !(*spec)["owner"].is_object()) return false;
  return (*spec)["owner"] == owner_of(requester);
}

nlohmann::json JobService::list_json(const sdk::Requester& requester) {
  const std::string me = self();
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto n : store_->numbers())
    if (visible_to(requester, n)) jobs.push_back(store_->describe(n, me));
  return jobs;
}

void JobService::list(const sdk::ServedStreamPtr& stream, const nlohmann::json&, const std::string&) {
  if (auto why = policy_.check_peer(stream->requester().peer); !why.empty())
    return sdk::fail(stream, "Denied on " + self() + ": " + why);
  sdk::reply(stream, list_json(stream->requester())
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                         "\n");
}

std::optional<std::uint64_t> JobService::find(const sdk::ServedStreamPtr& stream,
                                              const nlohmann::json& header) {
  if (!stream->requester().peer.empty()) {
    if (auto why = policy_.check_peer(stream->requester().peer); !why.empty()) {
      sdk::fail(stream, "Denied on " + self() + ": " + why);
      return std::nullopt;
    }
  }
  const std::string ref = header.value("job", "");
  // Another user's job is, to this caller, no job at all.
  const auto number = ref.empty() ? std::nullopt
                                  : store_->resolve(ref, [&](std::uint64_t n) {
                                      return visible_to(stream->requester(), n);
                                    });
  if (!number) sdk::fail(stream, "Job not found: " + self() + ":" + sdk::escape_untrusted(ref, 80));
  return number;
}

void JobService::attach(const sdk::ServedStreamPtr& stream, const nlohmann::json& header,
                        const std::string&) {
  const auto number = find(stream, header);
  if (!number) return;
  try {
    std::make_shared<JobAttach>(host_, stream, store_, *number,
                                self() + ":" + std::to_string(*number), header.value("follow", true))
        ->start();
  } catch (const std::exception& e) {
    sdk::fail(stream, "Cannot attach on " + self() + ": " + e.what());
  }
}

namespace {

// waitJob and killJob: wake on every change of the job's directory until it has ended.
struct Waiter : std::enable_shared_from_this<Waiter> {
  sdk::ServedStreamPtr stream;
  std::shared_ptr<JobStore> store;
  std::shared_ptr<DirWatch> watch;
  sdk::TimerPtr timeout;
  std::uint64_t number = 0;
  std::string id;
  bool report_status = true;  // waitJob: the job's status; killJob: 0 once it is over
  bool done = false;

  void check() {
    if (done) return;
    const auto state = store->state(number);
    if (!state.running())
      return end(report_status || state.state == "lost" ? job_result(state, id)
                                                         : sdk::Result::exited(0));
    watch->next([self = shared_from_this()] { self->check(); });
  }
  void end(sdk::Result result) {
    if (std::exchange(done, true)) return;
    watch->close();
    if (timeout) timeout->cancel();
    stream->finish(std::move(result));
  }
};

}  // namespace

void JobService::wait(const sdk::ServedStreamPtr& stream, const nlohmann::json& header,
                      const std::string&) {
  const auto number = find(stream, header);
  if (!number) return;
  auto waiter = std::make_shared<Waiter>();
  waiter->stream = stream;
  waiter->store = store_;
  waiter->number = *number;
  waiter->id = self() + ":" + std::to_string(*number);
  try {
    waiter->watch = DirWatch::create(host_, store_->dir(*number));
  } catch (const std::exception& e) {
    return sdk::fail(stream, e.what());
  }
  stream->on_cancel([waiter](int) { waiter->end(sdk::Result::cancelled()); });
  if (header.contains("wait_ms") && header["wait_ms"].is_number_integer()) {
    waiter->timeout = host_.make_timer();
    const std::string shown = self() + ":" + sdk::escape_untrusted(header.value("job", ""), 80);
    waiter->timeout->start(std::chrono::milliseconds(header["wait_ms"].get<std::int64_t>()),
                           [waiter, shown] {
                             if (waiter->done) return;
                             waiter->stream->write(sdk::Channel::err,
                                                   "still running: " + shown + "\n",
                                                   [waiter](bool) {
                                                     waiter->end(sdk::Result::exited(75));
                                                   });
                           });
  }
  waiter->check();
}

void JobService::kill(const sdk::ServedStreamPtr& stream, const nlohmann::json& header,
                      const std::string&) {
  const auto number = find(stream, header);
  if (!number) return;
  const int signal = header.value("signal", SIGINT);
  if (signal <= 0 || signal >= NSIG) return sdk::fail(stream, "bad request: signal");
  const std::string id = self() + ":" + std::to_string(*number);
  if (store_->state(*number).running()) {
    // The supervisor runs the cascade and records `killed` once nothing of the job is left.
    const auto control = store_->dir(*number) + "/" + files::kControl;
    const int fd = ::open(control.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      const std::string line = "kill " + std::to_string(signal) + "\n";
      [[maybe_unused]] auto ignored = ::write(fd, line.data(), line.size());
      ::close(fd);
      host_.logger()->info("audit job={} event=kill signal={} request={}", *number, signal,
                           stream->request_id());
      stream->describe_for_audit({.directory = {}, .denied = false, .job = *number});
    }
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->stream = stream;
  waiter->store = store_;
  waiter->number = *number;
  waiter->id = id;
  waiter->report_status = false;
  try {
    waiter->watch = DirWatch::create(host_, store_->dir(*number));
  } catch (const std::exception& e) {
    return sdk::fail(stream, e.what());
  }
  waiter->check();
}

}  // namespace automatelinux::peer_exec::jobs
