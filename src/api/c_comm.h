// Internal: what a C communicator handle holds (tests reach its Communicator through this).
#pragma once

#include <string>

#include "meshreduce/c_api.h"
#include "meshreduce/communicator.h"

struct meshreduce_comm {
  meshreduce::Communicator communicator;
  std::string last_error;
};
