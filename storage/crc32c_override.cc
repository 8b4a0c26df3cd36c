#include "storage/crc32c_override.h"

#include <nmmintrin.h>

#include <cstring>

// The linker's --wrap names: references to the symbol reach __wrap_<symbol>, and
// __real_<symbol> reaches the library's definition.
extern "C" {
uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);
uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);
}

namespace {

__attribute__((target("sse4.2"))) uint32_t ExtendWithInstruction(uint32_t crc, const char* data,
                                                                 size_t n) {
  uint64_t state = ~crc;
  // Byte steps up to an 8-byte boundary, so the word loads below are aligned.
  while (n > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    state = _mm_crc32_u8(static_cast<uint32_t>(state), static_cast<uint8_t>(*data));
    ++data;
    --n;
  }
  for (; n >= 8; data += 8, n -= 8) {
    uint64_t word;
    memcpy(&word, data, sizeof(word));
    state = _mm_crc32_u64(state, word);
  }
  for (; n > 0; ++data, --n) {
    state = _mm_crc32_u8(static_cast<uint32_t>(state), static_cast<uint8_t>(*data));
  }
  return ~static_cast<uint32_t>(state);
}

using ExtendFunction = uint32_t (*)(uint32_t, const char*, size_t);

ExtendFunction ChooseExtend() {
  if (__builtin_cpu_supports("sse4.2")) return &ExtendWithInstruction;
  return &__real__ZN7rocksdb6crc32c6ExtendEjPKcm;
}

}  // namespace

extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data,
                                                           size_t n) {
  static const ExtendFunction chosen = ChooseExtend();
  return chosen(crc, data, n);
}

namespace chime::storage {

const char* Crc32cImplementation() {
  return __builtin_cpu_supports("sse4.2") ? "sse4.2" : "rocksdb";
}

}  // namespace chime::storage
