# Installs meshreduce into a scratch prefix, then runs installed_check.py there with only the
# prefix's Python directory on the path: `import meshreduce` must find the installed package, and
# ctypes must load the installed libmeshreduce.so.
include("${CMAKE_CURRENT_LIST_DIR}/../../tests/scratch_install.cmake")
set(prefix "${BINARY_DIR}/python_install_test/prefix")
meshreduce_scratch_install("${BINARY_DIR}/python_install_test")
execute_process(COMMAND ${CMAKE_COMMAND} -E env "PYTHONPATH=${prefix}/${PYTHON_DIR}"
                        "${PYTHON}" "${CHECK_SCRIPT}" "${prefix}" "${prefix}/${LIBDIR}/libmeshreduce.so"
                WORKING_DIRECTORY "${BINARY_DIR}/python_install_test"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "the installed package failed (${rc}):\n${out}")
endif()
message(STATUS "${out}")
