// Asynchronous work for the meshreduce process group: one worker thread per group runs the
// collectives in the order they were issued (every rank issues the same sequence, and the
// process communicator's calls are collective, so order is what keeps the ranks matched).
// Each collective returns a Work whose wait() and getFuture() complete when the worker has
// run it, with the collective's error when it failed. Destroying the queue fails the work not
// yet started and waits for the running one, which ends within the communicator's timeout
// (every wait inside it has a deadline): shutdown never hangs.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <torch/csrc/distributed/c10d/Work.hpp>

namespace meshreduce::torch_backend {

class QueuedWork : public c10d::Work {
 public:
  QueuedWork(int rank, c10d::OpType type, std::string description, std::vector<at::Tensor> outputs);
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }
  std::vector<at::Tensor> result() override { return outputs_; }
  const std::string& description() const noexcept { return description_; }
  // Completes the work and its future, with `error` when it failed.
  void complete(std::exception_ptr error);

 private:
  std::string description_;  // "allreduce #12 (3 tensors)": what errors name
  std::vector<at::Tensor> outputs_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

class WorkQueue {
 public:
  explicit WorkQueue(int rank);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `body` to run on the worker after everything queued before it. A body that throws
  // completes its work with that error, prefixed with the rank and the work's description.
  c10::intrusive_ptr<c10d::Work> enqueue(c10d::OpType type, std::string what, std::vector<at::Tensor> outputs,
                                         std::function<void()> body);

 private:
  struct Item {
    c10::intrusive_ptr<QueuedWork> work;
    std::function<void()> body;
  };
  void run();

  const int rank_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> items_;
  bool stopping_ = false;
  std::uint64_t issued_ = 0;
  std::thread worker_;
};

}  // namespace meshreduce::torch_backend
