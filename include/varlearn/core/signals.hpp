#pragma once
/// \file signals.hpp
/// Clean interruption: SIGINT and SIGTERM remove every temporary file and folder the library
/// is writing (registered with TempPath) and end the process with 128 + signal (130 / 143),
/// so that an interrupted run leaves neither half files nor `*.tmp.*` leftovers.
///
/// How: install_interrupt_cleanup() blocks both signals in the calling thread (and so in every
/// thread started after it: call it first in main, before OpenMP starts its pool) and starts
/// one thread that waits for them with sigwait(). That thread runs the cleanup as ordinary
/// code — no async-signal-safety limits — and calls _exit(). SIGKILL cannot be caught: what it
/// leaves is bounded by the atomic writes (a temporary name, never a half target).
#include <filesystem>

namespace varlearn {

/// Installs the cleanup (idempotent; thread-safe). Without it, TempPath still removes its path
/// when destroyed normally, and signals keep their default action.
void install_interrupt_cleanup();

/// True once install_interrupt_cleanup() has run in this process.
bool interrupt_cleanup_installed();

/// Registers a temporary path (file or folder, removed recursively) for the lifetime of the
/// object: removed on SIGINT/SIGTERM, and by the destructor unless release()d (after it was
/// renamed into place, say).
class TempPath {
public:
  explicit TempPath(std::filesystem::path path);
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// Forget the path: neither the destructor nor a signal removes it any more.
  void release();

private:
  std::filesystem::path path_;
  bool active_ = true;
};

}  // namespace varlearn
