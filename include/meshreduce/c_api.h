/* C API for FFI callers: status codes and an error string instead of exceptions. */
#ifndef MESHREDUCE_C_API_H
#define MESHREDUCE_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum meshreduce_status {
  MESHREDUCE_OK = 0,
  MESHREDUCE_INVALID_ARGUMENT = 1,
  MESHREDUCE_UNSUPPORTED = 2,
  MESHREDUCE_TOPOLOGY_ERROR = 3,
  MESHREDUCE_SCHEDULE_ERROR = 4,
  MESHREDUCE_INTERNAL_ERROR = 5,
  MESHREDUCE_OUT_OF_MEMORY = 6,   /* memory ran out inside the call; the handle stays usable */
  MESHREDUCE_EXECUTION_ERROR = 7, /* a step raised mid-call; outputs unspecified */
  MESHREDUCE_TIMEOUT = 8          /* the call passed its timeout; outputs unspecified */
} meshreduce_status;

typedef enum meshreduce_dtype {
  MESHREDUCE_F32 = 0,
  MESHREDUCE_F64 = 1,
  MESHREDUCE_F16 = 2,
  MESHREDUCE_BF16 = 3,
  MESHREDUCE_I32 = 4,
  MESHREDUCE_I64 = 5
} meshreduce_dtype;

typedef enum meshreduce_op {
  MESHREDUCE_SUM = 0,
  MESHREDUCE_AVERAGE = 1,
  MESHREDUCE_MIN = 2,
  MESHREDUCE_MAX = 3
} meshreduce_op;

typedef struct meshreduce_tensor {
  void* data;
  int64_t count;
  meshreduce_dtype dtype;
} meshreduce_tensor;

/* grads[k] points to device k's num_tensors tensors. outputs is NULL for an in-place call, or
 * has the same shape. devices holds num_devices distinct device ids: any ints, in any order
 * (they are labels; a duplicate is MESHREDUCE_INVALID_ARGUMENT naming it). On failure the message is
 * written to error (at most error_size bytes, NUL-terminated) when error is not NULL; no buffer
 * has been written. */
meshreduce_status meshreduce_allreduce_grads_hierarchical(const meshreduce_tensor* const* grads,
                                                          const meshreduce_tensor* const* outputs,
                                                          int num_devices, int num_tensors,
                                                          const int* devices, int average,
                                                          char* error, size_t error_size);

/* A reusable communicator: plans are cached per tensor layout. */
typedef struct meshreduce_comm meshreduce_comm;

/* topology: a preset name ("dgx1-v100", "flat:8", "groups:8x2", ...); algorithm: a name such as
 * "hierarchical"; devices may be NULL for every device of the topology. */
meshreduce_status meshreduce_comm_create(const char* topology, const char* algorithm,
                                         const int* devices, int num_devices,
                                         meshreduce_comm** comm, char* error, size_t error_size);
/* As meshreduce_comm_create, with flags: MESHREDUCE_REPRODUCIBLE (sums and averages of floating
 * types depend on the multiset of inputs alone: the same bits for every algorithm, grouping and
 * device order). An unknown flag is MESHREDUCE_INVALID_ARGUMENT. */
#define MESHREDUCE_REPRODUCIBLE 1u
meshreduce_status meshreduce_comm_create_flags(const char* topology, const char* algorithm,
                                               const int* devices, int num_devices, unsigned flags,
                                               meshreduce_comm** comm, char* error, size_t error_size);
meshreduce_status meshreduce_comm_allreduce(meshreduce_comm* comm,
                                            const meshreduce_tensor* const* grads,
                                            const meshreduce_tensor* const* outputs,
                                            int num_tensors, meshreduce_op op);
/* The message of the communicator's last failed call ("" when none). */
const char* meshreduce_comm_last_error(const meshreduce_comm* comm);
void meshreduce_comm_destroy(meshreduce_comm* comm);

const char* meshreduce_status_name(meshreduce_status status);

#ifdef __cplusplus
}
#endif

#endif /* MESHREDUCE_C_API_H */
