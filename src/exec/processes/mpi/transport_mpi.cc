// MpiTransport: the transport between machines on MPI point-to-point. Sends and receives are
// nonblocking; the executor drives progress by testing while it waits.
#include <climits>
#include <string>

#include "meshreduce/bootstrap_mpi.h"

namespace meshreduce {
namespace {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

int checked_count(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw InvalidArgument("MPI transport: a message of " + std::to_string(bytes) + " bytes exceeds INT_MAX");
  return static_cast<int>(bytes);
}

}  // namespace

MpiTransport::MpiTransport(MPI_Comm comm) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw InvalidArgument("MpiTransport: MPI is not initialized (call MPI_Init first)");
  check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  // A failed message (a truncated receive after a schedule mismatch) is an exception here, not
  // an abort of the whole job.
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  void* value = nullptr;
  int present = 0;
  MPI_Comm_get_attr(comm_, MPI_TAG_UB, &value, &present);
  if (present && value != nullptr) max_tag_ = *static_cast<int*>(value);
}

MpiTransport::~MpiTransport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (MPI_Request& request : requests_)
    if (request != MPI_REQUEST_NULL) {
      MPI_Cancel(&request);
      MPI_Request_free(&request);
    }
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiTransport::reserve(std::size_t slots) {
  if (slots > requests_.size()) {
    requests_.resize(slots, MPI_REQUEST_NULL);
    indices_.resize(slots);
  }
}

void MpiTransport::start_send(int peer, int tag, const void* data, std::size_t bytes, std::size_t slot) {
  check(MPI_Isend(data, checked_count(bytes), MPI_BYTE, peer, tag, comm_, &requests_.at(slot)), "MPI_Isend");
}

void MpiTransport::start_receive(int peer, int tag, void* data, std::size_t bytes, std::size_t slot) {
  check(MPI_Irecv(data, checked_count(bytes), MPI_BYTE, peer, tag, comm_, &requests_.at(slot)), "MPI_Irecv");
}

bool MpiTransport::test(std::size_t slot) {
  int done = 0;
  MPI_Status status;
  check(MPI_Test(&requests_.at(slot), &done, &status), "MPI_Test");
  return done != 0;
}

}  // namespace meshreduce

namespace meshreduce {

std::size_t MpiTransport::test_some(std::span<std::size_t> completed) {
  int count = 0;
  check(MPI_Testsome(static_cast<int>(requests_.size()), requests_.data(), &count, indices_.data(), MPI_STATUSES_IGNORE),
        "MPI_Testsome");
  if (count == MPI_UNDEFINED) return 0;  // no request in flight
  for (int i = 0; i < count; ++i) completed[static_cast<std::size_t>(i)] = static_cast<std::size_t>(indices_[static_cast<std::size_t>(i)]);
  return static_cast<std::size_t>(count);
}

}  // namespace meshreduce
