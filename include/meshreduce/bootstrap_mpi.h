// Jobs launched by mpirun: the bootstrap over an MPI communicator (MPI_COMM_WORLD by default),
// and the transport between machines over MPI point-to-point. Part of the meshreduce_mpi
// library (target meshreduce::mpi). The caller initializes MPI (MPI_Init or MPI_Init_thread)
// before and finalizes it after every use; calls come from one thread at a time.
#pragma once

#include <mpi.h>

#include <vector>

#include "meshreduce/bootstrap.h"
#include "meshreduce/transport.h"

namespace meshreduce {

// Call before MPI_Init (it only sets environment defaults that MPI_Init reads; a setting the
// user made wins). With Open MPI it turns off the TCP transport's put protocol, on which Open
// MPI 4.1 loses messages between machines and the job stops (docs/processes.md, "Known
// problem"). Without it, traffic over Open MPI's TCP transport may hang until the timeout.
void prepare_mpi_environment();

class MpiBootstrap : public Bootstrap {
 public:
  // Duplicates `comm`, so meshreduce's messages never match the application's.
  explicit MpiBootstrap(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiBootstrap() override;
  MpiBootstrap(const MpiBootstrap&) = delete;
  MpiBootstrap& operator=(const MpiBootstrap&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // Nonblocking collectives polled against the deadline: a rank that never arrives is a
  // TimeoutError here, not a hang (the abandoned request is left to MPI_Finalize).
  std::vector<std::string> all_gather(std::string_view blob, Milliseconds timeout) override;
  void barrier(Milliseconds timeout) override;

  MPI_Comm comm() const noexcept { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// MPI_Isend / MPI_Irecv on a duplicate of `comm` (ranks as in `comm`), polled with MPI_Test.
class MpiTransport : public Transport {
 public:
  explicit MpiTransport(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiTransport() override;
  MpiTransport(const MpiTransport&) = delete;
  MpiTransport& operator=(const MpiTransport&) = delete;

  void reserve(std::size_t slots) override;
  void start_send(int peer, int tag, const void* data, std::size_t bytes, std::size_t slot) override;
  void start_receive(int peer, int tag, void* data, std::size_t bytes, std::size_t slot) override;
  bool test(std::size_t slot) override;
  std::size_t test_some(std::span<std::size_t> completed) override;
  int max_tag() const override { return max_tag_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int max_tag_ = 32767;  // the least MPI_TAG_UB the standard allows
  std::vector<MPI_Request> requests_;
  std::vector<int> indices_;  // MPI_Testsome's answer, sized with requests_
};

}  // namespace meshreduce
