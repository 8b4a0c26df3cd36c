# One precompiled header of the heavy third-party and generated headers (gRPC, protobuf and the
# generated API, abseil, GoogleTest), built once and reused by every chime target: parsing them
# was most of each file's compile time. All targets share the same flags, so GCC accepts it.
# GoogleTest's targets define this for their users; every target defines it (as gtest-port.h
# would detect on Linux) so libraries and tests can share the header.
add_compile_definitions(GTEST_HAS_PTHREAD=1)
# Likewise -pthread (it defines _REENTRANT), and the generated headers are found everywhere.
add_compile_options(-pthread)
add_link_options(-pthread)
include_directories(SYSTEM ${PROJECT_BINARY_DIR}/proto/gen)
# chime_add_pch(NAME [compile options]): an object library that builds the shared header.
function(chime_add_pch name)
  add_library(${name} OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cc)
  target_compile_options(${name} PRIVATE ${CHIME_WARNINGS} ${ARGN})
  target_link_libraries(${name} PRIVATE chime_proto gRPC::grpc++ absl::status absl::statusor
    absl::strings absl::str_format absl::time absl::synchronization GTest::gtest GTest::gmock)
  target_precompile_headers(${name} PRIVATE
    <algorithm> <atomic> <cstdint> <functional> <map> <memory> <optional> <set> <string>
    <thread> <utility> <vector>
    <grpcpp/grpcpp.h>
    <chime/v1/timer.grpc.pb.h> <chime/v1/admin.grpc.pb.h> <chime/internal/storage.pb.h>
    <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
    <absl/strings/str_format.h> <absl/synchronization/mutex.h> <absl/time/clock.h>
    <absl/time/time.h>
    <gmock/gmock.h> <gtest/gtest.h>)
endfunction()

chime_add_pch(chime_pch)
# Under the sanitizers, test code (not the code under test) is compiled at -O0: instrumenting
# GoogleTest's expanded macros at -O1 was most of that build's time, and test bodies need no
# speed. It needs a header built with the same -O0.
set(CHIME_TEST_COMPILE_OPTIONS)
if(CHIME_SANITIZE)
  set(CHIME_TEST_COMPILE_OPTIONS -O0)
  chime_add_pch(chime_test_pch ${CHIME_TEST_COMPILE_OPTIONS})
endif()

# chime_use_pch(TARGET [TEST]): compile TARGET with the shared precompiled header (TEST: the
# one for test code).
function(chime_use_pch name)
  if(ARGV1 STREQUAL "TEST" AND TARGET chime_test_pch)
    target_precompile_headers(${name} REUSE_FROM chime_test_pch)
  else()
    target_precompile_headers(${name} REUSE_FROM chime_pch)
  endif()
endfunction()
