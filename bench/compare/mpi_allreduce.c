/* MPI_Allreduce over a sweep of sizes, measured the way `meshreduce bench` measures: the same flags, the
 * same inputs, the same figures and JSON. Built once against Open MPI and once against MPICH.
 *
 * Per size: buffers are allocated once and written before timing (a first touch costs a page fault per
 * 4 KiB and would dominate); each iteration is MPI_Barrier, then MPI_Allreduce between two readings of
 * CLOCK_MONOTONIC (harness_monotonic_s); an iteration lasts from the earliest rank's start to the latest
 * rank's end, and the size's time is the median over the timed iterations.
 * The output of the last iteration is compared bit for bit with the exact sum (#wrong).
 *
 * --budget-s S lowers the warm-up and timed iterations where they would take longer than S (harness_plan).
 *
 *   mpirun -n K ./mpi_allreduce_openmpi -b 4K -e 256M -f 4 -w 3 -n 10 -d f32 -o sum [--in-place] [--budget-s 3]
 */
#define _POSIX_C_SOURCE 200809L  /* posix_memalign */
#include <mpi.h>

#include "harness_common.h"

#if defined(OPEN_MPI)
static const char* kImplementation = "openmpi";
#elif defined(MPICH)
static const char* kImplementation = "mpich";
#else
static const char* kImplementation = "mpi";
#endif

/* The MPI datatype for a dtype, or MPI_DATATYPE_NULL where there is none to measure. f16: Open MPI 4.1
 * has no such type, and MPICH 4.0.2's MPIX_C_FLOAT16 aborts inside MPI_Allreduce ("Assertion failed in
 * typerep_yaksa_pack.c: actual_pack_bytes == data_sz"), so f16 is skipped for both. */
static MPI_Datatype mpi_type(harness_dtype dtype) {
  if (dtype == DTYPE_F32) return MPI_FLOAT;
  if (dtype == DTYPE_F64) return MPI_DOUBLE;
  return MPI_DATATYPE_NULL;
}

static harness_row measure(const harness_options* o, MPI_Datatype type, int64_t bytes, int rank, int ranks) {
  const int64_t elements = bytes / (int64_t)harness_dtype_size(o->dtype);
  bytes = elements * (int64_t)harness_dtype_size(o->dtype);
  void* in = NULL;
  void* out = NULL;
  if (posix_memalign(&in, 64, (size_t)bytes) || posix_memalign(&out, 64, (size_t)bytes)) {
    fprintf(stderr, "rank %d: cannot allocate 2 x %lld bytes\n", rank, (long long)bytes);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  harness_fill(o->dtype, in, elements, rank);
  memset(out, 0, (size_t)bytes);

  /* Per timed call: this rank's start and end, then the earliest start and the latest end of all. */
  const size_t n = (size_t)o->iterations;
  double* starts = calloc(n, sizeof(double));
  double* ends = calloc(n, sizeof(double));
  double* earliest = calloc(n, sizeof(double));
  double* latest = calloc(n, sizeof(double));
  int warmup = o->warmup, timed = o->iterations;
  for (int i = 0; i < warmup + timed; ++i) {
    if (o->in_place) harness_fill(o->dtype, out, elements, rank); /* the last call overwrote the input */
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = harness_monotonic_s();
    /* Sizes up to 256 MiB of f16 fit an int count. */
    MPI_Allreduce(o->in_place ? MPI_IN_PLACE : in, out, (int)elements, type, MPI_SUM, MPI_COMM_WORLD);
    const double end = harness_monotonic_s();
    if (i >= warmup) {
      starts[i - warmup] = start;
      ends[i - warmup] = end;
    }
    if (i == 0 && warmup > 0) { /* every rank must agree on the counts: plan on the first call's span */
      double first[2] = {-start, end}, job[2] = {0, 0};
      MPI_Allreduce(first, job, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      harness_plan(o, job[0] + job[1], &warmup, &timed);
    }
  }
  MPI_Allreduce(starts, earliest, timed, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(ends, latest, timed, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  for (int i = 0; i < timed; ++i) latest[i] -= earliest[i];
  int64_t wrong = harness_count_wrong(o->dtype, out, elements, ranks);
  int64_t total_wrong = 0;
  MPI_Reduce(&wrong, &total_wrong, 1, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  const double t = harness_median(latest, timed);
  if (rank == 0) fprintf(stderr, "%s: %lld bytes: %d calls, median %.6f s\n", kImplementation, (long long)bytes, warmup + timed, t);
  free(starts);
  free(ends);
  free(earliest);
  free(latest);
  free(in);
  free(out);
  return harness_make_row(bytes, elements, t, ranks, total_wrong, timed);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const harness_options o = harness_parse_args(argc, argv);
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int length = 0;
  MPI_Get_library_version(version, &length);
  for (char* c = version; *c; ++c)
    if (*c == '\n' || *c == '"' || *c == '\\' || *c == '\t') *c = ' ';
  version[length < 80 ? length : 80] = '\0';

  const MPI_Datatype type = mpi_type(o.dtype);
  harness_row rows[64];
  int n = 0;
  if (type != MPI_DATATYPE_NULL)
    for (int64_t bytes = o.min_bytes; bytes <= o.max_bytes && n < 64; bytes *= o.factor)
      rows[n++] = measure(&o, type, bytes, rank, ranks);

  int64_t wrong = 0;
  for (int i = 0; i < n; ++i) wrong += rows[i].wrong;
  if (rank == 0) {
    harness_print_header(stdout, kImplementation, version, ranks, &o);
    if (type == MPI_DATATYPE_NULL) printf(", \"skipped\": \"no working MPI datatype for %s\"", o.dtype_name);
    printf(", \"results\": ");
    harness_print_rows(stdout, rows, n, NULL, NULL);
    printf("}\n");
    fflush(stdout);
  }
  MPI_Finalize();
  return wrong == 0 ? 0 : 3;
}
