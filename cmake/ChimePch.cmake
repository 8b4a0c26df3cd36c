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
add_library(chime_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cc)
target_compile_options(chime_pch PRIVATE ${CHIME_WARNINGS})
target_link_libraries(chime_pch PRIVATE chime_proto gRPC::grpc++ absl::status absl::statusor
  absl::strings absl::str_format absl::time absl::synchronization GTest::gtest GTest::gmock)
target_precompile_headers(chime_pch PRIVATE
  <algorithm> <atomic> <cstdint> <functional> <map> <memory> <optional> <set> <string>
  <thread> <utility> <vector>
  <grpcpp/grpcpp.h>
  <chime/v1/timer.grpc.pb.h> <chime/v1/admin.grpc.pb.h> <chime/internal/storage.pb.h>
  <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/str_format.h> <absl/synchronization/mutex.h> <absl/time/clock.h>
  <absl/time/time.h>
  <gmock/gmock.h> <gtest/gtest.h>)

# chime_use_pch(TARGET): compile TARGET with the shared precompiled header.
function(chime_use_pch name)
  target_precompile_headers(${name} REUSE_FROM chime_pch)
endfunction()
