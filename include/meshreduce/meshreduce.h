// Everything a user of meshreduce needs, in one include.
#pragma once

#include "meshreduce/algorithm.h"
#include "meshreduce/bucketing.h"
#include "meshreduce/communicator.h"
#include "meshreduce/error.h"
#include "meshreduce/schedule.h"
#include "meshreduce/simulator.h"
#include "meshreduce/tensor.h"
#include "meshreduce/thread_model.h"
#include "meshreduce/topology.h"
#include "meshreduce/types.h"
#include "meshreduce/verifier.h"
#include "meshreduce/workload.h"
