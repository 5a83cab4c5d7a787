#!/usr/bin/env bash
# Side by side: meshreduce against Open MPI's and MPICH's MPI_Allreduce and Gloo's allreduce algorithms,
# on this machine, with the same K, sizes, dtype, op and bit-exact check. Every MPI peer runs twice: as
# installed, and with glibc told to keep freed memory in its heap (the "-heap" variants, see README.md),
# which spares MPI's per-call temporaries a fresh mmap and its page faults; the best of all is "best peer". Installs the Debian packages if
# missing, builds the harnesses (and meshreduce), runs every implementation interleaved (round robin, the
# order rotated each repetition) several times, then prints one table (median over repetitions) and writes
# it as Markdown, with a plot of busbw against size as SVG. See README.md beside this file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

ks=2,4,8
min_bytes=4K
max_bytes=256M
factor=4
warmup=3
iterations=10
budget_s=3
dtype=f32
reps=3
max_minutes=20
algorithm=""
implementations=meshreduce,mr-procs,mr-procs-shared,openmpi,openmpi-heap,mpich,mpich-heap,gloo,mr-2machines,mr-2machines-ring,openmpi-tcp
# The page-fault mitigation of the -heap variants: glibc serves requests below the mmap threshold from
# its heap and keeps up to the top pad of freed memory there, so a temporary freed by one call is
# reused, already mapped, by the next. 1 GiB covers 256 MiB messages and their temporaries.
heap_bytes=1073741824
gloo_algorithms=allreduce,ring,ring_chunked,halving_doubling,bcube
in_place=""
threads=0
results="$here/results"
plot=""
table=""
build="$here/build"
meshreduce=""
install=1
run_timeout=1200

usage() {
  cat <<EOF
usage: bench/compare/run.sh [flags]
  --ks LIST              process / device counts K (default $ks)
  --min-bytes SIZE       smallest size per process, K/M/G suffixes (default $min_bytes)
  --max-bytes SIZE       largest size per process (default $max_bytes)
  --factor N             size multiplier between rows (default $factor)
  --warmup N             untimed calls per size (default $warmup)
  --iterations N         timed calls per size; the time is their median (default $iterations)
  --budget-s S           peers only: fewer calls for sizes whose calls would take longer than S
                         seconds in all: >= 1 warm-up and 3 timed, 1 timed where one call alone
                         takes longer than S (default $budget_s; 0: off)
  --dtype T              f32, f64 or f16 (f16: no MPI runs it, see README) (default $dtype)
  --reps N               repetitions, interleaved round robin (default $reps)
  --max-minutes M        start no repetition after the first that would end past M minutes, judged
                         by the longest so far (default $max_minutes; 0: no limit)
  --algorithm NAME       meshreduce's algorithm (default: auto, the planner's pick per size, if this
                         meshreduce has it, else direct, else hierarchical)
  --threads N            meshreduce's worker threads (default 0: all hardware threads)
  --implementations LIST subset of $implementations
                         (default all); -heap: the same MPI with MALLOC_MMAP_THRESHOLD_ and MALLOC_TOP_PAD_
                         at --heap-bytes, so temporaries reuse the heap instead of fresh mmaps;
                         mr-procs(-shared): meshreduce bench --backend processes under Open MPI's mpirun,
                         private buffers (--shared: from its arena); at even K >= 4 only: mr-2machines and
                         mr-2machines-ring, two emulated machines of K/2 processes (--ranks-per-node) joined by
                         MPI over TCP on loopback (hierarchical-rs, flat ring), and openmpi-tcp,
                         MPI_Allreduce with the TCP transport only, their peer
  --heap-bytes N         the -heap variants' glibc threshold and pad (default $heap_bytes)
  --gloo-algorithms LIST subset of $gloo_algorithms
  --in-place             the peers reduce in place, and the table takes meshreduce's in-place
                         columns (meshreduce bench always measures both; default out of place)
  --results DIR          where raw JSON, table and plot go (default bench/compare/results)
  --table PATH           Markdown table (default RESULTS/compare.md)
  --plot PATH            SVG plot (default RESULTS/compare.svg)
  --build DIR            build folder for the harnesses (and meshreduce) (default bench/compare/build)
  --meshreduce PATH      use this meshreduce binary instead of building one
  --no-install           never apt-get install; skip peers whose packages are missing
  --quick                about 2 minutes: sizes 4K..16M factor 16, 2 repetitions, 5 timed calls
EOF
}

while (($#)); do
  case "$1" in
    --ks) ks=$2; shift ;;
    --min-bytes) min_bytes=$2; shift ;;
    --max-bytes) max_bytes=$2; shift ;;
    --factor) factor=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --iterations) iterations=$2; shift ;;
    --budget-s) budget_s=$2; shift ;;
    --dtype) dtype=$2; shift ;;
    --reps) reps=$2; shift ;;
    --max-minutes) max_minutes=$2; shift ;;
    --algorithm) algorithm=$2; shift ;;
    --threads) threads=$2; shift ;;
    --implementations) implementations=$2; shift ;;
    --heap-bytes) heap_bytes=$2; shift ;;
    --gloo-algorithms) gloo_algorithms=$2; shift ;;
    --in-place) in_place=--in-place ;;
    --results) results=$2; shift ;;
    --table) table=$2; shift ;;
    --plot) plot=$2; shift ;;
    --build) build=$2; shift ;;
    --meshreduce) meshreduce=$2; shift ;;
    --no-install) install=0 ;;
    --quick) min_bytes=4K; max_bytes=16M; factor=16; reps=2; warmup=2; iterations=5; budget_s=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown flag $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
table=${table:-$results/compare.md}
plot=${plot:-$results/compare.svg}
log() { echo "[compare] $*" >&2; }

# --- packages -------------------------------------------------------------------------------------------
packages=(libopenmpi-dev openmpi-bin libmpich-dev mpich libgloo-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if ((install)); then
    log "installing ${missing[*]}"
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 ||
      { $sudo apt-get update >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2; }
  else
    log "missing packages ${missing[*]} (--no-install): their implementations are skipped"
  fi
fi

# --- build ------------------------------------------------------------------------------------------------
mkdir -p "$build" "$results/raw"
cflags=(-O2 -Wall -Wextra -I"$here")
have() { command -v "$1" >/dev/null 2>&1; }
built=(meshreduce)
with_heap() { built+=("$1" "$1-heap"); }
stale() {  # target sources...: true when target is missing or older than a source
  local target=$1 source; shift
  [[ -x $target ]] || return 0
  for source; do [[ $source -nt $target ]] && return 0; done
  return 1
}
common=("$here/harness_common.h" "$here/run.sh")
if have mpicc.openmpi; then
  ! stale "$build/mpi_allreduce_openmpi" "$here/mpi_allreduce.c" "${common[@]}" ||
    mpicc.openmpi -std=c11 "${cflags[@]}" -o "$build/mpi_allreduce_openmpi" "$here/mpi_allreduce.c"
  with_heap openmpi
  built+=(openmpi-tcp mr-procs mr-procs-shared mr-2machines mr-2machines-ring)  # mpirun.openmpi runs meshreduce's processes
fi
if have mpicc.mpich; then
  ! stale "$build/mpi_allreduce_mpich" "$here/mpi_allreduce.c" "${common[@]}" ||
    mpicc.mpich -std=c11 "${cflags[@]}" -o "$build/mpi_allreduce_mpich" "$here/mpi_allreduce.c"
  with_heap mpich
fi
if [[ -f /usr/include/gloo/allreduce.h ]]; then
  ! stale "$build/gloo_allreduce" "$here/gloo_allreduce.cc" "${common[@]}" ||
    g++ -std=c++20 "${cflags[@]}" -o "$build/gloo_allreduce" "$here/gloo_allreduce.cc" -lgloo -pthread
  built+=(gloo)
fi
if [[ -z $meshreduce ]]; then
  meshreduce="$build/meshreduce/tools/meshreduce/meshreduce"
  log "building meshreduce in $build/meshreduce"
  cmake -S "$root" -B "$build/meshreduce" -DCMAKE_BUILD_TYPE=Release -DMESHREDUCE_BUILD_TESTS=OFF >&2
  if ! cmake --build "$build/meshreduce" -j"$(nproc)" --target meshreduce_cli >&2; then
    [[ -x $meshreduce ]] || { log "meshreduce failed to build"; exit 1; }
    log "meshreduce failed to build: using the older binary already there"
  fi
fi
if [[ -z $algorithm ]]; then
  algorithm=hierarchical
  for candidate in direct auto; do  # the last one this meshreduce accepts wins
    "$meshreduce" bench --topology flat:2 -o sum -a $candidate -b 4K -e 4K -n 1 --warmup 0 --no-probe >/dev/null 2>&1 &&
      algorithm=$candidate
  done
fi

# --- runs -------------------------------------------------------------------------------------------------
IFS=, read -ra impl_list <<<"$implementations"
IFS=, read -ra k_list <<<"$ks"
active=()
for impl in "${impl_list[@]}"; do
  [[ " ${built[*]} " == *" $impl "* ]] && active+=("$impl") || log "skipping $impl: not built"
done
sweep=(-b "$min_bytes" -e "$max_bytes" -f "$factor" --warmup "$warmup" -n "$iterations" -d "$dtype" -o sum)
peer=("${sweep[@]}" --budget-s "$budget_s" $in_place)
heap_env=(env "MALLOC_MMAP_THRESHOLD_=$heap_bytes" "MALLOC_TOP_PAD_=$heap_bytes")
openmpi_run=(mpirun.openmpi --allow-run-as-root --oversubscribe --mca pml ob1 --mca oob_tcp_if_include lo)
processes=(bench --backend processes "${sweep[@]}" --json)
rm -f "$results"/raw/*.json "$results"/raw/*.err

run_one() {  # implementation K repetition -> results/raw/<impl>_k<K>_r<rep>.json
  local impl=$1 k=$2 rep=$3 out="$results/raw/${1}_k${2}_r${3}.json"
  local cmd
  case "$impl" in
    meshreduce) cmd=("$meshreduce" bench --topology "flat:$k" -a "$algorithm" -t "$threads" "${sweep[@]}" --json) ;;
    openmpi) cmd=(mpirun.openmpi --allow-run-as-root --oversubscribe --mca pml ob1 --mca btl self,vader
                  --mca oob_tcp_if_include lo -n "$k" "$build/mpi_allreduce_openmpi" "${peer[@]}") ;;
    # mpirun passes its environment to the ranks (Open MPI: every variable it was started with).
    openmpi-heap) cmd=("${heap_env[@]}" mpirun.openmpi --allow-run-as-root --oversubscribe --mca pml ob1
                       --mca btl self,vader --mca oob_tcp_if_include lo -x MALLOC_MMAP_THRESHOLD_ -x MALLOC_TOP_PAD_
                       -n "$k" "$build/mpi_allreduce_openmpi" "${peer[@]}") ;;
    mpich) cmd=(env UCX_TLS=self,sm mpiexec.mpich -iface lo -n "$k" "$build/mpi_allreduce_mpich" "${peer[@]}") ;;
    mpich-heap) cmd=("${heap_env[@]}" UCX_TLS=self,sm mpiexec.mpich -iface lo -genvall -n "$k"
                     "$build/mpi_allreduce_mpich" "${peer[@]}") ;;
    # meshreduce's process executor under the same mpirun as Open MPI's row: one process per rank.
    mr-procs) cmd=("${openmpi_run[@]}" --mca btl self,vader -n "$k" "$meshreduce" "${processes[@]}" -a "$algorithm") ;;
    mr-procs-shared) cmd=("${openmpi_run[@]}" --mca btl self,vader -n "$k" "$meshreduce" "${processes[@]}" -a "$algorithm"
                          --shared) ;;
    # Two emulated machines: shared memory inside each, MPI over TCP on loopback between them.
    mr-2machines|mr-2machines-ring|openmpi-tcp)
      if ((k < 4 || k % 2)); then log "skipping $impl at K=$k: two machines of K/2 need an even K >= 4"; return; fi
      local alg=hierarchical-rs; [[ $impl == mr-2machines-ring ]] && alg=ring
      local tcp=("${openmpi_run[@]}" --mca btl self,tcp --mca btl_tcp_if_include lo -n "$k")
      if [[ $impl == openmpi-tcp ]]; then cmd=("${tcp[@]}" "$build/mpi_allreduce_openmpi" "${peer[@]}")
      else cmd=("${tcp[@]}" "$meshreduce" "${processes[@]}" -a $alg --ranks-per-node $((k / 2))); fi ;;
    gloo) cmd=("$build/gloo_allreduce" --ranks "$k" --algorithms "$gloo_algorithms" "${peer[@]}") ;;
    *) log "unknown implementation $impl"; return ;;
  esac
  log "rep $rep/$reps K=$k $impl (load $(cut -d' ' -f1 /proc/loadavg))"
  local start=$SECONDS
  timeout "$run_timeout" "${cmd[@]}" >"$out" 2>"${out%.json}.err" || log "  $impl K=$k exited $? (see ${out%.json}.err)"
  log "  ${impl} K=$k took $((SECONDS - start)) s"
}

log "K=$ks, $min_bytes..$max_bytes x$factor, $dtype sum ${in_place:-out of place}, meshreduce -a $algorithm," \
    "$reps repetitions of: ${active[*]}"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
runs_start=$SECONDS
longest=0
done_reps=0
for ((rep = 1; rep <= reps; rep++)); do
  if ((rep > 1 && max_minutes > 0 && SECONDS - runs_start + longest > max_minutes * 60)); then
    log "stopping after $done_reps repetitions: another would end past --max-minutes $max_minutes"
    break
  fi
  rep_start=$SECONDS
  for k in "${k_list[@]}"; do
    n=${#active[@]}
    for ((i = 0; i < n; i++)); do run_one "${active[(i + rep - 1) % n]}" "$k" "$rep"; done
  done
  ((SECONDS - rep_start > longest)) && longest=$((SECONDS - rep_start))
  done_reps=$rep
done
log "runs took $(((SECONDS - runs_start) / 60)) min $(((SECONDS - runs_start) % 60)) s"

cat >"$results/raw/machine.json" <<EOF
{"cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//; s/"//g')", "cores": $(nproc),
 "memory_gib": $(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo), "kernel": "$(uname -r)",
 "load_before": "$load_before", "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)", "repetitions": $done_reps,
 "minutes": $(((SECONDS - runs_start + 30) / 60)),
 "heap_bytes": $heap_bytes, "in_place": $([[ -n $in_place ]] && echo true || echo false),
 "command": "bench/compare/run.sh --ks $ks --min-bytes $min_bytes --max-bytes $max_bytes --factor $factor --warmup $warmup --iterations $iterations --budget-s $budget_s --dtype $dtype --reps $reps --algorithm $algorithm --implementations $implementations $in_place"}
EOF
python3 "$here/report.py" --raw "$results/raw" --table "$table" --plot "$plot"
