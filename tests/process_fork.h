// Forked jobs for the process executor's tests: N processes on this machine, found through a
// FileStore in a fresh directory. Each child runs `body(rank, bootstrap)` and reports its result
// text (or its exception's) back through a pipe; a child still running after the deadline is
// killed, so a test ends with a failure, never a hang.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "meshreduce/bootstrap.h"

namespace meshreduce::testing {

struct ChildResult {
  std::string text;    // what body returned, or "exception: <what>"
  bool exited = false;  // false: killed at the deadline, crashed, or ended by _exit(nonzero)
  pid_t pid = 0;
  int signal = 0;       // the signal that ended it, or 0
};

// A fresh directory for a job's store (or a test's marks), removed with what is in it when the
// test is done with it, however the test ends. Forked children end by _exit and leave it alone.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "meshreduce-store-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// As run_forked, in the store `directory`, which it leaves for the caller to inspect.
inline std::vector<ChildResult> run_forked_in(const std::filesystem::path& directory, int processes,
                                              const std::function<std::string(int, std::shared_ptr<Bootstrap>)>& body,
                                              std::chrono::seconds deadline = std::chrono::seconds(120)) {
  std::vector<pid_t> children;
  std::vector<int> pipes;
  for (int rank = 0; rank < processes; ++rank) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(fds[0]);
      std::string text;
      try {
        auto bootstrap = std::make_shared<StoreBootstrap>(std::make_shared<FileStore>(directory), rank, processes);
        text = body(rank, bootstrap);
      } catch (const std::exception& error) {
        text = std::string("exception: ") + error.what();
      }
      const char* at = text.data();
      std::size_t left = text.size();
      while (left > 0) {
        const ssize_t written = ::write(fds[1], at, left);
        if (written <= 0) break;
        at += written;
        left -= static_cast<std::size_t>(written);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    children.push_back(child);
    pipes.push_back(fds[0]);
  }
  std::vector<ChildResult> results(static_cast<std::size_t>(processes));
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (std::size_t r = 0; r < children.size(); ++r) {
    results[r].pid = children[r];
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(children[r], &status, WNOHANG);
      if (done == children[r]) {
        results[r].exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        results[r].signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        break;
      }
      if (std::chrono::steady_clock::now() >= end) {
        ::kill(children[r], SIGKILL);
        ::waitpid(children[r], &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    char chunk[4096];
    for (ssize_t got; (got = ::read(pipes[r], chunk, sizeof chunk)) > 0;) results[r].text.append(chunk, static_cast<std::size_t>(got));
    ::close(pipes[r]);
  }
  return results;
}

inline std::vector<ChildResult> run_forked(int processes,
                                           const std::function<std::string(int, std::shared_ptr<Bootstrap>)>& body,
                                           std::chrono::seconds deadline = std::chrono::seconds(120)) {
  const ScratchDirectory directory;
  return run_forked_in(directory.path(), processes, body, deadline);
}

}  // namespace meshreduce::testing
