# SLUICE_FUZZ=ON (clang only) builds tests/fuzz targets against libFuzzer. Without it the same
# targets are linked with a plain driver that replays their corpus, so ctest runs them always.
option(SLUICE_FUZZ "Build libFuzzer targets (needs clang)" OFF)
if(SLUICE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SLUICE_FUZZ needs clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
