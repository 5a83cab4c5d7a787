// How the processes of a job find each other: a small interface with two jobs, exchanging small
// blobs (layouts, shared-memory names) and a barrier, each with a deadline. Implementations: a
// key-value store (StoreBootstrap over a FileStore, or any store with set/get, such as a PyTorch
// c10d Store wrapped in KeyValueStore), and MPI_COMM_WORLD (meshreduce/bootstrap_mpi.h, in the
// meshreduce_mpi library).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "meshreduce/error.h"

namespace meshreduce {

using Milliseconds = std::chrono::milliseconds;

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every process's blob in rank order (this process's own included). Collective: every
  // process calls it the same number of times. Throws TimeoutError naming a rank that did not
  // answer within `timeout`.
  virtual std::vector<std::string> all_gather(std::string_view blob, Milliseconds timeout) = 0;
  // Returns once every process has entered it; TimeoutError as all_gather.
  virtual void barrier(Milliseconds timeout) { all_gather({}, timeout); }
};

// set(key, bytes) / get(key, timeout): the store interface PyTorch's c10d Store offers.
class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;
  virtual void set(const std::string& key, std::string_view value) = 0;
  // The value, once some process has set it; TimeoutError naming the key after `timeout`.
  virtual std::string get(const std::string& key, Milliseconds timeout) = 0;
  // Forget a key no process will read again. Stores that cannot may ignore it.
  virtual void erase(const std::string& /*key*/) {}
};

// A store in a directory that every process can reach (one machine's /tmp, or a shared file
// system): one file per key, written to a temporary name and renamed, so a reader sees a whole
// value or none. Keys may hold letters, digits, '.', '_', '-' and '/'; anything else is
// InvalidArgument.
class FileStore : public KeyValueStore {
 public:
  explicit FileStore(std::filesystem::path directory);
  void set(const std::string& key, std::string_view value) override;
  std::string get(const std::string& key, Milliseconds timeout) override;
  void erase(const std::string& key) override;

 private:
  std::filesystem::path file_of(const std::string& key) const;
  std::filesystem::path directory_;
};

// A store kept in memory by one process of the job and reached over TCP by all, for jobs without
// MPI or a shared directory: one process (usually rank 0) runs a TcpStoreServer, and every
// process (the server's own included) talks to it through a TcpStore. Values and keys are any
// bytes (keys up to 64 KiB, values up to 1 GiB). The serving process must outlive every other
// process's last read (for example: each sets a "done" key, and the server's process gets them
// all before it ends).
class TcpStoreServer {
 public:
  // Listens on `port` of every interface (0: a free port, see port()). Serves on its own
  // thread until destroyed.
  explicit TcpStoreServer(int port = 0);
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;
  int port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class TcpStore : public KeyValueStore {
 public:
  // Connects to the server, retrying until `timeout` (the server may start later); throws
  // TimeoutError naming host and port.
  TcpStore(std::string host, int port, Milliseconds timeout);
  ~TcpStore() override;
  TcpStore(const TcpStore&) = delete;
  TcpStore& operator=(const TcpStore&) = delete;
  void set(const std::string& key, std::string_view value) override;
  std::string get(const std::string& key, Milliseconds timeout) override;
  void erase(const std::string& key) override;

 private:
  void connect(Milliseconds timeout);
  std::string host_;
  int port_;
  int socket_ = -1;
};

// A bootstrap over a key-value store: round r of all_gather sets "<prefix>/<r>/<rank>" and reads
// every other rank's key of that round. Every process of the job must use the same prefix and
// a distinct rank in 0..size-1; keys of a round are erased two rounds later, when every process
// has read them.
class StoreBootstrap : public Bootstrap {
 public:
  StoreBootstrap(std::shared_ptr<KeyValueStore> store, int rank, int size, std::string prefix = "meshreduce");
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::vector<std::string> all_gather(std::string_view blob, Milliseconds timeout) override;

 private:
  std::string key(std::uint64_t round, int rank) const;
  std::shared_ptr<KeyValueStore> store_;
  int rank_;
  int size_;
  std::string prefix_;
  std::uint64_t round_ = 0;
};

}  // namespace meshreduce
