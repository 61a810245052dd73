// The plugin loader against real shared objects: one fixture library per failure mode, and the
// bundled plugins. Every failure is recorded with its reason; nothing a failed plugin registered
// survives; disabled plugins are listed, not loaded. A library stays mapped exactly as long as
// something holds its code: a registry entry, a stream its handler was given, a stream it opened.
#include "core/plugin_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "core/builtin_commands.hpp"
#include "core/peer/peer_manager.hpp"
#include "core/serving_stream.hpp"

namespace core = automatelinux::core;
namespace sdk = automatelinux::sdk;
namespace fs = std::filesystem;

namespace {

// Whether `file` is mapped in this process (RTLD_NOLOAD never loads it).
bool mapped(const fs::path& file) {
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) ::dlclose(handle);
  return handle != nullptr;
}

struct NullTransport : core::StreamTransport {
  void send(nlohmann::json, std::string) override {}
  void send_result(const sdk::Result&) override {}
};

class PluginLoaderTest : public ::testing::Test {
 protected:
  PluginLoaderTest()
      : log_(std::make_shared<spdlog::logger>("test",
                                              std::make_shared<spdlog::sinks::null_sink_mt>())) {
    char templ[] = "/tmp/al-loader-XXXXXX";
    config_.state_dir = ::mkdtemp(templ);
    audit_ = std::make_unique<core::AuditLog>(io_, config_.state_dir / "audit.jsonl",
                                              core::AuditLimits{}, log_);
    peers_ = std::make_unique<core::peer::PeerManager>(io_, log_, audit_.get(), config_, registry_);
    dispatcher_ = std::make_unique<core::Dispatcher>(registry_, log_, audit_.get());
    services_ = std::make_unique<core::CoreServices>(
        core::CoreServices{io_, log_, config_, registry_, *peers_, *dispatcher_, *audit_});
  }
  ~PluginLoaderTest() override { fs::remove_all(config_.state_dir); }

  // Loads `dir` with a fresh loader, gone again on return (its hosts with it); records by name.
  std::map<std::string, core::PluginRecord> load(const fs::path& dir) {
    core::PluginLoader loader(*services_);
    loader.load_directory(dir);
    std::map<std::string, core::PluginRecord> out;
    for (const auto& r : loader.records()) out[r.name] = r;
    return out;
  }

  std::shared_ptr<core::ServingStream> new_stream() {
    return std::make_shared<core::ServingStream>(
        io_, log_, nullptr, std::make_shared<NullTransport>(),
        sdk::Requester{.peer = "", .uid = 0, .name = "root", .root = true});
  }

  void run() {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(20));
  }

  automatelinux::asio::io_context io_;
  std::shared_ptr<spdlog::logger> log_;
  core::DaemonConfig config_;
  core::CommandRegistry registry_;
  std::unique_ptr<core::AuditLog> audit_;
  std::unique_ptr<core::peer::PeerManager> peers_;
  std::unique_ptr<core::Dispatcher> dispatcher_;
  std::unique_ptr<core::CoreServices> services_;
};

TEST_F(PluginLoaderTest, EachFailureModeIsRecordedWithItsReason) {
  const auto records = load(AL_FIXTURE_PLUGIN_DIR);
  ASSERT_EQ(records.count("bad_abi"), 1U);
  EXPECT_EQ(records.at("bad_abi").state, "failed");
  EXPECT_NE(records.at("bad_abi").reason.find("SDK ABI version"), std::string::npos);
  ASSERT_EQ(records.count("no_entry"), 1U);
  EXPECT_EQ(records.at("no_entry").state, "failed");
  EXPECT_NE(records.at("no_entry").reason.find("no entry symbol"), std::string::npos);
  ASSERT_EQ(records.count("throws_init"), 1U);
  EXPECT_EQ(records.at("throws_init").state, "failed");
  EXPECT_NE(records.at("throws_init").reason.find("fixture init failure"), std::string::npos);
  // What the failed init registered before throwing is gone.
  EXPECT_EQ(registry_.find("halfRegistered"), nullptr);
  ASSERT_EQ(records.count("test_commands"), 1U);
  EXPECT_EQ(records.at("test_commands").state, "loaded");
}

TEST_F(PluginLoaderTest, BundledPluginsLoadAndRegisterTheirCommands) {
  const auto records = load(AL_PLUGIN_BUILD_DIR);
  for (const char* name : {"peer_exec", "git", "peer_config"}) {
    ASSERT_EQ(records.count(name), 1U) << name;
    EXPECT_EQ(records.at(name).state, "loaded") << records.at(name).reason;
  }
  for (const char* command : {"execOnPeer", "gitOnPeer", "setPeerConfig", "listPeers"})
    EXPECT_NE(registry_.find(command), nullptr) << command;
  EXPECT_NE(registry_.find_service("exec"), nullptr);
  // Each records the config keys it declares: peer_exec its policy and jobs, git none.
  const auto& exec_keys = records.at("peer_exec").config_keys;
  EXPECT_TRUE(std::any_of(exec_keys.begin(), exec_keys.end(),
                          [](const auto& k) { return k.key == "exec.default_timeout"; }));
  EXPECT_TRUE(records.at("git").config_keys.empty());
}

TEST_F(PluginLoaderTest, DisabledPluginsAreListedButRegisterNothing) {
  config_.plugins_disabled = {"git"};
  const auto records = load(AL_PLUGIN_BUILD_DIR);
  ASSERT_EQ(records.count("git"), 1U);
  EXPECT_EQ(records.at("git").state, "disabled");
  EXPECT_EQ(registry_.find("gitOnPeer"), nullptr);
  EXPECT_NE(registry_.find("execOnPeer"), nullptr);
}

TEST_F(PluginLoaderTest, AMissingDirectoryLoadsNothingAndDoesNotThrow) {
  EXPECT_TRUE(load(config_.state_dir / "no-such-dir").empty());
}

const fs::path kFixture = fs::path(AL_FIXTURE_PLUGIN_DIR) / "plugin_throws.so";

// The references are what is tested (whether glibc then unmaps the file is its own business: a
// library with STB_GNU_UNIQUE symbols stays, and debug builds make more of those).
std::weak_ptr<boost::dll::shared_library> library_of(const core::CommandRegistry& registry,
                                                     const std::string& command) {
  const auto* entry = registry.find(command);
  return entry != nullptr ? entry->library : nullptr;
}

TEST_F(PluginLoaderTest, RegistryEntriesKeepTheLibraryLoadedAndNothingElsePinsIt) {
  load(AL_FIXTURE_PLUGIN_DIR);  // the loader and its hosts are gone again
  const auto library = library_of(registry_, "echoInput");
  ASSERT_FALSE(library.expired());
  EXPECT_TRUE(mapped(kFixture));
  registry_ = core::CommandRegistry{};
  EXPECT_TRUE(library.expired());
}

TEST_F(PluginLoaderTest, AStreamHandedToAPluginKeepsItLoadedUntilTheStreamIsGone) {
  load(AL_FIXTURE_PLUGIN_DIR);
  const auto library = library_of(registry_, "waitForCancel");
  auto stream = new_stream();
  dispatcher_->dispatch({"waitForCancel"}, stream);  // stores the plugin's cancel handler
  run();
  registry_ = core::CommandRegistry{};
  EXPECT_FALSE(library.expired()) << "the stream holds plugin code";
  EXPECT_TRUE(mapped(kFixture));
  stream->on_frame(automatelinux::wire::Frame{{{"t", "cancel"}, {"signal", 2}}, {}});
  run();  // the plugin's handler runs (its code is still there) and finishes
  EXPECT_TRUE(stream->finished());
  EXPECT_FALSE(library.expired());
  stream.reset();
  run();
  EXPECT_TRUE(library.expired());
}

TEST_F(PluginLoaderTest, WhatAPluginOpenedOrWasGivenByItsHostKeepsItLoaded) {
  auto shared = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(kFixture.string()), boost::dll::load_mode::rtld_now);
  const std::weak_ptr<boost::dll::shared_library> library = shared;
  auto host = std::make_unique<core::PluginHost>(*services_, "test_commands", std::move(shared));
  auto asker = new_stream();
  // No peer configuration: the stream fails at once, and still holds the library until dropped.
  auto opened = host->open_peer_stream("vps", "exec", nlohmann::json::object(), "", *asker);
  std::optional<sdk::Result> result;
  opened->on_result([&](const sdk::Result& r) { result = r; });
  auto timer = host->make_timer();
  timer->start(std::chrono::hours(1), [] {});
  host.reset();
  run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->reason, "Peer not found: vps");
  EXPECT_FALSE(library.expired());
  opened.reset();
  EXPECT_FALSE(library.expired()) << "the timer holds a plugin callback";
  timer->cancel();
  timer.reset();
  run();
  EXPECT_TRUE(library.expired());
}

}  // namespace
