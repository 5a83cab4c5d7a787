// The streaming-bandwidth probe: this machine's best rate of memory traffic (bytes read + bytes
// written per second), measured in the same run as a benchmark, and the bound it puts on an
// allreduce. docs/benchmarking.md explains the kernels and the bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace meshreduce::cli {

// What a probe kernel runs per piece: the executor's own run_kernel (copy or reduce, with the
// sources, destinations and stores of one of its pieces) or a plain loop (read, write, memcpy).
enum class ProbeLoop { read, write, memcpy, copy, reduce };

// How the threads share a pass over the buffers.
enum class ProbeSharing {
  // As the executor shares a step: pieces claimed one at a time, one dispatch per pass.
  claimed,
  // Each thread its own fixed slice of every buffer, passed over many times in one dispatch: no
  // claims, no wake-ups between passes, and each slice stays in its thread's own caches. Only
  // where a pass is shorter than a round (small buffers), where those costs would count.
  fixed,
};

struct ProbeKernel {
  std::string name;       // "read", "write", "copy", "reduce 8->1", ...
  double best_gbps = 0;   // traffic rate of the fastest round
  double median_gbps = 0; // traffic rate of the median round
  // Buffers of the per-buffer size the kernel touches: its working set (2 K for a K->K reduce, K
  // for one in place), which decides how much of it the caches hold.
  int buffers_touched = 0;
  // Writes the lines it has just read (a store to a line already in the cache): only an in-place
  // call can move its bytes that way.
  bool in_place = false;
  ProbeLoop loop = ProbeLoop::read;
  int sources = 0;       // per piece (copy and reduce: as KernelArgs)
  int destinations = 0;
  bool stream = false;   // non-temporal stores
  std::int64_t round_bytes = 0;  // about what each of its rounds moved (StreamProbe::round_bytes_for)
  ProbeSharing sharing = ProbeSharing::claimed;
};

// A round moves at least this much (about a millisecond at memory speed). A kernel whose buffers
// outgrow the caches may leave up to a cache full of the lines it wrote to be written back in the
// next round, so its rounds move at least kRoundsPerCache times what the caches can hold of its
// buffers (StreamProbe::round_bytes_for): over rounds not much longer than the caches the best round
// was seen to beat the median by 10-17% (in place, K = 2, rounds of 32 MiB over a 32 MiB L3),
// against 1-4% over rounds four times as long: the best round was credited with bytes it had not
// yet written back.
constexpr std::int64_t kMinProbeRoundBytes = std::int64_t{32} << 20;
constexpr std::int64_t kRoundsPerCache = 4;
// Timed rounds per kernel, of the main probe and of each row's (bench --probe-rounds): the best of
// many rounds is less likely to be one that other processes disturbed.
constexpr int kProbeRounds = 25;
constexpr int kMaxProbeRounds = 1000;

// This machine's last-level caches, all of them together, as hwloc reports them (0 if it cannot).
std::int64_t last_level_cache_bytes();
// What the caches of `threads` cores hold by themselves: the C library's L2 size (sysconf) times
// `threads` (0 if it cannot tell). Data beyond that lives in a last-level cache that every process
// of the host shares, or in memory, and moves at a rate that changes from one minute to the next.
std::int64_t own_cache_bytes(int threads);

struct StreamProbe {
  int threads = 0;
  int rounds = 0;
  std::int64_t round_bytes = 0;  // the least a round moves
  std::int64_t cache_bytes = 0;  // the caches that lengthen rounds over larger buffers
  // The bytes a round of a kernel moves whose buffers take `working_set` bytes.
  std::int64_t round_bytes_for(std::int64_t working_set) const;
  std::int64_t bytes = 0;  // memory the kernels run over (K inputs and K outputs together)
  std::vector<ProbeKernel> kernels;
  double best_gbps = 0;    // B: the best traffic rate of any kernel
  std::string best_kernel;
};

// Memory a probe runs over: K input buffers and K output buffers (none: an in-place call's own
// buffers, over which only the kernels that write no other memory run), `bytes_per_buffer` each.
struct ProbeMemory {
  std::vector<std::byte*> inputs;
  std::vector<std::byte*> outputs;
  std::size_t bytes_per_buffer = 0;
};

// Runs read, write, copy and a K-way reduce (K = `devices`, at least 2) over `bytes` of memory
// in all (split into K input and K output buffers) on `threads` threads (0: every hardware
// thread): per kernel one untimed pass, then `rounds` timed rounds of about `round_bytes` of
// traffic each, or kRoundsPerCache times the part of `cache_bytes` its buffers can fill if that
// is more (several passes over small buffers, part of one over large buffers). Each kernel runs
// with claimed pieces, and where a pass moves at most a round's bytes also with fixed slices
// (ProbeSharing).
StreamProbe measure_stream_probe(int devices, std::int64_t bytes, int threads, int rounds, std::int64_t round_bytes,
                                 std::int64_t cache_bytes);

// Which kernels a probe runs: those that can bound a call (best_kernel_for), so that a probe for
// one row spends no time on kernels whose rates would not count for it.
struct KernelsThatCount {
  bool in_place = true;         // the in-place kernels too (an in-place call's)
  int min_buffers_touched = 0;  // a working set of at least this many buffers
};

// The same kernels over `memory` as it is: its pages already touched, its values kept (only the
// outputs, and the inputs by the in-place kernels, are written). For a call's own buffers.
StreamProbe measure_stream_probe_over(const ProbeMemory& memory, int threads, int rounds, std::int64_t round_bytes,
                                      std::int64_t cache_bytes, KernelsThatCount only = {});

// B for one kind of call: the best rate of the kernels that move bytes the way such a call can.
// An out-of-place call cannot use the in-place kernels' trick. Over small buffers, whose data the
// caches hold between calls, only kernels whose working set is at least the call's count (a
// kernel over fewer bytes would find more of them in the caches than the call can).
// Null when no kernel qualifies.
const ProbeKernel* best_kernel_for(const StreamProbe& probe, bool in_place, int working_set_buffers = 0);
// Whether `kernel` can bound such a call (best_kernel_for's rule; KernelsThatCount's too).
bool kernel_counts_for(const ProbeKernel& kernel, bool in_place, int working_set_buffers);

// B for an allreduce of S bytes per device: for calls whose buffers outgrow the cores' own caches,
// a probe over the call's own buffers (`call`, when given: the same memory, pages and values the
// call runs over), or the main probe's if higher where the call's buffers are no larger than the
// main probe's (a kernel over fewer bytes than the call finds more of them in the caches than the
// call can: best_kernel_for's working-set rule); for calls those caches hold, or without
// `call` (then up to the main probe's memory), the higher of the main probe's and a probe over
// buffers of S bytes; beyond that, the main probe's.
class BoundProbes {
 public:
  // `own_caches`: what the cores' own caches hold (own_cache_bytes; 0: unknown, and the
  // last-level caches, main.cache_bytes, take their place).
  BoundProbes(StreamProbe main, int devices, int threads, std::int64_t own_caches)
      : main_(std::move(main)), devices_(devices), threads_(threads), own_caches_(own_caches) {}
  BoundProbes(StreamProbe main, int devices, int threads)
      : main_(std::move(main)), devices_(devices), threads_(threads), own_caches_(own_cache_bytes(main_.threads)) {}
  const StreamProbe& main() const { return main_; }
  // Calls whose buffers (K inputs and K outputs) take more than this are probed over their own
  // buffers, around and between blocks of their calls: the cores' own caches, or the last-level
  // caches if less.
  std::int64_t own_buffers_above() const;
  // Runs the main probe again, and the probe over buffers of `bytes_per_device` if that size has
  // one (a footprint under the main probe's), keeping each kernel's better rates: B only rises.
  // For a sweep that times its rows one after another: the memory of a shared machine changes
  // rate from minute to minute, and a row is held to the best rate measured before it.
  void reprobe(std::int64_t bytes_per_device);
  // Runs the probe that bounds such a call (over buffers of its size, or over `call`'s own
  // buffers) now, keeping each kernel's better rates. Before and after a row's calls: the memory
  // of a shared machine changes rate from one minute to the next, and a bound from a probe run
  // only on one side of the calls was seen to read 1.46 times too low. Calls whose buffers the
  // cores' own caches hold are probed once (there are many such rows, and no other process moves
  // their rate as much). Returns whether it ran over `call`'s buffers (whose values it then
  // changed): it does for every call whose buffers outgrow those caches (own_buffers_above).
  bool probe_again(std::int64_t bytes_per_device, bool in_place, const ProbeMemory* call = nullptr);
  // Whether such a call is bounded by a probe over its own buffers (probe_again runs over them).
  bool over_own_buffers(std::int64_t bytes_per_device, const ProbeMemory* call) const;
  double best_gbps(std::int64_t bytes_per_device, bool in_place, const ProbeMemory* call = nullptr);
  // 2 K S / B: the least time of an allreduce of `bytes_per_device`.
  double bound_seconds(std::int64_t bytes_per_device, bool in_place, const ProbeMemory* call = nullptr);
  // The B of the probes over such a call's own buffers alone (0: none ran).
  double own_buffers_gbps(std::int64_t bytes_per_device, bool in_place) const;
  // The probe over a call's own buffers that best_gbps measured, if any.
  const StreamProbe* call_probe(std::int64_t bytes_per_device, bool in_place) const;

 private:
  std::int64_t footprint(std::int64_t bytes_per_device) const;
  // The buffers of S bytes such a call touches (best_kernel_for's working set).
  int working_set_of(bool in_place) const;
  // Measures the probe over buffers of that size (again), keeping each kernel's better rates.
  void probe_size(std::int64_t bytes_per_device);
  StreamProbe main_;
  int devices_;
  int threads_;
  std::int64_t own_caches_;
  std::map<std::int64_t, StreamProbe> by_size_;
  std::map<std::pair<std::int64_t, bool>, StreamProbe> by_call_;
};

}  // namespace meshreduce::cli
