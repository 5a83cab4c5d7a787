/* What the peer harnesses (mpi_allreduce.c, gloo_allreduce.cc) share with `meshreduce bench`: its flags,
 * its test values (small integers, so sums are exact in any order and checks are bit for bit), its
 * figures (algbw, busbw as nccl-tests defines them) and its JSON schema. Plain C, so both a C and a
 * C++ harness include it. */
#ifndef MESHREDUCE_BENCH_COMPARE_HARNESS_COMMON_H
#define MESHREDUCE_BENCH_COMPARE_HARNESS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { DTYPE_F32, DTYPE_F64, DTYPE_F16 } harness_dtype;

typedef struct {
  int64_t min_bytes, max_bytes;
  int factor, warmup, iterations, in_place;
  double budget_s; /* > 0: seconds per size above which warm-up and timed iterations are cut (harness_plan) */
  harness_dtype dtype;
  const char* dtype_name;
  const char* algorithms; /* gloo only: comma-separated list, NULL for all */
} harness_options;

static int64_t harness_parse_bytes(const char* text) {
  char* end = NULL;
  double value = strtod(text, &end);
  double scale = 1;
  if (!strcmp(end, "K") || !strcmp(end, "KiB")) scale = 1 << 10;
  else if (!strcmp(end, "M") || !strcmp(end, "MiB")) scale = 1 << 20;
  else if (!strcmp(end, "G") || !strcmp(end, "GiB")) scale = 1 << 30;
  else if (*end != '\0' && strcmp(end, "B") != 0) {
    fprintf(stderr, "size '%s': unknown suffix '%s'\n", text, end);
    exit(2);
  }
  return (int64_t)(value * scale);
}

static size_t harness_dtype_size(harness_dtype dtype) { return dtype == DTYPE_F64 ? 8 : dtype == DTYPE_F32 ? 4 : 2; }

/* The flags of `meshreduce bench` that matter here, with its defaults. Only op sum is measured. */
static harness_options harness_parse_args(int argc, char** argv) {
  harness_options o = {4 << 10, 64 << 20, 2, 3, 10, 0, 0, DTYPE_F32, "f32", NULL};
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(flag, "--in-place")) { o.in_place = 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "flag %s needs a value\n", flag); exit(2); }
    ++i;
    if (!strcmp(flag, "-b") || !strcmp(flag, "--min-bytes")) o.min_bytes = harness_parse_bytes(value);
    else if (!strcmp(flag, "-e") || !strcmp(flag, "--max-bytes")) o.max_bytes = harness_parse_bytes(value);
    else if (!strcmp(flag, "-f") || !strcmp(flag, "--factor")) o.factor = atoi(value);
    else if (!strcmp(flag, "-w") || !strcmp(flag, "--warmup")) o.warmup = atoi(value);
    else if (!strcmp(flag, "-n") || !strcmp(flag, "--iterations")) o.iterations = atoi(value);
    else if (!strcmp(flag, "--algorithms")) o.algorithms = value;
    else if (!strcmp(flag, "--budget-s")) o.budget_s = atof(value);
    else if (!strcmp(flag, "-o") || !strcmp(flag, "--op")) {
      if (strcmp(value, "sum") != 0) { fprintf(stderr, "only --op sum is measured, got '%s'\n", value); exit(2); }
    } else if (!strcmp(flag, "-d") || !strcmp(flag, "--dtype")) {
      o.dtype_name = value;
      if (!strcmp(value, "f32")) o.dtype = DTYPE_F32;
      else if (!strcmp(value, "f64")) o.dtype = DTYPE_F64;
      else if (!strcmp(value, "f16")) o.dtype = DTYPE_F16;
      else { fprintf(stderr, "dtype '%s': use f32, f64 or f16\n", value); exit(2); }
    } else { fprintf(stderr, "unknown flag %s\n", flag); exit(2); }
  }
  if (o.factor < 2 || o.iterations < 1 || o.warmup < 0) { fprintf(stderr, "need --factor >= 2, --iterations >= 1\n"); exit(2); }
  if (o.min_bytes < (int64_t)harness_dtype_size(o.dtype)) o.min_bytes = (int64_t)harness_dtype_size(o.dtype);
  return o;
}

/* Warm-up and timed iterations for a size whose first call took `first_seconds` (the slowest rank's, so
 * every rank agrees): --warmup and --iterations, or, where they would take longer than --budget-s, fewer:
 * at least the first call as warm-up, and 3 timed calls, or 1 where one call alone exceeds the budget
 * (run.sh's repetitions then still give a median). */
static void harness_plan(const harness_options* o, double first_seconds, int* warmup, int* timed) {
  *warmup = o->warmup;
  *timed = o->iterations;
  if (o->budget_s <= 0 || o->warmup == 0 || first_seconds <= 0) return;
  const double fit = o->budget_s / first_seconds;
  const int least = fit < 1 || o->iterations < 3 ? 1 : 3;
  if (fit < o->warmup) *warmup = fit < 1 ? 1 : (int)fit;
  if (fit < o->iterations) *timed = fit < least ? least : (int)fit;
}

/* Input of rank `rank`, element `i`: the value `meshreduce bench` gives device `rank`, tensor 0. */
static int harness_value(int rank, int64_t i) { return (int)((rank * 7 + i) % 9) - 4; }
static int harness_expected(int ranks, int64_t i) {
  int sum = 0;
  for (int r = 0; r < ranks; ++r) sum += harness_value(r, i);
  return sum;
}

/* IEEE binary16 from and to a small integer (|v| <= 2048 is exact), without compiler support. */
static uint16_t harness_half_from_int(int v) {
  if (v == 0) return 0;
  uint16_t sign = v < 0 ? 0x8000 : 0;
  unsigned a = (unsigned)(v < 0 ? -v : v);
  int e = 0;
  while ((a >> e) > 1) ++e;
  unsigned mantissa = (a << (10 - e)) & 0x3ff;
  return (uint16_t)(sign | (unsigned)(e + 15) << 10 | mantissa);
}
static double harness_half_to_double(uint16_t h) {
  int e = (h >> 10) & 0x1f;
  double m = (double)(h & 0x3ff);
  double v = e == 0 ? m / 1024.0 / 16384.0 : (1.0 + m / 1024.0) * (double)(1u << e) / 32768.0;
  if (e == 0x1f) v = 1e300;
  return (h & 0x8000) ? -v : v;
}

static void harness_store(harness_dtype dtype, void* base, int64_t i, int v) {
  if (dtype == DTYPE_F32) ((float*)base)[i] = (float)v;
  else if (dtype == DTYPE_F64) ((double*)base)[i] = (double)v;
  else ((uint16_t*)base)[i] = harness_half_from_int(v);
}
static double harness_load(harness_dtype dtype, const void* base, int64_t i) {
  if (dtype == DTYPE_F32) return ((const float*)base)[i];
  if (dtype == DTYPE_F64) return ((const double*)base)[i];
  return harness_half_to_double(((const uint16_t*)base)[i]);
}

static void harness_fill(harness_dtype dtype, void* base, int64_t elements, int rank) {
  for (int64_t i = 0; i < elements; ++i) harness_store(dtype, base, i, harness_value(rank, i));
}
static int64_t harness_count_wrong(harness_dtype dtype, const void* out, int64_t elements, int ranks) {
  int64_t wrong = 0;
  for (int64_t i = 0; i < elements; ++i) wrong += harness_load(dtype, out, i) != (double)harness_expected(ranks, i);
  return wrong;
}

/* Seconds on CLOCK_MONOTONIC, which every process of this host reads alike (its zero is the boot), as
 * `meshreduce bench --backend processes` times its calls: a call lasts from the earliest rank's start
 * to the latest rank's end. The slowest rank's own span would undercount a call whose ranks do not start
 * together (one may finish its share before another has left the barrier). A double of seconds since
 * boot keeps better than a nanosecond for decades of uptime. */
static double harness_monotonic_s(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static int harness_compare_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}
/* Median of n values; sorts them. */
static double harness_median(double* values, int n) {
  qsort(values, (size_t)n, sizeof(double), harness_compare_double);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

typedef struct {
  int64_t bytes, elements;
  double time_us, algbw, busbw;
  int64_t wrong;
  int iterations;
} harness_row;

static harness_row harness_make_row(int64_t bytes, int64_t elements, double seconds, int ranks, int64_t wrong,
                                    int iterations) {
  harness_row r;
  r.iterations = iterations;
  r.bytes = bytes;
  r.elements = elements;
  r.time_us = seconds * 1e6;
  r.algbw = seconds > 0 ? (double)bytes / seconds / 1e9 : 0;
  r.busbw = r.algbw * 2.0 * (ranks - 1) / ranks;
  r.wrong = wrong;
  return r;
}

static void harness_print_rows(FILE* out, const harness_row* rows, int n, const char* extra_key, const char* const* extra) {
  fprintf(out, "[");
  for (int i = 0; i < n; ++i) {
    const harness_row* r = &rows[i];
    fprintf(out, "%s\n  {\"bytes\": %lld, \"elements\": %lld, \"time_us\": %.3f, \"algbw\": %.6f, \"busbw\": %.6f, \"wrong\": %lld, \"iterations\": %d",
            i ? "," : "", (long long)r->bytes, (long long)r->elements, r->time_us, r->algbw, r->busbw, (long long)r->wrong,
            r->iterations);
    if (extra_key) fprintf(out, ", \"%s\": \"%s\"", extra_key, extra[i]);
    fprintf(out, "}");
  }
  fprintf(out, "]");
}

/* The header fields of `meshreduce bench --json`; the caller prints "results" and closes the object. */
static void harness_print_header(FILE* out, const char* implementation, const char* version, int ranks,
                                 const harness_options* o) {
  fprintf(out, "{\"implementation\": \"%s\", \"version\": \"%s\", \"devices\": %d, \"dtype\": \"%s\", \"op\": \"sum\", "
          "\"in_place\": %s, \"warmup\": %d, \"iterations\": %d, \"timing\": \"job_span\"",
          implementation, version, ranks, o->dtype_name, o->in_place ? "true" : "false", o->warmup, o->iterations);
}

#endif
