# Write OUT, a header defining VMSIM_GIT_REV (`git describe --always --dirty`
# of SRC, or "unknown" outside a git checkout), for `vmsim --version`. Run at
# every build; the file is rewritten only when the revision changed, so an
# unchanged tree rebuilds nothing.
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE status ERROR_QUIET)
if(NOT status EQUAL 0 OR rev STREQUAL "")
  set(rev "unknown")
endif()
set(text "#define VMSIM_GIT_REV \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
