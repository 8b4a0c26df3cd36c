// What firing a one-shot timer writes about the timer, shared by the fire transaction and by
// the later write of a fire handed over unwritten (EngineOptions::defer_fire_writes).
#ifndef CHIME_SERVER_ENGINE_ONE_SHOT_FIRE_H_
#define CHIME_SERVER_ENGINE_ONE_SHOT_FIRE_H_

#include <cstdint>

#include "chime/internal/storage.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "storage/shard_store.h"

namespace chime::engine {

// Turns `record`, a one-shot timer firing its occurrence fire_count at `fire_time`, into what
// that fire leaves: FIRED, fire count and version one up, no next fire, no due time.
void EndOneShot(internal::TimerRecord& record, const google::protobuf::Timestamp& fire_time);

// Writes `record` (a one-shot timer, due at `due_us`, firing its occurrence fire_count at
// `fire_time`) as that fire leaves it: FIRED, fire count and version one up, no next fire,
// and its time-index entry removed.
void WriteOneShotFired(storage::ShardTxn& txn, internal::TimerRecord& record, int64_t due_us,
                       const google::protobuf::Timestamp& fire_time);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_ONE_SHOT_FIRE_H_
