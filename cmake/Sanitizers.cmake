# SLUICE_SANITIZE=address,undefined builds everything with those sanitizers.
set(SLUICE_SANITIZE "" CACHE STRING "Comma-separated sanitizers (e.g. address,undefined)")
if(SLUICE_SANITIZE)
  add_compile_options(-fsanitize=${SLUICE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${SLUICE_SANITIZE})
  add_compile_definitions(SLUICE_SANITIZED=1)
endif()
