# Runs one CLI test and checks both its exit code and its output (ctest's PASS_REGULAR_EXPRESSION
# alone ignores the exit code, so a command that failed could pass on its text).
#   cmake -DSCRIPT=<sh script> -DEXPECT_EXIT=<regex of the exit code> -DEXPECT_OUTPUT=<regex>
#         -P cli_check.cmake
# SCRIPT runs under `sh -c`; a script of several commands should end earlier ones with
# `|| exit 97 &&` so that only the last command's code can reach EXPECT_EXIT. EXPECT_EXIT is a
# regular expression matched against the whole code ("0", "2", "1|2").
foreach(required SCRIPT EXPECT_EXIT EXPECT_OUTPUT)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "cli_check.cmake needs -D${required}=...")
  endif()
endforeach()
execute_process(COMMAND sh -c "${SCRIPT}" RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT code MATCHES "^(${EXPECT_EXIT})$")
  message(FATAL_ERROR "exit code ${code}, expected ${EXPECT_EXIT}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "the output does not match: ${EXPECT_OUTPUT}")
endif()
