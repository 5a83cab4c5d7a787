// Topologies for Python: the presets by name, JSON files, and the parts of a topology as
// read-only objects. A topology is edited as JSON (Topology.to_json, Topology.from_json).
#include <pybind11/stl.h>

#include <string>

#include "bindings.h"
#include "convert.h"
#include "meshreduce/topology.h"

namespace meshreduce::python {

void bind_topology(py::module_& module) {
  py::class_<Device>(module, "Device", "A device of a topology (where buffers live), or a node that only routes data.")
      .def_readonly("id", &Device::id)
      .def_readonly("name", &Device::name)
      .def_property_readonly("kind", [](const Device& self) { return std::string(node_kind_name(self.kind)); })
      .def_readonly("memory_bytes", &Device::memory_bytes)
      .def_readonly("bandwidth_gbps", &Device::bandwidth_gbps)
      .def_readonly("reduce_gbps", &Device::reduce_gbps)
      .def_readonly("source", &Device::source)
      .def("__repr__", [](const Device& self) {
        return "meshreduce.Device(id=" + std::to_string(self.id) + ", name='" + self.name + "', kind='" +
               std::string(node_kind_name(self.kind)) + "')";
      });
  py::class_<Link>(module, "Link", "`count` parallel links between a and b; bandwidth per link and per direction.")
      .def_readonly("a", &Link::a)
      .def_readonly("b", &Link::b)
      .def_property_readonly("kind", [](const Link& self) { return std::string(link_kind_name(self.kind)); })
      .def_readonly("bandwidth_gbps", &Link::bandwidth_gbps, "Line rate, GB/s per link per direction.")
      .def_readonly("latency_us", &Link::latency_us)
      .def_readonly("count", &Link::count)
      .def_readonly("efficiency", &Link::efficiency, "Payload fraction of the line rate.")
      .def_property_readonly("effective_gbps", &Link::effective_gbps, "bandwidth_gbps x efficiency.")
      .def_readonly("source", &Link::source)
      .def("__repr__", [](const Link& self) {
        return "meshreduce.Link(a=" + std::to_string(self.a) + ", b=" + std::to_string(self.b) + ", kind='" +
               std::string(link_kind_name(self.kind)) + "', count=" + std::to_string(self.count) +
               ", bandwidth_gbps=" + std::string(py::str(py::float_(self.bandwidth_gbps))) + ")";
      });
  py::class_<GroupLevel>(module, "GroupLevel", "A partition of the devices into groups (innermost level first).")
      .def_readonly("name", &GroupLevel::name)
      .def_readonly("groups", &GroupLevel::groups)
      .def("__repr__", [](const GroupLevel& self) {
        return "meshreduce.GroupLevel(name='" + self.name + "', groups=" + std::string(py::str(py::cast(self.groups))) +
               ")";
      });
  py::class_<Route>(module, "Route", "The links (indices into Topology.links) a message from src to dst crosses.")
      .def_readonly("src", &Route::src)
      .def_readonly("dst", &Route::dst)
      .def_readonly("links", &Route::links);

  py::class_<Topology>(module, "Topology",
                       "The machine: devices, routing nodes, links, routes and grouping levels.\n"
                       "Make one with meshreduce.topology(name_or_path), Topology.load or Topology.from_json.")
      .def_static("preset", [](const std::string& name) { return topology_preset(name); }, py::arg("name"),
                  "A preset by name (meshreduce.topology_presets()), or a topology file.")
      .def_static("load", [](py::handle path) { return load_topology(path_text(path)); }, py::arg("path"),
                  "Read a topology JSON file (docs/topology-format.md).")
      .def_static("from_json", [](const std::string& text) { return topology_from_json_text(text); }, py::arg("text"))
      .def("to_json", [](const Topology& self, int indent) { return topology_to_json_text(self, indent); },
           py::arg("indent") = 2, "JSON text with every link, its source and every route.")
      .def("save", [](const Topology& self, py::handle path) { save_topology(self, path_text(path)); }, py::arg("path"))
      .def_readonly("name", &Topology::name)
      .def_readonly("devices", &Topology::devices)
      .def_readonly("nodes", &Topology::nodes)
      .def_readonly("links", &Topology::links)
      .def_readonly("levels", &Topology::levels)
      .def_readonly("routes", &Topology::routes)
      .def_property_readonly("size", &Topology::size, "The number of devices.")
      .def_property_readonly("device_ids",
                             [](const Topology& self) {
                               std::vector<int> ids;
                               for (const Device& device : self.devices) ids.push_back(device.id);
                               return ids;
                             })
      .def("__len__", &Topology::size)
      .def("__eq__", [](const Topology& self, const Topology& other) { return self == other; }, py::is_operator())
      .def("__repr__", [](const Topology& self) {
        return "meshreduce.Topology('" + self.name + "', " + std::to_string(self.size()) + " devices, " +
               std::to_string(self.links.size()) + " links)";
      });

  module.def("topology", [](py::handle name_or_path) { return topology_preset(path_text(name_or_path)); },
             py::arg("name_or_path"),
             "A preset ('dgx1-v100', 'dgx1-p100', 'dgx2', 'pcie8', 'cluster:4xdgx1-v100', 'local', 'flat:K',\n"
             "'groups:KxG', 'groups:3,1,4') or a topology JSON file. Raises TopologyError naming the text.");
  module.def("topology_presets", &topology_preset_names, "The names of the preset topologies.");
}

}  // namespace meshreduce::python
