// Moving bytes between processes that share no memory (processes on different machines): a
// small nonblocking interface below the process executor, which knows nothing of allreduce.
// MpiTransport (meshreduce/bootstrap_mpi.h) implements it with MPI_Isend/MPI_Irecv.
//
// Requests live in numbered slots that the caller manages: reserve() sizes them before a
// layout's first call, so starting and testing a request allocates nothing. Two messages from
// one process to another with the same tag are received in the order they were sent.
#pragma once

#include <cstddef>
#include <span>

namespace meshreduce {

class Transport {
 public:
  virtual ~Transport() = default;
  // Room for requests in slots 0..slots-1.
  virtual void reserve(std::size_t slots) = 0;
  // Start sending (receiving) `bytes` to (from) process `peer` under `tag`; the memory must stay
  // valid, and unread (unwritten) by anyone else, until test(slot) returns true.
  virtual void start_send(int peer, int tag, const void* data, std::size_t bytes, std::size_t slot) = 0;
  virtual void start_receive(int peer, int tag, void* data, std::size_t bytes, std::size_t slot) = 0;
  // Whether the request in `slot` completed; drives progress of every outstanding request.
  // After it returns true the slot is free.
  virtual bool test(std::size_t slot) = 0;
  // Drives progress once and writes the slots of requests completed since the last call to
  // test() or test_some() into `completed` (room for every slot); returns how many. One call
  // however many requests are in flight: a progress loop costs one poll per round.
  virtual std::size_t test_some(std::span<std::size_t> completed) = 0;
  // The largest tag the transport carries.
  virtual int max_tag() const = 0;
};

}  // namespace meshreduce
