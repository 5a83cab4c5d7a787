// halving-doubling: Rabenseifner's allreduce, a reduce-scatter by recursive halving followed by
// an allgather by recursive doubling, with the usual fold when K is not a power of two.
//
// How it works, for one buffer of n elements with rotation r (rank i is device (i + r) % K):
//   fold     p is the largest power of two <= K and e = K - p. Each of the ranks 0, 2, ..,
//            2e-2 hands its whole input to the next rank, which combines the two (lower rank
//            first) into its output and stands for both; the folded-out ranks then wait. The
//            other p ranks renumber themselves 0..p-1.
//   1. recursive halving, log2 p rounds: in round k the ranks that differ in bit k pair up;
//      both hold a partial sum over the same window of the buffer; the one whose bit k is 0
//      keeps the lower half of the window, the other the upper half, and each combines its
//      partner's partial of its kept half with its own (lower rank first) into its output.
//      After the last round each rank holds the one final value of a window of about n/p
//      elements (scaled by 1/K there for an average).
//   2. recursive doubling, the same rounds backwards: partners copy each other their windows,
//      which double each round, until every rank holds the whole buffer.
//   unfold   each rank that stood for a folded-out one copies it the whole result.
//   `chunk_elements` c > 0 cuts the buffer into blocks of c K elements that each run the whole
//   algorithm on their own and so pipeline; 0 runs it once over the buffer.
// In place is safe: a device's output range is overwritten by the allgather (or the unfold) only
// after the final reduce of that range, which comes after every read of its inputs and partials.
//
// What it costs, for n bytes: a power-of-two K sends n/2 + n/4 + ... + n/p = (p-1)/p n bytes in
// log2 p messages in each phase: 2(K-1)/K n bytes per device in 2 log2 K messages, the
// bandwidth lower bound with logarithmic latency. A non-power-of-two K adds, on the 2e devices
// of the fold, n bytes (one message) sent by each folded-out rank and n bytes sent back by its
// partner, which thus sends 2(p-1)/p n + n bytes; the other ranks send 2(p-1)/p n. Every rank
// that takes part combines (p-1)/p n bytes of elements, the fold partners n more.
#include "algorithms/halving_doubling.h"

#include <bit>
#include <vector>

#include "algorithms/slicing.h"

namespace meshreduce::detail {
namespace {

// One block of the buffer through fold, halving, doubling and unfold.
class HalvingDoubling {
 public:
  HalvingDoubling(Schedule& schedule, const AlgorithmRequest& request)
      : schedule_(schedule),
        devices_(request.num_devices),
        rotation_(request.rotation),
        average_(request.op == ReduceOp::average),
        ranks_(static_cast<int>(std::bit_floor(static_cast<unsigned>(request.num_devices)))) {}

  void add_block(Range block) {
    const int folded = devices_ - ranks_;
    // The devices that take part, by rank 0..p-1: the second of each fold pair, then the rest.
    std::vector<Rank> ranks;
    for (int i = 0; i < devices_; ++i)
      if (i >= 2 * folded || i % 2 == 1) ranks.push_back({device(i), block, false, {}});

    std::vector<int> fold_steps;
    for (int i = 0; i < folded; ++i) {
      const int from = device(2 * i);
      const int into = device(2 * i + 1);
      Rank& rank = ranks[static_cast<std::size_t>(i)];
      const int step = schedule_.add({StepKind::reduce, into, block.count,
                                      {input_at(from, block.offset), input_at(into, block.offset)},
                                      {output_at(into, block.offset)}, {}, false});
      rank.in_output = true;
      rank.writers = {step};
    }

    const int rounds = std::countr_zero(static_cast<unsigned>(ranks_));
    // Recursive halving: every rank's steps of a round are built from the state before it.
    for (int round = 0; round < rounds; ++round) {
      const int mask = 1 << round;
      std::vector<Rank> next = ranks;
      for (int me = 0; me < ranks_; ++me) {
        const Rank& mine = ranks[static_cast<std::size_t>(me)];
        const Rank& partner = ranks[static_cast<std::size_t>(me ^ mask)];
        const Range kept = part(mine.window, 2, (me & mask) ? 1 : 0);
        const Rank& lower = (me & mask) ? partner : mine;
        const Rank& upper = (me & mask) ? mine : partner;
        Step step{StepKind::reduce, mine.device, kept.count,
                  {lower.partial(kept.offset), upper.partial(kept.offset)},
                  {output_at(mine.device, kept.offset)}, {}, average_ && round == rounds - 1};
        step.deps = mine.writers;
        step.deps.insert(step.deps.end(), partner.writers.begin(), partner.writers.end());
        Rank& updated = next[static_cast<std::size_t>(me)];
        updated.window = kept;
        updated.in_output = true;
        const int added = add_if_nonempty(schedule_, std::move(step));
        updated.writers = added >= 0 ? std::vector<int>{added} : std::vector<int>{};
      }
      ranks = std::move(next);
    }

    // Recursive doubling: each rank copies its window to its partner; `writers` collects the
    // steps that wrote a rank's window, which its later copies wait for.
    for (int round = rounds - 1; round >= 0; --round) {
      const int mask = 1 << round;
      std::vector<Rank> next = ranks;
      for (int me = 0; me < ranks_; ++me) {
        const Rank& mine = ranks[static_cast<std::size_t>(me)];
        const Rank& partner = ranks[static_cast<std::size_t>(me ^ mask)];
        const int added = add_if_nonempty(
            schedule_, {StepKind::copy, mine.device, mine.window.count, {output_at(mine.device, mine.window.offset)},
                        {output_at(partner.device, mine.window.offset)}, mine.writers, false});
        Rank& receiver = next[static_cast<std::size_t>(me ^ mask)];
        if (added >= 0) receiver.writers.push_back(added);
        const Range& low = (me & mask) ? partner.window : mine.window;
        receiver.window = {low.offset, mine.window.count + partner.window.count};
      }
      ranks = std::move(next);
    }

    for (int i = 0; i < folded; ++i) {
      const Rank& rank = ranks[static_cast<std::size_t>(i)];
      schedule_.add({StepKind::copy, rank.device, block.count, {output_at(rank.device, block.offset)},
                     {output_at(device(2 * i), block.offset)}, rank.writers, false});
    }
  }

 private:
  struct Rank {
    int device = 0;
    Range window;            // the range it holds a partial (halving) or final value (doubling) of
    bool in_output = false;  // its partial is in its output (after its first combination), else its input
    std::vector<int> writers;  // the steps that wrote its partial or its final values

    BufferRef partial(std::int64_t offset) const {
      return in_output ? output_at(device, offset) : input_at(device, offset);
    }
  };

  int device(int rank) const { return rotated(rank, rotation_, devices_); }

  Schedule& schedule_;
  int devices_;
  std::int64_t rotation_;
  bool average_;
  int ranks_;
};

}  // namespace

std::optional<std::string> decline_halving_doubling(const AlgorithmRequest& request) {
  return decline_without_devices(request);
}

Schedule build_halving_doubling(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("halving-doubling", request);
  const int k = request.num_devices;
  const std::int64_t n = request.count;
  if (finish_if_trivial(schedule, request)) return schedule;
  HalvingDoubling builder(schedule, request);
  for (Range block : blocks(n, request.options.chunk_elements, k)) builder.add_block(block);
  return schedule;
}

}  // namespace meshreduce::detail
