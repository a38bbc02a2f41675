#include "varlearn/core/signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace varlearn {
namespace fs = std::filesystem;
namespace {

struct Registry {
  std::mutex mutex;
  std::multiset<std::string> paths;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: the waiter thread may use it at exit
  return *r;
}

std::atomic<bool> installed{false};

void remove_registered() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const std::string& p : r.paths) {
    std::error_code ec;
    fs::remove_all(p, ec);
  }
  r.paths.clear();
}

}  // namespace

void install_interrupt_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      int signo = 0;
      while (sigwait(&set, &signo) != 0) {
      }
      remove_registered();
      _exit(128 + signo);
    }).detach();
    installed = true;
  });
}

bool interrupt_cleanup_installed() { return installed; }

TempPath::TempPath(fs::path path) : path_(std::move(path)) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.paths.insert(path_.string());
}

void TempPath::release() {
  if (!active_) return;
  active_ = false;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (auto it = r.paths.find(path_.string()); it != r.paths.end()) r.paths.erase(it);
}

TempPath::~TempPath() {
  if (!active_) return;
  release();
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace varlearn
