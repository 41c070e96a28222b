# All warning, hardening and sanitizer flags of Cordon live here, and only here.

set(CORDON_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
  -Wvla -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
  -Wno-unused-parameter)
if(CORDON_WERROR)
  list(APPEND CORDON_WARNINGS -Werror)
endif()
add_compile_options(${CORDON_WARNINGS})

# Hardening. _FORTIFY_SOURCE needs optimisation, so Debug builds use -Og.
add_compile_options(-fstack-protector-strong -fPIE -fno-strict-aliasing)
if(NOT CORDON_SANITIZE)
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
set(CMAKE_C_FLAGS_DEBUG "-g -Og")
set(CMAKE_C_FLAGS_RELEASE "-O2 -DNDEBUG")
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_link_options(-pie -Wl,-z,relro,-z,now,-z,noexecstack)

if(CORDON_SANITIZE)
  add_compile_options(-fsanitize=${CORDON_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CORDON_SANITIZE})
  add_compile_definitions(CORDON_SANITIZED=1)
endif()
