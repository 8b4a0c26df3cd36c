// RocksDB's CRC32C on the CPU's crc32 instruction. Debian's librocksdb is built portable, without
// SSE4.2, so it checksums every WAL record in software (2.4 % of a 1M herd's CPU here).
// Executables that link chime_storage are linked with --wrap for rocksdb::crc32c::Extend, so
// the library's calls to it reach the definition in crc32c_override.cc instead (the
// chime_crc32c_override object, linked into each of them).
#ifndef CHIME_STORAGE_CRC32C_OVERRIDE_H_
#define CHIME_STORAGE_CRC32C_OVERRIDE_H_

#include <cstddef>
#include <cstdint>

namespace rocksdb::crc32c {
// RocksDB's own declaration (util/crc32c.h, not installed): the CRC32C of `data` continuing
// from `crc`, the CRC of the bytes before it (0 for none).
uint32_t Extend(uint32_t crc, const char* data, size_t n);
}  // namespace rocksdb::crc32c

namespace chime::storage {

// "sse4.2" when RocksDB's CRC32C runs on the CPU's instruction, "rocksdb" when the CPU has no
// SSE4.2 and the library's own code runs.
const char* Crc32cImplementation();

}  // namespace chime::storage

#endif  // CHIME_STORAGE_CRC32C_OVERRIDE_H_
