// Turning the outcome of a RocksDB Get into an optional parsed record. Internal to storage/.
#ifndef CHIME_STORAGE_RECORD_IO_H_
#define CHIME_STORAGE_RECORD_IO_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"
#include "storage/rocks_status.h"

namespace chime::storage {

inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

// The DATA_LOSS of a `what` record at `key` that does not parse.
inline absl::Status CorruptRecordError(absl::string_view what, absl::string_view key) {
  return absl::DataLossError(
      absl::StrCat("corrupt ", what, " record at key \"", absl::CHexEscape(key), "\""));
}

// Parses `value` into `*record` (replacing what it held, reusing its memory); DATA_LOSS naming
// `what` and the key if it does not parse.
template <typename Record>
absl::Status ParseRecordInto(const rocksdb::Slice& value, absl::string_view what,
                             const rocksdb::Slice& key, Record* record) {
  if (!record->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return CorruptRecordError(what, ToView(key));
  }
  return absl::OkStatus();
}

template <typename Record>
absl::StatusOr<Record> ParseRecord(const rocksdb::Slice& value, absl::string_view what,
                                   const rocksdb::Slice& key) {
  Record record;
  if (absl::Status s = ParseRecordInto(value, what, key, &record); !s.ok()) return s;
  return record;
}

// NotFound → nullopt; OK → the parsed value; anything else → the error.
template <typename Record>
absl::StatusOr<std::optional<Record>> RecordFromGet(const rocksdb::Status& s,
                                                    const rocksdb::Slice& value,
                                                    absl::string_view what,
                                                    const rocksdb::Slice& key) {
  if (s.IsNotFound()) return std::optional<Record>();
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading ", what));
  absl::StatusOr<Record> record = ParseRecord<Record>(value, what, key);
  if (!record.ok()) return record.status();
  return std::optional<Record>(std::move(*record));
}

}  // namespace chime::storage

#endif  // CHIME_STORAGE_RECORD_IO_H_
