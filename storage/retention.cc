#include "storage/retention.h"

#include <cstdint>

#include "common/proto_time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace chime::storage {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Field numbers in chime/internal/storage.proto and chime/v1/timer.proto.
constexpr int kRecordTimerField = 1;  // TimerRecord.timer
constexpr int kStateField = 8;        // Timer.state
constexpr int kCreateTimeField = 9;
constexpr int kCancelTimeField = 14;
constexpr int kLastFireTimeField = 15;
constexpr int kSecondsField = 1;  // google.protobuf.Timestamp
constexpr int kNanosField = 2;

bool IsLengthDelimited(uint32_t tag) {
  return WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

// Reads a length-delimited Timestamp at the stream's position.
bool ReadTimestamp(CodedInputStream& in, absl::Time* out) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
  uint64_t seconds = 0;
  uint32_t nanos = 0;
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool varint = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT;
    if (field == kSecondsField && varint) {
      if (!in.ReadVarint64(&seconds)) return false;
    } else if (field == kNanosField && varint) {
      if (!in.ReadVarint32(&nanos)) return false;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  if (!in.ConsumedEntireMessage()) return false;
  in.PopLimit(limit);
  *out = absl::FromUnixSeconds(static_cast<int64_t>(seconds)) +
         absl::Nanoseconds(static_cast<int32_t>(nanos));
  return true;
}

bool ReadTimer(CodedInputStream& in, TimerEndFacts* facts) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    absl::Time t;
    if (field == kStateField &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      uint32_t state = 0;
      if (!in.ReadVarint32(&state)) return false;
      facts->state = v1::TimerState_IsValid(static_cast<int>(state))
                         ? static_cast<v1::TimerState>(state)
                         : v1::TIMER_STATE_UNSPECIFIED;
    } else if (field == kCreateTimeField && IsLengthDelimited(tag)) {
      if (!ReadTimestamp(in, &facts->create_time)) return false;
    } else if (field == kCancelTimeField && IsLengthDelimited(tag)) {
      if (!ReadTimestamp(in, &t)) return false;
      facts->cancel_time = t;
    } else if (field == kLastFireTimeField && IsLengthDelimited(tag)) {
      if (!ReadTimestamp(in, &t)) return false;
      facts->last_fire_time = t;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  if (!in.ConsumedEntireMessage()) return false;
  in.PopLimit(limit);
  return true;
}

}  // namespace

TimerEndFacts TimerEndFactsOf(const v1::Timer& timer) {
  TimerEndFacts facts;
  facts.state = timer.state();
  facts.create_time = FromProto(timer.create_time());
  if (timer.has_cancel_time()) facts.cancel_time = FromProto(timer.cancel_time());
  if (timer.has_last_fire_time()) facts.last_fire_time = FromProto(timer.last_fire_time());
  return facts;
}

TimerEndFacts ReadTimerEndFacts(absl::string_view serialized_record) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(serialized_record.data()),
                      static_cast<int>(serialized_record.size()));
  TimerEndFacts facts;
  bool ok = true;
  while (ok) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      ok = in.ConsumedEntireMessage();
      break;
    }
    if (WireFormatLite::GetTagFieldNumber(tag) == kRecordTimerField && IsLengthDelimited(tag)) {
      ok = ReadTimer(in, &facts);
    } else {
      ok = WireFormatLite::SkipField(&in, tag);
    }
  }
  return ok ? facts : TimerEndFacts{};
}

std::optional<absl::Time> TimerEndTime(const TimerEndFacts& timer) {
  switch (timer.state) {
    case v1::TIMER_STATE_CANCELLED:
      return timer.cancel_time.value_or(timer.create_time);
    case v1::TIMER_STATE_COMPLETED:
    case v1::TIMER_STATE_DEAD_LETTERED:
      return LastFireOrCreateTime(timer);
    default:
      return std::nullopt;
  }
}

absl::Time LastFireOrCreateTime(const TimerEndFacts& timer) {
  return timer.last_fire_time.value_or(timer.create_time);
}

bool RetentionPassed(absl::Time since, absl::Time now, absl::Duration retention) {
  if (retention == absl::InfiniteDuration()) return false;
  return since + retention <= now;
}

}  // namespace chime::storage
