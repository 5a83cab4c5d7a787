# Writes OUTPUT: a C++ file defining embedded_workloads() from every TSV in DIR.
file(GLOB files "${DIR}/*.tsv")
list(SORT files)
set(body "")
foreach(file IN LISTS files)
  get_filename_component(name "${file}" NAME_WE)
  file(READ "${file}" text)
  string(APPEND body "    {\"${name}\", R\"tsv(${text})tsv\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from data/workloads/*.tsv by embed_workloads.cmake; do not edit.
#include \"embedded_workloads.h\"

#include <array>

namespace meshreduce::cli {

std::span<const EmbeddedWorkload> embedded_workloads() {
  static constexpr EmbeddedWorkload kWorkloads[] = {
${body}  };
  return kWorkloads;
}

}  // namespace meshreduce::cli
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
