# chime_use_jemalloc(target): links jemalloc instead of glibc's malloc. chimed's many threads
# allocate small protobufs and gRPC buffers, and glibc's arenas cost ~11% of its CPU at 10k
# fires/s (docs/PERFORMANCE.md); chime-bench's subscribers share the machine with the chimed
# they measure. Not under the sanitizers, which replace malloc themselves.
function(chime_use_jemalloc target)
  if(CHIME_SANITIZE)
    return()
  endif()
  find_library(CHIME_JEMALLOC_LIB NAMES jemalloc)
  if(CHIME_JEMALLOC_LIB)
    target_link_libraries(${target} PRIVATE ${CHIME_JEMALLOC_LIB})
  else()
    message(WARNING "jemalloc not found (scripts/setup installs libjemalloc-dev): ${target} uses glibc malloc")
  endif()
endfunction()
