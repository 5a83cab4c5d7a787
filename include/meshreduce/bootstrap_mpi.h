// The bootstrap of a job launched by mpirun: ranks of an MPI communicator (MPI_COMM_WORLD by
// default). Part of the meshreduce_mpi library (target meshreduce::mpi). The caller initializes
// MPI (MPI_Init or MPI_Init_thread) before and finalizes it after every use.
#pragma once

#include <mpi.h>

#include "meshreduce/bootstrap.h"

namespace meshreduce {

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

}  // namespace meshreduce
