// prepare_mpi_environment: settings of the MPI library that meshreduce's traffic between
// machines needs, given as environment defaults before MPI_Init reads them.
//
// Open MPI 4.1's TCP transport loses messages on its put (RDMA pipeline) protocol, which it
// uses for messages of 192 KiB and more: with a flat ring over two emulated machines of two
// processes (btl self,tcp), 7 of 18 runs at 16 MiB stopped. A log of every MPI_Isend, MPI_Irecv
// and completion showed the protocol consistent (every receive has a send of the same peer,
// tag and byte count, in the same order, and the sends completed at the sender) while the
// receiver, polling MPI_Testsome, never completed a receive whose send had completed, nor the
// later ones from that sender. Without the put protocol (btl_tcp_flags send,inplace) 0 of 18
// runs stopped. The data then moves in the send protocol's fragments, which cost one more copy
// at the receiver.
#include <cstdlib>

#include "meshreduce/bootstrap_mpi.h"

namespace meshreduce {

void prepare_mpi_environment() {
#ifdef OPEN_MPI
  // Overwrite 0: a value the user gave (mpirun --mca, the environment) stays.
  ::setenv("OMPI_MCA_btl_tcp_flags", "send,inplace", 0);
#endif
}

}  // namespace meshreduce
