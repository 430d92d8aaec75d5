# Warnings every Sluice target is built with; any warning fails the build.
set(SL_WARNINGS -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Wimplicit-fallthrough -Wno-unused-parameter)

function(sl_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:${SL_WARNINGS}>)
endfunction()
