// One process per device under mpirun (mpirun -np K example_mpi): each holds one gradient, and
// every process ends with the sum over the K processes.
#include <meshreduce/bootstrap_mpi.h>
#include <meshreduce/process_communicator.h>

#include <cstdio>
#include <memory>
#include <vector>

int main(int argc, char** argv) {
  meshreduce::prepare_mpi_environment();  // before MPI_Init: settings MPI_Init reads
  MPI_Init(&argc, &argv);
  int status = 0;
  {
    meshreduce::ProcessCommunicatorOptions options;
    options.algorithm = "ring";
    options.transport = std::make_shared<meshreduce::MpiTransport>();  // only used across machines
    meshreduce::ProcessCommunicator comm(std::make_shared<meshreduce::MpiBootstrap>(), options);
    const int rank = comm.rank();
    const int size = comm.size();
    // Element i of rank r is r * 1000 + i: every element and rank differs, every sum is exact.
    std::vector<float> gradient(1000);
    for (std::size_t i = 0; i < gradient.size(); ++i) gradient[i] = static_cast<float>(rank * 1000 + static_cast<int>(i));
    std::vector<std::vector<meshreduce::TensorView>> grads{{meshreduce::TensorView(std::span(gradient))}};
    comm.allreduce(grads, meshreduce::ReduceOp::sum);
    for (std::size_t i = 0; i < gradient.size(); ++i)
      if (gradient[i] != static_cast<float>(500 * size * (size - 1) + size * static_cast<int>(i))) status = 1;
    std::printf("rank %d of %d: %s\n", rank, size, status == 0 ? "sum ok" : "WRONG sum");
  }
  MPI_Finalize();
  return status;
}
