# Compiler flags chosen on purpose (see README "Build flags"):
# - portable x86-64 baseline by default; SEQREC_NATIVE adds -march=native for
#   a machine-local build. oneDNN dispatches its own kernels at run time, so
#   the portable build loses little on the matrix work.
# - never -ffast-math / -Ofast: NaN checks and GELU must stay correct.
set(SEQREC_WARN_FLAGS
  -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes
  -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wcast-qual
  -Wno-unused-parameter)
if(SEQREC_WERROR)
  list(APPEND SEQREC_WARN_FLAGS -Werror)
endif()

add_compile_definitions(_POSIX_C_SOURCE=200809L)
add_compile_options(${SEQREC_WARN_FLAGS} -fno-strict-aliasing)

if(SEQREC_NATIVE)
  add_compile_options(-march=native)
endif()

if(SEQREC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
