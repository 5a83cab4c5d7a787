# Shared by the installed-package tests (cmake -P scripts with BINARY_DIR set).

# Installs the build in BINARY_DIR into the fresh prefix <work>/prefix (<work> removed first).
function(meshreduce_scratch_install work)
  file(REMOVE_RECURSE "${work}")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${work}/prefix"
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "install failed: ${rc}")
  endif()
endfunction()

# Configures and builds the consumer project in `source` into `build` against `prefix`; `what`
# names it in the failure message.
function(meshreduce_build_consumer what source build prefix)
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${source}" -B "${build}" -DCMAKE_PREFIX_PATH=${prefix}
                          -DCMAKE_BUILD_TYPE=Release RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "configuring the ${what} failed:\n${out}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build "${build}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "building the ${what} failed:\n${out}")
  endif()
endfunction()
