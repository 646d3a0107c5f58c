# Write OUT, a header defining VMSIM_GIT_REV for `vmsim --version`: the
# commit of SRC (12 hex digits), "-dirty" after it when tracked files differ
# from it, or "unknown" outside a git checkout. Run at every build; the file
# is rewritten only when the revision changed, so an unchanged tree
# rebuilds nothing.
execute_process(COMMAND git -C "${SRC}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE status ERROR_QUIET)
if(NOT status EQUAL 0 OR rev STREQUAL "")
  set(rev "unknown")
else()
  execute_process(COMMAND git -C "${SRC}" diff --quiet HEAD --
                  RESULT_VARIABLE changed ERROR_QUIET)
  if(NOT changed EQUAL 0)
    string(APPEND rev "-dirty")
  endif()
endif()
set(text "#define VMSIM_GIT_REV \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
