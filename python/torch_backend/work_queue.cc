#include "work_queue.h"

#include <stdexcept>
#include <utility>

#include <ATen/core/ivalue.h>

namespace meshreduce::torch_backend {

QueuedWork::QueuedWork(int rank, c10d::OpType type, std::string description, std::vector<at::Tensor> outputs)
    : c10d::Work(rank, type),
      description_(std::move(description)),
      outputs_(std::move(outputs)),
      future_(c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()))) {}

void QueuedWork::complete(std::exception_ptr error) {
  // The future first (as gloo does): whoever returns from Work::wait() finds it done too.
  if (error)
    future_->setError(error);
  else
    future_->markCompleted(c10::IValue(outputs_));
  finish(error);
}

WorkQueue::WorkQueue(int rank) : rank_(rank), worker_([this] { run(); }) {}

WorkQueue::~WorkQueue() {
  std::deque<Item> abandoned;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    abandoned.swap(items_);
  }
  wake_.notify_all();
  for (Item& item : abandoned)
    item.work->complete(std::make_exception_ptr(std::runtime_error(
        "meshreduce: rank " + std::to_string(rank_) + ": " + item.work->description() +
        " did not run: its process group was destroyed first")));
  if (worker_.joinable()) worker_.join();
}

c10::intrusive_ptr<c10d::Work> WorkQueue::enqueue(c10d::OpType type, std::string what, std::vector<at::Tensor> outputs,
                                                  std::function<void()> body) {
  std::unique_lock lock(mutex_);
  if (stopping_) throw std::runtime_error("meshreduce: " + what + " issued on a process group being destroyed");
  auto work = c10::make_intrusive<QueuedWork>(rank_, type, what + " #" + std::to_string(++issued_), std::move(outputs));
  items_.push_back({work, std::move(body)});
  lock.unlock();
  wake_.notify_one();
  return work;
}

void WorkQueue::run() {
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !items_.empty(); });
      if (items_.empty()) return;  // stopping, nothing left
      item = std::move(items_.front());
      items_.pop_front();
    }
    std::exception_ptr error;
    try {
      item.body();
    } catch (const std::exception& e) {
      // Python sees a RuntimeError carrying this text: say where and in which call.
      error = std::make_exception_ptr(std::runtime_error("meshreduce: rank " + std::to_string(rank_) + ": " +
                                                         item.work->description() + ": " + e.what()));
    } catch (...) {
      error = std::current_exception();
    }
    item.work->complete(error);
  }
}

}  // namespace meshreduce::torch_backend
