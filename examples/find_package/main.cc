#include <meshreduce/meshreduce.h>

#include <cstdio>
#include <vector>

int main() {
  // 8 devices, each holding 2 gradient tensors (tensorpack's all_grads[device][tensor]).
  constexpr int kDevices = 8;
  std::vector<std::vector<float>> weights(kDevices, std::vector<float>(1000));
  std::vector<std::vector<float>> biases(kDevices, std::vector<float>(10));
  std::vector<std::vector<meshreduce::TensorView>> grads(kDevices);
  for (int k = 0; k < kDevices; ++k) {
    for (float& w : weights[k]) w = static_cast<float>(k);  // device k's gradient is all k
    for (float& b : biases[k]) b = 1.0f;
    grads[k] = {std::span(weights[k]), std::span(biases[k])};
  }
  const std::vector<int> devices{0, 1, 2, 3, 4, 5, 6, 7};

  // The seed's call: in place, averaged over the 8 devices (0+1+...+7)/8 = 3.5.
  meshreduce::allreduce_grads_hierarchical(grads, devices, /*average=*/true);

  // A communicator plans once per tensor layout; a training loop then pays only for execution.
  meshreduce::CommunicatorOptions options;
  options.topology = meshreduce::dgx1_v100();
  options.algorithm = "dgx1-hierarchical";
  meshreduce::Communicator comm(options);
  comm.allreduce(grads, meshreduce::ReduceOp::sum);  // now 8 x 3.5 = 28 everywhere

  std::printf("weights[5][0] = %g, biases[0][9] = %g\n", weights[5][0], biases[0][9]);
  return weights[5][0] == 28.0f && biases[0][9] == 8.0f ? 0 : 1;
}
