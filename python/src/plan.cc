// Plans and schedules for Python: what a Communicator runs for one tensor layout, as read-only
// objects (a schedule also as JSON, docs/schedule-format.md), the verifier's proof of a
// schedule, and the algorithms meshreduce carries.
#include <pybind11/stl.h>

#include <string>

#include "bindings.h"
#include "meshreduce/algorithm.h"
#include "meshreduce/communicator.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/schedule.h"
#include "meshreduce/verifier.h"

namespace meshreduce::python {
namespace {

std::string name_of(DType dtype) { return std::string(dtype_name(dtype)); }

void bind_schedule(py::module_& module) {
  py::class_<BufferRef>(module, "BufferRef", "A range start: (device, buffer kind, buffer index, element offset).")
      .def_readonly("device", &BufferRef::device)
      .def_property_readonly("kind", [](const BufferRef& self) { return std::string(buffer_kind_name(self.kind)); })
      .def_readonly("buffer", &BufferRef::buffer)
      .def_readonly("offset", &BufferRef::offset)
      .def("__repr__", [](const BufferRef& self) {
        return "meshreduce.BufferRef(device=" + std::to_string(self.device) + ", kind='" +
               std::string(buffer_kind_name(self.kind)) + "', buffer=" + std::to_string(self.buffer) +
               ", offset=" + std::to_string(self.offset) + ")";
      });
  py::class_<Step>(module, "Step", "One step: reduce, copy or scale `count` elements from srcs into dsts.")
      .def_property_readonly("kind", [](const Step& self) { return std::string(step_kind_name(self.kind)); })
      .def_readonly("device", &Step::device)
      .def_readonly("count", &Step::count)
      .def_readonly("srcs", &Step::srcs)
      .def_readonly("dsts", &Step::dsts)
      .def_readonly("deps", &Step::deps)
      .def_readonly("average", &Step::average);
  py::class_<BufferSpec>(module, "BufferSpec")
      .def_readonly("count", &BufferSpec::count)
      .def_property_readonly("dtype", [](const BufferSpec& self) { return name_of(self.dtype); });
  py::class_<ScratchSpec>(module, "ScratchSpec")
      .def_readonly("device", &ScratchSpec::device)
      .def_readonly("count", &ScratchSpec::count)
      .def_property_readonly("dtype", [](const ScratchSpec& self) { return name_of(self.dtype); });
  py::class_<TrafficSummary>(module, "TrafficSummary", "Bytes each schedule position sends, receives and reduces.")
      .def_readonly("bytes_sent", &TrafficSummary::bytes_sent)
      .def_readonly("bytes_received", &TrafficSummary::bytes_received)
      .def_readonly("bytes_reduced", &TrafficSummary::bytes_reduced)
      .def_readonly("steps", &TrafficSummary::steps);
  py::class_<Schedule>(module, "Schedule", "An allreduce as plain data: steps over buffer ranges with dependencies.")
      .def_readonly("algorithm", &Schedule::algorithm)
      .def_readonly("num_devices", &Schedule::num_devices)
      .def_property_readonly("op", [](const Schedule& self) { return std::string(reduce_op_name(self.op)); })
      .def_readonly("buffers", &Schedule::buffers)
      .def_readonly("scratch", &Schedule::scratch)
      .def_readonly("steps", &Schedule::steps)
      .def_property_readonly("num_steps", [](const Schedule& self) { return self.steps.size(); })
      .def("traffic", &summarize_traffic)
      .def("to_json", [](const Schedule& self, int indent) { return schedule_to_json(self, indent); },
           py::arg("indent") = 1, "JSON text (docs/schedule-format.md).")
      .def_static("from_json", [](const std::string& text) { return schedule_from_json(text); }, py::arg("text"),
                  "Raises ScheduleError naming the step and the field.")
      .def("__repr__", [](const Schedule& self) {
        return "meshreduce.Schedule('" + self.algorithm + "', " + std::to_string(self.num_devices) + " devices, " +
               std::to_string(self.steps.size()) + " steps)";
      });

  py::class_<VerifyReport>(module, "VerifyReport", "The verifier's verdict: ok, or the first violation and where.")
      .def_readonly("ok", &VerifyReport::ok)
      .def_property_readonly("kind", [](const VerifyReport& self) { return std::string(violation_kind_name(self.kind)); })
      .def_readonly("violation", &VerifyReport::violation)
      .def_readonly("step", &VerifyReport::step)
      .def_readonly("other_step", &VerifyReport::other_step)
      .def_readonly("device", &VerifyReport::device)
      .def_readonly("in_place", &VerifyReport::in_place)
      .def("__bool__", [](const VerifyReport& self) { return self.ok; })
      .def("__repr__", [](const VerifyReport& self) {
        return self.ok ? std::string("meshreduce.VerifyReport(ok)")
                       : "meshreduce.VerifyReport(" + std::string(violation_kind_name(self.kind)) + ": " +
                             self.violation + ")";
      });
  module.def(
      "verify",
      [](const Schedule& schedule, bool in_place) {
        py::gil_scoped_release release;
        return verify_schedule(schedule, {in_place});
      },
      py::arg("schedule"), py::arg("in_place") = true,
      "Prove a schedule correct symbolically: every output the reduction of every input exactly once, every\n"
      "replica the same expression, no race; also for in-place calls unless in_place=False.");
}

void bind_plan_objects(py::module_& module) {
  py::class_<TensorSpec>(module, "TensorSpec", "One tensor of a layout: its element count and dtype.")
      .def(py::init([](std::int64_t count, const std::string& dtype) {
             limits::check_range("TensorSpec count", count, 0, limits::kMaxTensorElements);
             return TensorSpec{count, parse_dtype(dtype)};
           }),
           py::arg("count"), py::arg("dtype") = "f32")
      .def_readonly("count", &TensorSpec::count)
      .def_property_readonly("dtype", [](const TensorSpec& self) { return name_of(self.dtype); })
      .def("__eq__", [](const TensorSpec& a, const TensorSpec& b) { return a == b; }, py::is_operator())
      .def("__repr__", [](const TensorSpec& self) {
        return "meshreduce.TensorSpec(" + std::to_string(self.count) + ", '" + name_of(self.dtype) + "')";
      });
  py::class_<BucketPiece>(module, "BucketPiece", "Elements [tensor_offset, tensor_offset + count) of one tensor.")
      .def_readonly("tensor", &BucketPiece::tensor)
      .def_readonly("tensor_offset", &BucketPiece::tensor_offset)
      .def_readonly("count", &BucketPiece::count);
  py::class_<Bucket>(module, "Bucket", "A virtual contiguous buffer of one dtype made of pieces of tensors.")
      .def_property_readonly("dtype", [](const Bucket& self) { return name_of(self.dtype); })
      .def_readonly("count", &Bucket::count)
      .def_readonly("rotation", &Bucket::rotation)
      .def_readonly("pieces", &Bucket::pieces);
  py::class_<BucketChoice>(module, "BucketChoice", "The algorithm serving a bucket; predicted_s is 0 when named.")
      .def_readonly("algorithm", &BucketChoice::algorithm)
      .def_readonly("predicted_s", &BucketChoice::predicted_s)
      .def("__repr__", [](const BucketChoice& self) {
        return "meshreduce.BucketChoice('" + self.algorithm + "', predicted_s=" +
               std::string(py::str(py::float_(self.predicted_s))) + ")";
      });
  py::class_<Plan>(module, "Plan", "What a call with one tensor layout runs: buckets, their algorithms, the schedule.")
      .def_readonly("layout", &Plan::layout)
      .def_readonly("buckets", &Plan::buckets)
      .def_readonly("choices", &Plan::choices)
      .def_readonly("schedule", &Plan::schedule)
      .def("__repr__", [](const Plan& self) {
        return "meshreduce.Plan(" + std::to_string(self.layout.size()) + " tensors, " +
               std::to_string(self.buckets.size()) + " buckets, " + std::to_string(self.schedule.steps.size()) +
               " steps)";
      });
}

}  // namespace

void bind_plan(py::module_& module) {
  bind_plan_objects(module);
  bind_schedule(module);
  module.def(
      "algorithms",
      [] {
        py::dict result;
        for (const Algorithm& algorithm : meshreduce::algorithms())
          result[py::str(std::string(algorithm.name))] = std::string(algorithm.description);
        return result;
      },
      "Every algorithm meshreduce carries: {name: one-line description}, in a fixed order.");
}

}  // namespace meshreduce::python
