#include "storage/hot_records.h"

#include <cstring>
#include <new>

namespace chime::storage {

HotRecords::Entry* HotRecords::NewEntry(absl::string_view key, absl::string_view value,
                                        int64_t rank) {
  void* memory = ::operator new(sizeof(Entry) + key.size() + value.size());
  Entry* entry = new (memory) Entry{.rank = rank,
                                    .prev = nullptr,
                                    .next = nullptr,
                                    .key_size = static_cast<uint32_t>(key.size()),
                                    .value_size = static_cast<uint32_t>(value.size())};
  char* data = reinterpret_cast<char*>(entry + 1);
  if (!key.empty()) std::memcpy(data, key.data(), key.size());
  if (!value.empty()) std::memcpy(data + key.size(), value.data(), value.size());
  return entry;
}

void HotRecords::FreeEntry(Entry* entry) {
  entry->~Entry();
  ::operator delete(entry);
}

std::optional<absl::string_view> HotRecords::Find(absl::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return (*it)->value();
}

void HotRecords::Put(absl::string_view key, absl::string_view value, int64_t rank) {
  const size_t cost = Cost(key, value);
  auto it = entries_.find(key);
  if (cost > max_bytes_ || key.size() > UINT32_MAX || value.size() > UINT32_MAX ||
      (it == entries_.end() && bytes_ + cost > max_bytes_ && !by_rank_.empty() &&
       rank >= by_rank_.rbegin()->first)) {
    // It would be the first to leave: do not take it (and drop what it replaces).
    if (it != entries_.end()) EraseEntry(it);
    return;
  }
  Entry* entry = NewEntry(key, value, rank);
  if (it == entries_.end()) {
    entries_.insert(entry);
    Link(entry);
  } else {
    Entry* old = *it;
    bytes_ -= Cost(old->key(), old->value());
    // A value replaced at its rank keeps its place in the rank's list.
    if (old->rank == rank) {
      TakePlace(entry, old);
    } else {
      Unlink(old);
      Link(entry);
    }
    // The set holds the same key: the slot can take the new entry in place.
    const_cast<Entry*&>(*it) = entry;
    FreeEntry(old);
  }
  bytes_ += cost;
  while (bytes_ > max_bytes_) EraseEntry(Highest());
}

void HotRecords::Erase(absl::string_view key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) EraseEntry(it);
}

void HotRecords::DropRankedBefore(int64_t rank) {
  while (!by_rank_.empty() && by_rank_.begin()->first < rank) {
    EraseEntry(entries_.find(by_rank_.begin()->second.first->key()));
  }
}

void HotRecords::Clear() {
  for (Entry* entry : entries_) FreeEntry(entry);
  entries_.clear();
  by_rank_.clear();
  bytes_ = 0;
}

void HotRecords::Link(Entry* entry) {
  RankList& list = by_rank_[entry->rank];
  entry->prev = list.last;
  entry->next = nullptr;
  (list.last != nullptr ? list.last->next : list.first) = entry;
  list.last = entry;
}

void HotRecords::TakePlace(Entry* entry, Entry* old) {
  RankList& list = by_rank_.find(old->rank)->second;
  entry->prev = old->prev;
  entry->next = old->next;
  (old->prev != nullptr ? old->prev->next : list.first) = entry;
  (old->next != nullptr ? old->next->prev : list.last) = entry;
}

void HotRecords::Unlink(Entry* entry) {
  auto it = by_rank_.find(entry->rank);
  RankList& list = it->second;
  (entry->prev != nullptr ? entry->prev->next : list.first) = entry->next;
  (entry->next != nullptr ? entry->next->prev : list.last) = entry->prev;
  entry->prev = entry->next = nullptr;
  if (list.first == nullptr) by_rank_.erase(it);
}

void HotRecords::EraseEntry(Entries::iterator it) {
  Entry* entry = *it;
  bytes_ -= Cost(entry->key(), entry->value());
  Unlink(entry);
  entries_.erase(it);
  FreeEntry(entry);
}

}  // namespace chime::storage
