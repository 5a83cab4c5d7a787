#include "c10d_store.h"

#include <cstdint>
#include <vector>

namespace meshreduce::torch_backend {

C10dStore::C10dStore(c10::intrusive_ptr<c10d::Store> store) : store_(std::move(store)) {
  if (!store_) throw InvalidArgument("meshreduce torch backend: the c10d store is null");
}

void C10dStore::set(const std::string& key, std::string_view value) {
  store_->set(key, std::vector<std::uint8_t>(value.begin(), value.end()));
}

std::string C10dStore::get(const std::string& key, Milliseconds timeout) {
  try {
    store_->wait({key}, timeout);
  } catch (const std::exception& e) {
    throw TimeoutError("store key '" + key + "' was not set within " + std::to_string(timeout.count()) +
                       " ms (a peer is missing, slow, or called another collective): " + e.what());
  }
  const std::vector<std::uint8_t> value = store_->get(key);
  return std::string(value.begin(), value.end());
}

void C10dStore::erase(const std::string& key) {
  try {
    store_->deleteKey(key);
  } catch (const std::exception&) {
    // The key only costs the store's memory; every reader is done with it.
  }
}

}  // namespace meshreduce::torch_backend
