// MpiBootstrap: all_gather as MPI_Iallgather of the blob sizes, then MPI_Iallgatherv of the
// blobs, each polled with MPI_Test until it completes or the deadline passes.
#include "meshreduce/bootstrap_mpi.h"

#include <chrono>
#include <string>
#include <thread>

namespace meshreduce {
namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed: " + mpi_error_text(code));
}

// Polls `request` until it completes; TimeoutError naming the exchange after `timeout`.
void complete(MPI_Request& request, Milliseconds timeout, int rank, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int round = 0;; ++round) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    if (std::chrono::steady_clock::now() >= deadline)
      throw TimeoutError("MPI bootstrap: rank " + std::to_string(rank) + " waited " + std::to_string(timeout.count()) +
                         " ms in " + what + " for a rank that did not arrive");
    // Bootstrap exchanges are setup, not a call's path: after a millisecond or so of yielding,
    // sleep, so that a rank busy alone (measuring, planning) gets the cores.
    if (round > 2000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    else if (round > 64) std::this_thread::yield();
  }
}

}  // namespace

MpiBootstrap::MpiBootstrap(MPI_Comm comm) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw InvalidArgument("MpiBootstrap: MPI is not initialized (call MPI_Init first)");
  check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);  // errors are exceptions, not aborts
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiBootstrap::~MpiBootstrap() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

std::vector<std::string> MpiBootstrap::all_gather(std::string_view blob, Milliseconds timeout) {
  const int length = static_cast<int>(blob.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_));
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Iallgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm_, &request), "MPI_Iallgather");
  complete(request, timeout, rank_, "an exchange of blob sizes");
  std::vector<int> offsets(static_cast<std::size_t>(size_), 0);
  long long total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += lengths[static_cast<std::size_t>(r)];
  }
  if (total > (1LL << 30)) throw InvalidArgument("MPI bootstrap: blobs of " + std::to_string(total) + " bytes in all");
  std::string all(static_cast<std::size_t>(total), '\0');
  check(MPI_Iallgatherv(blob.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, comm_,
                        &request),
        "MPI_Iallgatherv");
  complete(request, timeout, rank_, "an exchange of blobs");
  std::vector<std::string> blobs;
  for (int r = 0; r < size_; ++r)
    blobs.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                               static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
  return blobs;
}

void MpiBootstrap::barrier(Milliseconds timeout) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  complete(request, timeout, rank_, "a barrier");
}

}  // namespace meshreduce
