// meshreduce's KeyValueStore over the c10d::Store a torch process group is given, so the process
// communicator finds its peers the way torch.distributed's other backends do (env://, file://,
// tcp://, or any store a caller builds) and never needs mpirun on one machine.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "meshreduce/bootstrap.h"

namespace meshreduce::torch_backend {

class C10dStore : public KeyValueStore {
 public:
  explicit C10dStore(c10::intrusive_ptr<c10d::Store> store);
  void set(const std::string& key, std::string_view value) override;
  // Waits at most `timeout` for the key: c10d's wait() turns its own timeout into an error,
  // which becomes meshreduce's TimeoutError naming the key.
  std::string get(const std::string& key, Milliseconds timeout) override;
  // Best effort: some stores (c10d's FileStore in torch 1.13) cannot delete keys.
  void erase(const std::string& key) override;

 private:
  c10::intrusive_ptr<c10d::Store> store_;
};

}  // namespace meshreduce::torch_backend
