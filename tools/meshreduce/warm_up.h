// How bench and calibrate warm a row up before they time it: at least --warmup calls, then more
// while the calls still get faster. The bound's probe gives each kernel a whole untimed pass and
// then rounds of at least four times what the caches hold, so its rates are those of buffers in
// their steady state; a call timed before its buffers reach theirs is held to a rate it has not
// had the chance to reach. Over working sets near the last-level cache's size that takes many calls:
// `meshreduce bench -k 2 -b 64M -e 64M` on a VM with 260 MiB of L3 (256 MiB out of place, 128 MiB in
// place) took 6.5 ms falling to 5.4 ms over 20 calls out of place and 5.3 ms falling to 3.1 ms in
// place, and 4.3 ms and 2.8 ms after 60 warm-up calls; 512 MiB (no cache holds it) and 8 MiB (the
// caches hold it at once) were at their steady time from the second call.
#pragma once

#include <functional>
#include <span>

namespace meshreduce::cli {

// Calls are compared in blocks of this many, by their medians (one slow call does not end the
// warm-up, nor does one fast one prolong it).
inline constexpr int kSettleBlock = 5;
// A block whose median is faster than the block before's by more than this fraction: still warming.
inline constexpr double kSettleGain = 0.03;
// The most the settling calls may take together: a row of large calls, whose buffers no cache holds,
// is at its steady time from its second call, and stops after the first blocks' time is spent.
inline constexpr double kMaxSettleSeconds = 1.0;

// Whether `block`'s median call is faster than `before`'s by more than kSettleGain. Both non-empty.
bool still_getting_faster(std::span<const double> before, std::span<const double> block);

// Runs `timed_call` (which makes one call and returns its seconds) in blocks of kSettleBlock until
// a block is no longer faster than the one before, or the calls have taken kMaxSettleSeconds.
// Returns how many calls it made (at least two blocks' worth, unless the time ran out first).
int settle(const std::function<double()>& timed_call);

// Whether timed call `call` (0-based, of `iterations`) opens a new block when the calls are split
// into `blocks` near-equal blocks in order (the first opens none: it follows the warm-up).
bool starts_block(int call, int iterations, int blocks);

}  // namespace meshreduce::cli
