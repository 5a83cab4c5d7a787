# Installs meshreduce into a scratch prefix and builds examples/find_package/main.cc against the
# installed shared library (meshreduce::shared, libmeshreduce.so) with find_package(meshreduce),
# runs it, and checks that it did load libmeshreduce.so rather than link the archive.
include("${CMAKE_CURRENT_LIST_DIR}/scratch_install.cmake")
set(root "${BINARY_DIR}/shared_library_test")
set(prefix "${root}/prefix")
meshreduce_scratch_install("${root}")
file(WRITE "${root}/project/CMakeLists.txt" "cmake_minimum_required(VERSION 3.22)
project(shared_consumer LANGUAGES CXX)
find_package(meshreduce REQUIRED)
add_executable(example \"${SOURCE_DIR}/examples/find_package/main.cc\")
target_link_libraries(example PRIVATE meshreduce::shared)
")
meshreduce_build_consumer(consumer "${root}/project" "${root}/build" "${prefix}")
# LD_DEBUG=libs makes the loader name every library it loads.
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_DEBUG=libs "${root}/build/example"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE loaded)
if(rc)
  message(FATAL_ERROR "the consumer returned ${rc}: ${out}")
endif()
if(NOT loaded MATCHES "${prefix}/[^ \n]*/?libmeshreduce[.]so")
  message(FATAL_ERROR "the consumer did not load ${prefix}'s libmeshreduce.so:\n${loaded}")
endif()
message(STATUS "consumer of meshreduce::shared ran: ${out}")
