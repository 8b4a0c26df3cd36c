#include "server/engine/one_shot_fired_wire.h"

#include <cstdint>
#include <string>

#include "chime/v1/timer.pb.h"
#include "common/proto_time.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/engine/engine.h"

namespace chime::engine {
namespace {

using google::protobuf::internal::WireFormatLite;

// Field numbers of internal::TimerRecord, v1::Timer and v1::Schedule (the .proto files).
constexpr int kRecordTimer = 1;
constexpr int kRecordDueUs = 3;
constexpr int kTimerNamespace = 1;
constexpr int kTimerId = 2;
constexpr int kTimerSchedule = 3;
constexpr int kTimerTarget = 4;
constexpr int kTimerPayload = 5;
constexpr int kTimerLabels = 6;
constexpr int kTimerDeliveryPolicy = 7;
constexpr int kTimerState = 8;
constexpr int kTimerNextFireTime = 10;
constexpr int kTimerFireCount = 11;
constexpr int kTimerVersion = 13;
constexpr int kTimerLastFireTime = 15;
constexpr int kScheduleFireAt = 1;
constexpr int kScheduleInterval = 2;
constexpr int kScheduleCron = 3;
constexpr int kTargetTopic = 1;
constexpr int kTargetWebhook = 2;
constexpr int kMapKey = 1;
constexpr int kMapValue = 2;

struct Field {
  int number = 0;
  WireFormatLite::WireType type = WireFormatLite::WIRETYPE_VARINT;
  uint64_t varint = 0;     // a varint's value
  absl::string_view body;  // a length-delimited field's bytes
  absl::string_view raw;   // the whole field, tag included
};

// The fields of one message's bytes, in their order. Read by hand: a CodedInputStream per
// message cost as much as the reading. Groups (deprecated) are left to a parse.
class FieldReader {
 public:
  explicit FieldReader(absl::string_view bytes) : bytes_(bytes) {}

  // False at the end, or at bytes that do not read as fields (then ok() is false).
  bool Next(Field* field) {
    if (at_ == bytes_.size()) return false;
    const size_t start = at_;
    uint64_t tag = 0;
    if (!ReadVarint(&tag) || tag > UINT32_MAX) return Fail();
    field->number = WireFormatLite::GetTagFieldNumber(static_cast<uint32_t>(tag));
    field->type = WireFormatLite::GetTagWireType(static_cast<uint32_t>(tag));
    if (field->number == 0) return Fail();
    switch (field->type) {
      case WireFormatLite::WIRETYPE_VARINT:
        if (!ReadVarint(&field->varint)) return Fail();
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint64_t length = 0;
        if (!ReadVarint(&length) || length > bytes_.size() - at_) return Fail();
        field->body = bytes_.substr(at_, length);
        at_ += length;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64:
        if (!Skip(8)) return Fail();
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (!Skip(4)) return Fail();
        break;
      default:
        return Fail();
    }
    field->raw = bytes_.substr(start, at_ - start);
    return true;
  }
  bool ok() const { return ok_; }

 private:
  bool ReadVarint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64 && at_ < bytes_.size(); shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(bytes_[at_++]);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;  // cut short, or longer than ten bytes
  }
  bool Skip(size_t n) {
    if (n > bytes_.size() - at_) return false;
    at_ += n;
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  absl::string_view bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendTag(int number, WireFormatLite::WireType type, std::string* out) {
  AppendVarint(WireFormatLite::MakeTag(number, type), out);
}

// Which of the schedule's oneof fields is set: the last one present, as a parse leaves it.
int ScheduleKind(absl::string_view schedule, bool* ok) {
  FieldReader in(schedule);
  Field field;
  int kind = 0;
  while (in.Next(&field)) {
    if (field.type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
        (field.number == kScheduleFireAt || field.number == kScheduleInterval ||
         field.number == kScheduleCron)) {
      kind = field.number;
    }
  }
  *ok = in.ok();
  return kind;
}

// The topic of a target's bytes, if the oneof's last field set is a topic. False if the bytes
// are not fields.
bool TargetTopic(absl::string_view target, std::optional<absl::string_view>* topic) {
  FieldReader in(target);
  Field field;
  topic->reset();
  while (in.Next(&field)) {
    if (field.type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) continue;
    if (field.number == kTargetTopic) {
      *topic = field.body;
    } else if (field.number == kTargetWebhook) {
      topic->reset();
    }
  }
  return in.ok();
}

// Splits a TimerRecord's bytes into its timer's bytes and its due time (the last one, as a
// parse takes it), appending its other fields as they are to *others if given. False for bytes
// that are not fields, or a timer in several pieces, which a parse merges: left to it.
bool SplitRecord(absl::string_view record, absl::string_view* timer, int64_t* due_us,
                 std::string* others) {
  Field field;
  int timers = 0;
  *due_us = 0;
  FieldReader top(record);
  while (top.Next(&field)) {
    if (field.number == kRecordTimer && field.type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      *timer = field.body;
      ++timers;
    } else if (field.number == kRecordDueUs && field.type == WireFormatLite::WIRETYPE_VARINT) {
      *due_us = static_cast<int64_t>(field.varint);
    } else if (others != nullptr) {
      others->append(field.raw.data(), field.raw.size());
    }
  }
  return top.ok() && timers <= 1;
}

}  // namespace

bool ReadOneShotWireFacts(absl::string_view record, OneShotWireFacts* facts) {
  constexpr auto kVarint = WireFormatLite::WIRETYPE_VARINT;
  constexpr auto kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  *facts = OneShotWireFacts();
  absl::string_view timer;
  if (!SplitRecord(record, &timer, &facts->due_us, nullptr)) return false;
  Field field;
  uint64_t state = 0;
  int schedules = 0;
  int targets = 0;
  FieldReader in(timer);
  while (in.Next(&field)) {
    if (field.type == kVarint && field.number == kTimerState) {
      state = field.varint;
    } else if (field.type == kVarint && field.number == kTimerVersion) {
      facts->version = field.varint;
    } else if (field.type == kBytes && field.number == kTimerSchedule) {
      ++schedules;
      bool ok = true;
      facts->one_shot = ScheduleKind(field.body, &ok) == kScheduleFireAt;
      if (!ok) return false;
    } else if (field.type == kBytes && field.number == kTimerTarget) {
      ++targets;
      if (!TargetTopic(field.body, &facts->topic)) return false;
    } else if (field.type == kBytes && field.number == kTimerNamespace) {
      facts->ns = field.body;
    } else if (field.type == kBytes && field.number == kTimerId) {
      facts->timer_id = field.body;
    } else if (field.type == kVarint && field.number == kTimerFireCount) {
      facts->fire_count = field.varint;
    } else if (field.type == kBytes && field.number == kTimerPayload) {
      facts->payload = field.body;
    } else if (field.type == kBytes && field.number == kTimerLabels) {
      facts->has_labels = true;
    } else if (field.type == kBytes && field.number == kTimerDeliveryPolicy) {
      ++facts->policies;
      facts->policy = field.body;
    }
  }
  if (!in.ok() || schedules > 1 || targets > 1) return false;
  facts->scheduled = static_cast<int32_t>(state) == v1::TIMER_STATE_SCHEDULED;
  facts->timer = timer;
  return true;
}

bool MakeTopicDeliveryOnTheWire(const OneShotWireFacts& facts, int64_t nominal_us, absl::Time now,
                                internal::DeliveryRecord* delivery) {
  if (!facts.topic.has_value() || facts.policies > 1) return false;
  delivery->Clear();
  v1::Fire& fire = *delivery->mutable_fire();
  fire.set_fire_id(MakeFireId(facts.timer_id, facts.fire_count));
  fire.mutable_namespace_()->assign(facts.ns.data(), facts.ns.size());
  fire.mutable_timer_id()->assign(facts.timer_id.data(), facts.timer_id.size());
  fire.mutable_topic()->assign(facts.topic->data(), facts.topic->size());
  *fire.mutable_scheduled_time() = MicrosToProto(nominal_us);  // nominal, before offsets
  *fire.mutable_fire_time() = ToProtoTimestamp(now);
  fire.set_attempt(0);  // delivery counts attempts from its first send
  v1::DeliveryPolicy& policy = *delivery->mutable_policy();
  if (facts.policies == 1 &&
      !policy.ParseFromArray(facts.policy.data(), static_cast<int>(facts.policy.size()))) {
    return false;
  }
  fire.mutable_payload()->assign(facts.payload.data(), facts.payload.size());
  if (facts.has_labels) {
    // Each label is a map entry message; of repeated keys, and of a key's repeated fields, the
    // last counts, as in a parse.
    auto& labels = *fire.mutable_labels();
    FieldReader in(facts.timer);
    Field field;
    while (in.Next(&field)) {
      if (field.number != kTimerLabels || field.type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        continue;
      }
      absl::string_view key;
      absl::string_view value;
      FieldReader entry(field.body);
      Field part;
      while (entry.Next(&part)) {
        if (part.type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) continue;
        if (part.number == kMapKey) key = part.body;
        if (part.number == kMapValue) value = part.body;
      }
      if (!entry.ok()) return false;
      labels[std::string(key)] = std::string(value);
    }
    if (!in.ok()) return false;
  }
  delivery->set_visible_at_us(absl::ToUnixMicros(now));
  return true;
}

WireEnd EndOneShotInWire(absl::string_view record, int64_t due_us, uint64_t version,
                         uint64_t occurrence, const google::protobuf::Timestamp& fire_time,
                         std::string* fired) {
  constexpr auto kVarint = WireFormatLite::WIRETYPE_VARINT;
  constexpr auto kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  fired->clear();
  Field field;

  // The record's own fields: all but the timer and its due time are kept as they are.
  absl::string_view timer;
  int64_t stored_due = 0;
  if (!SplitRecord(record, &timer, &stored_due, fired)) return WireEnd::kUnreadable;
  if (stored_due != due_us) return WireEnd::kNotThatFire;

  // The timer's fields: those the fire sets or clears are dropped and written anew after the
  // rest.
  std::string kept;
  kept.reserve(timer.size() + 32);
  uint64_t state = 0;
  uint64_t stored_version = 0;
  uint64_t fire_count = 0;
  int schedules = 0;
  int schedule_kind = 0;
  FieldReader in(timer);
  while (in.Next(&field)) {
    if (field.type == kVarint && field.number == kTimerState) {
      state = field.varint;
    } else if (field.type == kVarint && field.number == kTimerVersion) {
      stored_version = field.varint;
    } else if (field.type == kVarint && field.number == kTimerFireCount) {
      fire_count = field.varint;
    } else if (field.type == kBytes &&
               (field.number == kTimerNextFireTime || field.number == kTimerLastFireTime)) {
      // Cleared, and set anew.
    } else {
      if (field.type == kBytes && field.number == kTimerSchedule) {
        ++schedules;
        bool ok = true;
        schedule_kind = ScheduleKind(field.body, &ok);
        if (!ok) return WireEnd::kUnreadable;
      }
      kept.append(field.raw.data(), field.raw.size());
    }
  }
  if (!in.ok() || schedules > 1) return WireEnd::kUnreadable;
  if (static_cast<int32_t>(state) != v1::TIMER_STATE_SCHEDULED || stored_version != version ||
      fire_count != occurrence || schedule_kind != kScheduleFireAt) {
    return WireEnd::kNotThatFire;
  }
  AppendTag(kTimerState, kVarint, &kept);
  AppendVarint(v1::TIMER_STATE_FIRED, &kept);
  AppendTag(kTimerFireCount, kVarint, &kept);
  AppendVarint(occurrence + 1, &kept);
  AppendTag(kTimerVersion, kVarint, &kept);
  AppendVarint(version + 1, &kept);
  const std::string last_fire = fire_time.SerializeAsString();
  AppendTag(kTimerLastFireTime, kBytes, &kept);
  AppendVarint(last_fire.size(), &kept);
  kept.append(last_fire);

  AppendTag(kRecordTimer, kBytes, fired);
  AppendVarint(kept.size(), fired);
  fired->append(kept);
  return WireEnd::kWritten;
}

}  // namespace chime::engine
