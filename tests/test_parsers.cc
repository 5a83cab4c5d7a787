// The readers of outside input: workload TSV, topology JSON and schedule JSON. Hostile input
// gives one short, printable message naming the entry and the field; never a crash or a
// silently changed value. Each reproducer of issue 10 and each crash the fuzzers found is here.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "meshreduce/limits.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::expect_contains;
using testing::thrown_message;

// A message a person can read on one line: short, no control bytes.
void expect_printable_line(const std::string& message, std::size_t most = 400) {
  EXPECT_LE(message.size(), most) << message.substr(0, 200);
  for (const char c : message)
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f)
        << "byte " << static_cast<int>(static_cast<unsigned char>(c)) << " in: " << message.substr(0, 200);
}

std::string workload_error(const std::string& text) {
  const std::string message = thrown_message<InvalidArgument>([&] { parse_workload(text, "w"); });
  expect_printable_line(message);
  return message;
}

TEST(WorkloadParser, ReadsNameShapeAndCount) {
  const Workload workload = parse_workload("# comment\na\t64x3x7x7\t9408\r\nb\t64\t64\nc\t\t1\n", "w");
  ASSERT_EQ(workload.tensors.size(), 3u);
  EXPECT_EQ(workload.tensors[0].elements, 9408);
  EXPECT_EQ(workload.tensors[1].shape, "64");
  EXPECT_EQ(workload.elements(), 9408 + 64 + 1);
}

TEST(WorkloadParser, ShapeMustAgreeWithTheCount) {
  expect_contains(workload_error("fc.weight\t64x3\t100\n"), {"line 1", "fc.weight", "64x3 has 192 elements", "says 100"});
  expect_contains(workload_error("a\t64xx3\t192\n"), {"line 1", "shape '64xx3'"});
  expect_contains(workload_error("a\t64x\t64\n"), {"ends with 'x'"});
  expect_contains(workload_error("a\t-64\t64\n"), {"shape '-64'"});
}

TEST(WorkloadParser, CountsBeyondTheLimitAreErrorsNotOverflows) {
  // Issue 10: 2^62 and 2^63-1 elements overflowed the byte count and `run` wrote past its buffers.
  for (const char* count : {"4611686018427387904", "9223372036854775807", "9223372036854775808", "-1", "1.5", "1e9", ""})
    expect_contains(workload_error(std::string("t\t1\t") + count + "\n"),
                    {"line 1", "element count", std::to_string(limits::kMaxTensorElements)});
  // Each count within the limit, the sum beyond it.
  const std::string half = std::to_string(limits::kMaxTensorElements / 2 + 1);
  expect_contains(workload_error("a\t" + half + "\t" + half + "\nb\t" + half + "\t" + half + "\n"),
                  {"line 2", "elements of all tensors", "largest allowed"});
  // A shape whose product overflows.
  expect_contains(workload_error("a\t4294967296x4294967296\t0\n"), {"line 1", "largest allowed"});
}

TEST(WorkloadParser, MalformedLinesNameTheLineAndEscapeWhatTheyQuote) {
  expect_contains(workload_error("a\t1\n"), {"line 1", "expected 'name<TAB>shape<TAB>elements'"});
  expect_contains(workload_error("a\t1\t1\textra\n"), {"line 1"});
  expect_contains(workload_error("\t1\t1\n"), {"no name"});
  expect_contains(workload_error(std::string("ok\t1\t1\nbin\x01\x02\x7f") + std::string(10000, 'z') + "\n"),
                  {"line 2", "\\x01\\x02\\x7f", "bytes)"});
  expect_contains(workload_error("# only comments\n\n"), {"no tensors"});
}

TEST(WorkloadParser, EveryShippedWorkloadParses) {
  for (const auto& entry : std::filesystem::directory_iterator(MESHREDUCE_SOURCE_DIR "/data/workloads")) {
    const Workload workload = load_workload_file(entry.path().string());
    EXPECT_GT(workload.tensors.size(), 0u) << entry.path();
  }
}

TEST(WorkloadParser, ADirectoryIsNotAWorkloadFile) {
  expect_contains(thrown_message<InvalidArgument>([] { load_workload_file(MESHREDUCE_SOURCE_DIR "/data"); }),
                  {"is a directory"});
  expect_contains(thrown_message<InvalidArgument>([] { load_workload_file("/no/such/file.tsv"); }), {"no such file"});
}

// ---- topology JSON ----------------------------------------------------------------------------

std::string topology_error(const std::string& text) {
  const std::string message = thrown_message<TopologyError>([&] { topology_from_json_text(text); });
  expect_printable_line(message);
  return message;
}

// Two devices and a switch; `link_b` is the far end of the second link.
std::string two_devices(const std::string& device0_id = "0", const std::string& link_b = "9") {
  return R"({"devices": [{"id": )" + device0_id + R"(}, {"id": 1}], "nodes": [{"id": 9, "kind": "nvswitch"}],
             "links": [{"a": 1, "b": 9, "kind": "nvswitch", "bandwidth_gbps": 10},
                       {"a": 0, "b": )" + link_b + R"(, "kind": "nvswitch", "bandwidth_gbps": 10}]})";
}

TEST(TopologyParser, ReadsAValidFile) {
  const Topology topology = topology_from_json_text(two_devices());
  EXPECT_EQ(topology.size(), 2);
  EXPECT_NE(topology.route(0, 1), nullptr);
}

TEST(TopologyParser, DeepNestingIsRefusedWhileParsing) {
  // Issue 10: 70,000 levels overflowed the stack in the error printer (rc 139).
  for (const std::size_t depth : {std::size_t{70000}, std::size_t{1000000}}) {
    const std::string deep = R"({"devices": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
    expect_contains(topology_error(deep), {"nested more than 32 levels"});
  }
  expect_contains(topology_error(std::string(70000, '[')), {"nested more than"});
}

TEST(TopologyParser, IdsMustBeIntegersInRangeNeverTruncated) {
  expect_contains(topology_error(two_devices("1.5")), {"devices[0]", "'id' must be an integer, got 1.5"});
  expect_contains(topology_error(two_devices("1099511627785")), {"devices[0]", "1099511627785", "2147483647"});
  expect_contains(topology_error(two_devices("-3")), {"devices[0]", "-3"});
  expect_contains(topology_error(two_devices("18446744073709551615")), {"devices[0]", "largest allowed"});
  expect_contains(topology_error(two_devices("\"0\"")), {"devices[0]", "must be an integer"});
}

TEST(TopologyParser, ALinkToAMissingNodeIsBlamedOnThatLink) {
  expect_contains(topology_error(two_devices("0", "77")), {"links[1]", "'b' = 77 names a device or node that does not exist"});
}

TEST(TopologyParser, AMissingOrUnknownLinkKindIsNamedOnce) {
  std::string missing = two_devices();
  missing.replace(missing.find(R"("kind": "nvswitch", "bandwidth_gbps")"), 20, "");
  EXPECT_EQ(topology_error(missing), "topology file: links[0]: missing 'kind'");
  std::string unknown = two_devices();
  unknown.replace(unknown.find(R"("kind": "nvswitch", "bandwidth_gbps")"), 18, R"("kind": "wormhole")");
  const std::string message = topology_error(unknown);
  expect_contains(message, {"topology file: links[0]: 'kind': ", "wormhole"});
  EXPECT_EQ(message.find("topology file", 1), std::string::npos) << message;
}

TEST(TopologyParser, NumbersMustBeFiniteAndInRange) {
  std::string text = two_devices();
  text.replace(text.find("\"bandwidth_gbps\": 10"), 20, "\"bandwidth_gbps\": -1");
  expect_contains(topology_error(text), {"links[0]", "'bandwidth_gbps'"});
  expect_contains(topology_error(R"({"devices": [{"id": 0, "memory_bytes": 1e400}]})"), {"not valid JSON"});
}

TEST(TopologyParser, MessagesQuoteShortEscapedExcerptsWithoutLibraryCodes) {
  const std::string key = std::string("evil\\u0001\\u001b[31m") + std::string(5000, 'k');
  expect_contains(topology_error(R"({"devices": [{"id": 0, ")" + key + R"(": 1}]})"),
                  {"devices[0]", "unknown key 'evil\\x01\\x1b[31m", "bytes)"});
  expect_contains(topology_error("{\"devices\": [" + std::string(100000, '1') + "]}"), {"not valid JSON", "bytes)"});
  const std::string bad = topology_error("{\"devices\": [" + std::string(100000, 'x') + "]}");
  expect_contains(bad, {"not valid JSON", "line 1"});
  EXPECT_EQ(bad.find("json.exception"), std::string::npos) << bad;
  expect_contains(topology_error(R"({"devices": [{"id": 0, "name": [1, 2, 3]}]})"),
                  {"devices[0]", "'name' must be a string, got an array of 3 elements"});
  expect_printable_line(topology_error(std::string("{\"devices\": \"") + std::string("\xff\xfe\x00\x01", 4) + "\"}"));
}

TEST(TopologyParser, TooManyDevicesIsRefusedBeforeBuilding) {
  nlohmann::json document{{"devices", nlohmann::json::array()}};
  for (int i = 0; i <= limits::kMaxDevices; ++i) document["devices"].push_back({{"id", i}});
  expect_contains(topology_error(document.dump()), {"devices", std::to_string(limits::kMaxDevices + 1) + " entries", "largest allowed, " + std::to_string(limits::kMaxDevices)});
}

TEST(TopologyParser, ErrorsFromAFileNameTheFile) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "meshreduce_test_parsers";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bad.json").string();
  std::ofstream(path) << "{\"devices\": [{\"id\": 0}], \"links\": 5}";
  expect_contains(thrown_message<TopologyError>([&] { load_topology(path); }), {path, "links", "expected an array"});
  std::ofstream(path, std::ios::trunc) << "{\"devices\": [";
  expect_contains(thrown_message<TopologyError>([&] { load_topology(path); }), {path, "not valid JSON"});
  expect_contains(thrown_message<TopologyError>([&] { load_topology(dir.string()); }), {"is a directory"});
  std::filesystem::remove_all(dir);
}

TEST(TopologyParser, EveryShippedTopologyFileParses) {
  for (const auto& entry : std::filesystem::directory_iterator(MESHREDUCE_SOURCE_DIR "/data/topologies"))
    EXPECT_GT(load_topology(entry.path().string()).size(), 0) << entry.path();
}

// ---- schedule JSON ----------------------------------------------------------------------------

std::string schedule_error(const std::string& text) {
  const std::string message = thrown_message<ScheduleError>([&] { schedule_from_json(text); });
  expect_printable_line(message);
  return message;
}

std::string one_step(const std::string& count, const std::string& offset = "0", const std::string& devices = "2") {
  return R"({"devices": )" + devices + R"(, "op": "sum", "buffers": [{"count": 4, "dtype": "f32"}], "steps": [
            {"kind": "copy", "device": 0, "count": )" + count + R"(, "srcs": [{"device": 0, "kind": "input", "buffer": 0,
             "offset": )" + offset + R"(}], "dsts": [{"device": 1, "kind": "output", "buffer": 0, "offset": 0}]}]})";
}

TEST(ScheduleParser, ReadsWhatPlanWrites) {
  const Schedule schedule = schedule_from_json(one_step("4"));
  EXPECT_EQ(schedule.num_devices, 2);
  ASSERT_EQ(schedule.steps.size(), 1u);
  EXPECT_EQ(schedule_to_json(schedule_from_json(schedule_to_json(schedule))), schedule_to_json(schedule));
}

TEST(ScheduleParser, CountsOffsetsAndDevicesAreCheckedNotTruncated) {
  expect_contains(schedule_error(one_step("4611686018427387904")), {"steps[0]", "'count' = 4611686018427387904", "largest allowed, 35184372088832"});
  expect_contains(schedule_error(one_step("1.5")), {"steps[0]", "'count' must be an integer, got 1.5"});
  expect_contains(schedule_error(one_step("4", "9223372036854775807")), {"steps[0].srcs[0]", "'offset'"});
  expect_contains(schedule_error(one_step("4", "0", "100000")), {"schedule", "'devices' = 100000", "largest allowed, " + std::to_string(limits::kMaxDevices)});
  expect_contains(schedule_error(one_step("4", "0", "1")), {"steps[0].dsts[0]", "'device' = 1", "largest allowed, 0"});
  expect_contains(schedule_error(one_step("\"4\"")), {"steps[0]", "must be an integer"});
}

TEST(ScheduleParser, StructureErrorsNameTheEntry) {
  expect_contains(schedule_error("[]"), {"schedule", "expected an object"});
  expect_contains(schedule_error(R"({"devices": 2, "op": "sum", "buffers": 3, "steps": []})"),
                  {"'buffers' must be an array"});
  expect_contains(schedule_error(R"({"devices": 2, "op": "sum", "buffers": [{"count": 1, "dtype": "f99"}], "steps": []})"),
                  {"buffers[0].dtype"});
  expect_contains(schedule_error(R"({"devices": 2, "op": "nope", "buffers": [], "steps": []})"), {"schedule.op"});
  expect_contains(schedule_error(std::string(70000, '[')), {"schedule JSON", "nested more than"});
  const std::string bad = schedule_error("{\"devices\": 2,");
  expect_contains(bad, {"schedule JSON is not valid JSON", "line 1"});
  EXPECT_EQ(bad.find("json.exception"), std::string::npos);
}

}  // namespace
}  // namespace meshreduce
