// CommunicatorOptions from the keyword arguments of meshreduce.Communicator(...), one entry per
// option in options.cc: its name, what it takes, and how it sets the typed options.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "meshreduce/communicator.h"

namespace meshreduce::python {

namespace py = pybind11;

// Raises TypeError for an unknown keyword or a value of the wrong type, InvalidArgument for a
// value out of range (naming the keyword, the value and the range).
CommunicatorOptions communicator_options(const py::kwargs& kwargs);

// The keywords and what each takes, for the class's docstring.
std::string communicator_options_doc();

// The bucketing mode's name as the command line spells it: none, fused, packer.
std::string bucketing_name(BucketingMode mode);

}  // namespace meshreduce::python
