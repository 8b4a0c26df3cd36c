// The one place where rocksdb::Status becomes absl::Status.
#ifndef CHIME_STORAGE_ROCKS_STATUS_H_
#define CHIME_STORAGE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace chime::storage {

// NotFound → NOT_FOUND, Corruption → DATA_LOSS, IOError/Busy/TryAgain → UNAVAILABLE,
// InvalidArgument → INVALID_ARGUMENT, anything else → INTERNAL. The message is
// "<context>: <rocksdb message>" (or the rocksdb message alone when context is empty).
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context = {});

}  // namespace chime::storage

#endif  // CHIME_STORAGE_ROCKS_STATUS_H_
