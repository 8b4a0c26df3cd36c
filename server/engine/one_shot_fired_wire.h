// A one-shot timer read, fired and ended on its stored bytes, without parsing the record. The
// ack of a fire handed over unwritten writes that end (WriteOneShotFired) once per fire, and a
// parse and a serialization of the whole record (payload, labels, policy, target) were most of
// it; the fire itself parsed the record to copy a few of its fields.
#ifndef CHIME_SERVER_ENGINE_ONE_SHOT_FIRED_WIRE_H_
#define CHIME_SERVER_ENGINE_ONE_SHOT_FIRED_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace chime::engine {

enum class WireEnd {
  kWritten,      // *fired holds the ended record
  kNotThatFire,  // the record is not the SCHEDULED one-shot timer the fire was taken from
  kUnreadable,   // a shape this reader does not handle: parse the record instead
};

// From `record`, a serialized internal::TimerRecord: when it is a SCHEDULED one-shot timer due
// at `due_us`, at `version`, with `occurrence` fires, sets *fired to the record as
// WriteOneShotFired leaves it (FIRED, fire count and version one up, last fire `fire_time`, no
// next fire, no due time), which parses to the same message. Fields are not reordered into
// field-number order: the timer comes last.
WireEnd EndOneShotInWire(absl::string_view record, int64_t due_us, uint64_t version,
                         uint64_t occurrence, const google::protobuf::Timestamp& fire_time,
                         std::string* fired);

// What a fire transaction needs to know of a stored timer to hold its fire back, read on its
// bytes: most fires of a herd are held once before they fire, and a parse of the whole record
// (payload, labels, policy) was most of that.
struct OneShotWireFacts {
  int64_t due_us = 0;  // the record's
  uint64_t version = 0;
  bool scheduled = false;  // TIMER_STATE_SCHEDULED
  bool one_shot = false;   // a fire_at schedule
  // A topic target: its name, a view of the record's bytes. None for a webhook or no target.
  std::optional<absl::string_view> topic;

  // What a fire of the timer copies (MakeTopicDeliveryOnTheWire), views of the record's bytes.
  absl::string_view ns;
  absl::string_view timer_id;
  uint64_t fire_count = 0;
  absl::string_view payload;
  absl::string_view timer;  // the timer's own bytes, read again for its labels
  bool has_labels = false;
  int policies = 0;          // delivery_policy fields present; a parse merges several
  absl::string_view policy;  // the last one's bytes
};

// From `record`, a serialized internal::TimerRecord, the facts a parse would give. False for a
// shape this reader leaves to a parse: a message in several pieces, bytes that are not fields.
bool ReadOneShotWireFacts(absl::string_view record, OneShotWireFacts* facts);

// The pending delivery of the fire of a topic timer read as `facts`, scheduled (nominally) at
// nominal_us and fired at `now`: what MakeDelivery makes of the parsed timer, without the
// parse. False, and *delivery unspecified, for a shape left to the parse (a policy in several
// pieces, labels that are not fields).
bool MakeTopicDeliveryOnTheWire(const OneShotWireFacts& facts, int64_t nominal_us, absl::Time now,
                                internal::DeliveryRecord* delivery);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_ONE_SHOT_FIRED_WIRE_H_
