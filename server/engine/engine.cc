// Engine: routes requests to shards by (namespace, timer id) and runs the create, cancel,
// get and list operations; firing lives in ShardEngine.
#include "server/engine/engine.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/limits.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "server/engine/next_due.h"
#include "server/engine/schedule_change.h"
#include "server/engine/shard_engine.h"
#include "server/engine/timer_id.h"
#include "storage/retention.h"

namespace chime::engine {

using storage::ShardTxn;

namespace {

constexpr absl::string_view kPageTokenPrefix = "after:";

// Generated ids tried for one on the shard of the create's idempotency key (with 16 shards,
// 64 tries miss it with probability 1.6 %).
constexpr int kMaxColocationTries = 64;

std::string EncodePageToken(absl::string_view last_id) {
  std::string token;
  absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, last_id), &token);
  return token;
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || !absl::StartsWith(raw, kPageTokenPrefix) ||
      raw.size() == kPageTokenPrefix.size() ||
      raw.size() > kPageTokenPrefix.size() + limits::kMaxTimerIdLength) {
    return absl::InvalidArgumentError("page_token is malformed");
  }
  return raw.substr(kPageTokenPrefix.size());
}

std::string StateName(v1::TimerState state) {
  std::string name = v1::TimerState_Name(state);
  constexpr absl::string_view kPrefix = "TIMER_STATE_";
  if (absl::StartsWith(name, kPrefix)) name.erase(0, kPrefix.size());
  return name;
}

std::string NamespaceOrDefault(absl::string_view ns) {
  return ns.empty() ? std::string(limits::kDefaultNamespace) : std::string(ns);
}

absl::Status NotFound(absl::string_view ns, absl::string_view timer_id) {
  return absl::NotFoundError(absl::StrCat("timer ", timer_id, " not found in namespace ", ns));
}

// What PlanCreate decides for a create before anything is read or written.
struct CreatePlan {
  std::string ns;
  std::string id;
  // A freshly generated id (creation millisecond + 80 random bits): no timer can have it, so
  // the insert need not read first (and CreateMany can write many in one transaction).
  bool id_is_fresh = false;
  int64_t due_us = 0;
  int64_t nominal_us = 0;  // due_us before jitter/spread
};

// State shared by the steps and callbacks of one create.
struct CreateOp : CreatePlan {
  CreateSpec spec;
  absl::Time now;
  std::function<void(absl::StatusOr<CreateResult>)> done;
  // Set by the timer step.
  bool timer_step_ran = false;
  bool inserted = false;
  uint64_t written_after = 0;  // ShardTxn::WrittenAfterSequence of the timer step
  CreateResult result;
};

// A CreateMany: its specs, the outcome of each, and the parts (shard chunks, single creates)
// still running. A generated-id timer stays in `specs` until its shard's transaction moves it
// into its record and then into its result: moving protobuf messages from object to object
// was a tenth of chimed's CPU in batched creates (fourteenth sitting).
struct CreateBatch {
  std::vector<CreateSpec> specs;
  std::vector<absl::StatusOr<CreateResult>> results;
  absl::Time now;
  std::atomic<size_t> remaining{0};
  std::function<void(std::vector<absl::StatusOr<CreateResult>>)> done;
};

// A timer of a CreateMany with a generated id, and where its spec and result are.
struct FreshCreate : CreatePlan {
  size_t index = 0;  // into CreateBatch::specs and ::results
};

// The generated-id timers of a CreateMany that go to one shard.
struct CreateChunk {
  std::vector<FreshCreate> creates;
  uint64_t written_after = 0;  // ShardTxn::WrittenAfterSequence of its transaction
};

// A timer of a CreateMany that reads before it writes: it has an idempotency key to claim, or
// a chosen id that may be taken. Its steps are those of Create.
struct CheckedCreate : CreatePlan {
  size_t index = 0;             // into CreateBatch::specs and ::results
  bool failed = false;          // its result holds its own error
  bool timer_step_ran = false;  // InsertTimer ran (ok or not) in the last transaction
  bool inserted = false;        // that wrote a new timer
};

// CheckedCreates that take their next step in one transaction on one shard.
struct CheckedChunk {
  std::vector<CheckedCreate> creates;
  uint64_t written_after = 0;  // ShardTxn::WrittenAfterSequence of its transaction
};

// The record of a new timer: the spec's timer (moved out of it) with its id, state and times.
internal::TimerRecord NewTimerRecord(CreateSpec& spec, const CreatePlan& plan, absl::Time now) {
  internal::TimerRecord record;
  v1::Timer& timer = *record.mutable_timer();
  timer = std::move(spec.timer);
  timer.set_namespace_(plan.ns);
  timer.set_timer_id(plan.id);
  timer.set_state(v1::TIMER_STATE_SCHEDULED);
  timer.set_version(1);
  *timer.mutable_create_time() = ToProtoTimestamp(now);
  *timer.mutable_next_fire_time() = MicrosToProto(plan.due_us);
  timer.set_fire_count(0);
  timer.clear_cancel_time();
  timer.clear_last_fire_time();
  timer.set_idempotency_key(spec.idempotency_key);
  record.set_request_fingerprint(spec.request_fingerprint);
  record.set_due_us(plan.due_us);
  if (!IsOneShot(timer)) record.set_nominal_us(plan.nominal_us);
  return record;
}

// Step 1 of a create with an idempotency key, on the key's shard: claims the key for op.id,
// or adopts the timer id of an earlier claim by the same request. A claim past `retention`
// counts as none whether or not a compaction dropped it yet (storage/retention.h): its
// timer may be gone, and adopting its id would create that timer again.
//
// Its read: adopts the claim's id into `plan` (true), or finds the key unclaimed (false: the
// claim is to be written, by WriteClaim).
absl::StatusOr<bool> ReadClaim(ShardTxn& txn, CreatePlan& plan, const CreateSpec& spec,
                               absl::Time now, absl::Duration retention) {
  const std::string& key = spec.idempotency_key;
  CHIME_ASSIGN_OR_RETURN(std::optional<internal::IdempotencyRecord> claim,
                         txn.GetIdempotency(plan.ns, key));
  if (claim.has_value() &&
      storage::RetentionPassed(absl::FromUnixMicros(claim->create_time_us()), now, retention)) {
    claim.reset();
  }
  if (!claim.has_value()) return false;
  if (claim->request_fingerprint() != spec.request_fingerprint) {
    return absl::AlreadyExistsError(absl::StrCat("idempotency key ", key,
                                                 " was used by a different request (timer ",
                                                 claim->timer_id(), ")"));
  }
  plan.id = claim->timer_id();
  plan.id_is_fresh = false;
  return true;
}

void WriteClaim(ShardTxn& txn, const CreatePlan& plan, const CreateSpec& spec, absl::Time now) {
  internal::IdempotencyRecord record;
  record.set_timer_id(plan.id);
  record.set_request_fingerprint(spec.request_fingerprint);
  record.set_create_time_us(absl::ToUnixMicros(now));
  txn.PutIdempotency(plan.ns, spec.idempotency_key, record);
}

absl::Status ClaimKey(ShardTxn& txn, CreatePlan& plan, const CreateSpec& spec, absl::Time now,
                      absl::Duration retention) {
  CHIME_ASSIGN_OR_RETURN(const bool adopted, ReadClaim(txn, plan, spec, now, retention));
  if (!adopted) WriteClaim(txn, plan, spec, now);
  return absl::OkStatus();
}

// Step 2, on the timer's shard: writes the timer and its time-index entry into `result`, or
// returns the existing timer there when it was made by the same request. Writes only once
// nothing can fail: an error leaves the transaction as it was.
absl::Status InsertTimer(ShardTxn& txn, const CreatePlan& plan, CreateSpec& spec, absl::Time now,
                         CreateResult& result) {
  std::optional<internal::TimerRecord> existing;
  if (!plan.id_is_fresh) {
    CHIME_ASSIGN_OR_RETURN(existing, txn.GetTimer(plan.ns, plan.id));
  }
  if (existing.has_value()) {
    if (existing->request_fingerprint() != spec.request_fingerprint) {
      return absl::AlreadyExistsError(absl::StrCat("timer ", plan.id, " already exists"));
    }
    CHIME_RETURN_IF_ERROR(ResolveCompletion(txn, *existing));
    result = CreateResult{existing->timer(), false};
    return absl::OkStatus();
  }
  // The timer is moved, not copied: the insert step runs at most once per create.
  internal::TimerRecord record = NewTimerRecord(spec, plan, now);
  txn.PutTimer(record);
  txn.PutDue(plan.due_us, plan.ns, plan.id);
  // PutTimer serialized the record: the result can take the timer.
  result = CreateResult{std::move(*record.mutable_timer()), true};
  return absl::OkStatus();
}

absl::Status InsertTimer(ShardTxn& txn, CreateOp& op) {
  op.timer_step_ran = true;
  op.written_after = txn.WrittenAfterSequence();
  CHIME_RETURN_IF_ERROR(InsertTimer(txn, op, op.spec, op.now, op.result));
  op.inserted = op.result.created;
  return absl::OkStatus();
}

}  // namespace

class Engine::Impl {
 public:
  Impl(storage::Store* store, const EngineOptions& options, FireListener* listener)
      : store_(store), options_(options), clock_(options.clock), listener_(listener) {
    for (int i = 0; i < store->shard_count(); ++i) {
      shards_.push_back(std::make_unique<ShardEngine>(i, store->shard_count(), store->shard(i),
                                                      options, listener));
    }
  }

  ~Impl() {
    for (auto& shard : shards_) shard->Stop();
    // Callbacks of creates and cancels in flight still reference this object.
    absl::MutexLock lock(&ops_mu_);
    ops_mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &ops_in_flight_));
  }

  void Start() {
    for (auto& shard : shards_) shard->Start();
  }

  void Create(CreateSpec spec, std::function<void(absl::StatusOr<CreateResult>)> done) {
    BeginOp();
    auto op = std::make_shared<CreateOp>();
    op->spec = std::move(spec);
    op->done = std::move(done);
    op->now = clock_->Now();
    if (absl::Status s = PrepareCreate(*op); !s.ok()) return FinishCreate(*op, s);
    if (op->spec.idempotency_key.empty()) return SubmitInsert(op, /*on_request_thread=*/true);

    // The claim lives in the key's shard; when the timer's shard is the same one, both
    // steps are one transaction.
    const int key_shard = store_->ShardFor(op->ns, op->spec.idempotency_key);
    store_->shard(key_shard)->Submit(
        [this, op, key_shard](ShardTxn& txn) -> absl::Status {
          op->timer_step_ran = false;
          CHIME_RETURN_IF_ERROR(ClaimKey(txn, *op, op->spec, op->now, options_.retention));
          if (store_->ShardFor(op->ns, op->id) != key_shard) return absl::OkStatus();
          return InsertTimer(txn, *op);
        },
        [this, op](absl::Status status) {
          if (!status.ok()) return FinishCreate(*op, status);
          if (op->timer_step_ran) return InsertCommitted(*op);
          // A crash here leaves a claim; the client's retry adopts its id and completes.
          SubmitInsert(op, /*on_request_thread=*/false);
        });
  }

  void CreateMany(std::vector<CreateSpec> specs,
                  std::function<void(std::vector<absl::StatusOr<CreateResult>>)> done) {
    BeginOp();
    auto batch = std::make_shared<CreateBatch>();
    batch->specs = std::move(specs);
    batch->results.resize(batch->specs.size());
    batch->done = std::move(done);
    batch->now = clock_->Now();
    std::vector<std::shared_ptr<CreateChunk>> chunks(shards_.size());
    // Creates with an idempotency key, by the key's shard; with a chosen id and no key, by
    // the timer's shard.
    std::vector<std::shared_ptr<CheckedChunk>> claims(shards_.size());
    std::vector<std::shared_ptr<CheckedChunk>> inserts(shards_.size());
    for (size_t i = 0; i < batch->specs.size(); ++i) {
      CreateSpec& spec = batch->specs[i];
      if (!spec.timer.timer_id().empty() || !spec.idempotency_key.empty()) {
        CheckedCreate create;
        create.index = i;
        if (absl::Status s = PlanCreate(spec, batch->now, create); !s.ok()) {
          batch->results[i] = s;
          continue;
        }
        const bool keyed = !spec.idempotency_key.empty();
        std::shared_ptr<CheckedChunk>& chunk =
            (keyed
                 ? claims
                 : inserts)[store_->ShardFor(create.ns, keyed ? spec.idempotency_key : create.id)];
        if (chunk == nullptr) chunk = std::make_shared<CheckedChunk>();
        chunk->creates.push_back(std::move(create));
        continue;
      }
      FreshCreate create;
      create.index = i;
      if (absl::Status s = PlanCreate(spec, batch->now, create); !s.ok()) {
        batch->results[i] = s;
        continue;
      }
      std::shared_ptr<CreateChunk>& chunk = chunks[store_->ShardFor(create.ns, create.id)];
      if (chunk == nullptr) {
        chunk = std::make_shared<CreateChunk>();
        chunk->creates.reserve(2 * batch->specs.size() / chunks.size() + 1);
      }
      chunk->creates.push_back(std::move(create));
    }
    size_t parts = 1;  // held until everything is handed over
    for (const auto& chunk : chunks) parts += chunk != nullptr;
    for (const auto& chunk : claims) parts += chunk != nullptr;
    for (const auto& chunk : inserts) parts += chunk != nullptr;
    batch->remaining.store(parts, std::memory_order_relaxed);

    for (size_t shard = 0; shard < chunks.size(); ++shard) {
      const int index = static_cast<int>(shard);
      if (chunks[shard] != nullptr) SubmitChunk(index, chunks[shard], batch);
      if (claims[shard] != nullptr) SubmitChecked(index, claims[shard], batch, /*claim_keys=*/true);
      if (inserts[shard] != nullptr) {
        SubmitChecked(index, inserts[shard], batch, /*claim_keys=*/false);
      }
    }
    FinishBatchPart(*batch);
  }

  void Cancel(std::string ns_in, std::string timer_id,
              std::function<void(absl::StatusOr<v1::Timer>)> done) {
    BeginOp();
    struct CancelOp {
      std::string ns;
      std::string id;
      absl::Time now;
      v1::Timer result;
    };
    auto op = std::make_shared<CancelOp>();
    op->ns = NamespaceOrDefault(ns_in);
    op->id = std::move(timer_id);
    op->now = clock_->Now();
    // With deferred fire writes, a one-shot timer reads SCHEDULED until its fire's ack is
    // written: from its due time (less the lead a fire may be taken ahead) it counts as fired.
    const int64_t firing_from_us =
        options_.defer_fire_writes ? absl::ToUnixMicros(op->now + options_.fire_ahead) : INT64_MIN;
    store_->shard(store_->ShardFor(op->ns, op->id))
        ->Submit(
            [op, firing_from_us](ShardTxn& txn) -> absl::Status {
              CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> record,
                                     txn.GetTimer(op->ns, op->id));
              if (!record.has_value()) return NotFound(op->ns, op->id);
              CHIME_RETURN_IF_ERROR(ResolveCompletion(txn, *record));
              v1::Timer& timer = *record->mutable_timer();
              if (timer.state() != v1::TIMER_STATE_SCHEDULED &&
                  timer.state() != v1::TIMER_STATE_PAUSED) {
                return absl::FailedPreconditionError(
                    absl::StrCat("timer ", op->id, " is ", StateName(timer.state()),
                                 "; only scheduled timers can be cancelled"));
              }
              if (IsOneShot(timer) && record->due_us() <= firing_from_us) {
                return absl::FailedPreconditionError(
                    absl::StrCat("timer ", op->id,
                                 " is firing (its due time has come); only scheduled timers can "
                                 "be cancelled"));
              }
              timer.set_state(v1::TIMER_STATE_CANCELLED);
              *timer.mutable_cancel_time() = ToProtoTimestamp(op->now);
              timer.set_version(timer.version() + 1);
              timer.clear_next_fire_time();
              if (record->due_us() != 0) txn.DeleteDue(record->due_us(), op->ns, op->id);
              record->set_due_us(0);
              txn.PutTimer(*record);
              // The heap entry, if any, is now stale and skipped when popped.
              op->result = timer;
              return absl::OkStatus();
            },
            [this, op, done = std::move(done)](absl::Status status) {
              if (status.ok()) {
                done(std::move(op->result));
              } else {
                done(status);
              }
              EndOp();
            });
  }

  // Runs `change` on the timer's record in its shard's transaction; when the timer is
  // scheduled afterwards, its (new) index entry goes to the shard's heap.
  void Modify(std::string ns_in, std::string timer_id,
              std::function<absl::Status(ShardTxn&, internal::TimerRecord&, absl::Time)> change,
              std::function<void(absl::StatusOr<v1::Timer>)> done) {
    BeginOp();
    struct ModifyOp {
      std::string ns;
      std::string id;
      absl::Time now;
      internal::TimerRecord result;
      uint64_t written_after = 0;  // ShardTxn::WrittenAfterSequence
    };
    auto op = std::make_shared<ModifyOp>();
    op->ns = NamespaceOrDefault(ns_in);
    op->id = std::move(timer_id);
    op->now = clock_->Now();
    const int shard = store_->ShardFor(op->ns, op->id);
    store_->shard(shard)->Submit(
        [op, change = std::move(change)](ShardTxn& txn) -> absl::Status {
          CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> record,
                                 txn.GetTimer(op->ns, op->id));
          if (!record.has_value()) return NotFound(op->ns, op->id);
          CHIME_RETURN_IF_ERROR(ResolveCompletion(txn, *record));
          CHIME_RETURN_IF_ERROR(change(txn, *record, op->now));
          op->result = std::move(*record);
          op->written_after = txn.WrittenAfterSequence();
          return absl::OkStatus();
        },
        [this, op, shard, done = std::move(done)](absl::Status status) {
          if (status.ok()) {
            const internal::TimerRecord& r = op->result;
            if (r.timer().state() == v1::TIMER_STATE_SCHEDULED && r.due_us() != 0) {
              shards_[shard]->OnScheduled(
                  HeapEntry{r.due_us(), r.timer().version(), op->ns, op->id}, op->written_after);
            }
            done(op->result.timer());
          } else {
            done(status);
          }
          EndOp();
        });
  }

  // A one-shot timer stored SCHEDULED whose due time has come: its fire may have been handed
  // over unwritten (EngineOptions::defer_fire_writes).
  bool MayHaveUnwrittenFire(const internal::TimerRecord& record) const {
    return listener_ != nullptr && options_.defer_fire_writes &&
           record.timer().state() == v1::TIMER_STATE_SCHEDULED && IsOneShot(record.timer()) &&
           record.due_us() <= absl::ToUnixMicros(clock_->Now() + options_.fire_ahead);
  }
  // Reads a timer whose fire is out unwritten as its fire's write will leave it.
  void ShowUnwrittenFire(internal::TimerRecord& record) const {
    if (!MayHaveUnwrittenFire(record)) return;
    v1::Timer& timer = *record.mutable_timer();
    std::optional<google::protobuf::Timestamp> fired =
        listener_->UnwrittenFireTime(timer.namespace_(), timer.target().topic(),
                                     MakeFireId(timer.timer_id(), timer.fire_count()));
    if (!fired.has_value()) return;
    timer.set_state(v1::TIMER_STATE_FIRED);
    timer.set_fire_count(timer.fire_count() + 1);
    *timer.mutable_last_fire_time() = *fired;
    timer.set_version(timer.version() + 1);
    timer.clear_next_fire_time();
  }

  // For a record that MayHaveUnwrittenFire. The listener forgets a fire once its write lands:
  // if it knows nothing, the timer is read again, so that a write landed since `record` was
  // read shows FIRED (or COMPLETED). `record` is left empty if the timer is gone by then.
  absl::Status ShowUnwrittenFireOrReadAgain(const storage::ShardStore& shard, absl::string_view ns,
                                            absl::string_view timer_id,
                                            std::optional<internal::TimerRecord>& record) const {
    ShowUnwrittenFire(*record);
    if (record->timer().state() != v1::TIMER_STATE_SCHEDULED) return absl::OkStatus();
    CHIME_ASSIGN_OR_RETURN(record, shard.GetTimer(ns, timer_id));
    if (!record.has_value()) return absl::OkStatus();
    CHIME_RETURN_IF_ERROR(ResolveCompletion(shard, *record));
    ShowUnwrittenFire(*record);
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Timer> Get(absl::string_view ns_in, absl::string_view timer_id) const {
    const std::string ns = NamespaceOrDefault(ns_in);
    const storage::ShardStore& shard = *store_->shard(store_->ShardFor(ns, timer_id));
    CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> record,
                           shard.GetTimer(ns, timer_id));
    if (!record.has_value()) return NotFound(ns, timer_id);
    CHIME_RETURN_IF_ERROR(ResolveCompletion(shard, *record));
    if (MayHaveUnwrittenFire(*record)) {
      CHIME_RETURN_IF_ERROR(ShowUnwrittenFireOrReadAgain(shard, ns, timer_id, record));
      if (!record.has_value()) return NotFound(ns, timer_id);
    }
    v1::Timer& timer = *record->mutable_timer();
    if (!IsOneShot(timer) && timer.state() == v1::TIMER_STATE_SCHEDULED && record->due_us() != 0) {
      const int64_t nominal = record->nominal_us() != 0 ? record->nominal_us() : record->due_us();
      for (int64_t us : UpcomingDueUs(timer, nominal, limits::kUpcomingFireTimes)) {
        *timer.add_upcoming_fire_times() = MicrosToProto(us);
      }
    }
    return std::move(timer);
  }

  absl::StatusOr<v1::ListTimersResponse> List(const v1::ListTimersRequest& request) const {
    const std::string ns = NamespaceOrDefault(request.namespace_());
    const size_t page_size = request.page_size() == 0
                                 ? limits::kDefaultPageSize
                                 : std::min<size_t>(request.page_size(), limits::kMaxPageSize);
    std::string after_id;
    if (!request.page_token().empty()) {
      CHIME_ASSIGN_OR_RETURN(after_id, DecodePageToken(request.page_token()));
    }
    // Merge of the shards' id-ordered scans: keep the page_size + 1 smallest matching ids
    // (one more than the page, to know whether another page follows). A shard's scan stops
    // once its ids cannot enter the kept set.
    const size_t keep = page_size + 1;
    std::vector<v1::Timer> best;
    best.reserve(keep + 1);
    auto by_id = [](const v1::Timer& a, const v1::Timer& b) { return a.timer_id() < b.timer_id(); };
    absl::Status resolve_status;
    for (const auto& shard_engine : shards_) {
      const storage::ShardStore& shard = *store_->shard(shard_engine->index());
      CHIME_RETURN_IF_ERROR(shard.ScanTimers(ns, after_id, [&](const internal::TimerRecord& read) {
        if (best.size() == keep && read.timer().timer_id() >= best.back().timer_id()) {
          return false;
        }
        if (!request.topic().empty() && read.timer().target().topic() != request.topic()) {
          return true;
        }
        // Only a FIRED timer may read differently from its record (COMPLETED), or a one-shot
        // one whose due time came (fired, its fire not yet written): copy just those.
        std::optional<internal::TimerRecord> resolved;
        if (read.timer().state() == v1::TIMER_STATE_FIRED) {
          resolved = read;
          resolve_status = ResolveCompletion(shard, *resolved);
          if (!resolve_status.ok()) return false;
        } else if (MayHaveUnwrittenFire(read)) {
          resolved = read;
          resolve_status =
              ShowUnwrittenFireOrReadAgain(shard, ns, read.timer().timer_id(), resolved);
          if (!resolve_status.ok()) return false;
          if (!resolved.has_value()) return true;  // gone since the scan read it
        }
        const v1::Timer& timer = resolved.has_value() ? resolved->timer() : read.timer();
        if (request.state() != v1::TIMER_STATE_UNSPECIFIED && timer.state() != request.state()) {
          return true;
        }
        best.insert(std::upper_bound(best.begin(), best.end(), timer, by_id), timer);
        if (best.size() > keep) best.pop_back();
        return true;
      }));
      CHIME_RETURN_IF_ERROR(resolve_status);
    }
    v1::ListTimersResponse response;
    const bool more = best.size() > page_size;
    if (more) best.resize(page_size);
    for (v1::Timer& timer : best) *response.add_timers() = std::move(timer);
    if (more) response.set_next_page_token(EncodePageToken(response.timers().rbegin()->timer_id()));
    return response;
  }

  std::vector<ShardStats> Stats() const {
    std::vector<ShardStats> stats;
    for (const auto& shard : shards_) stats.push_back(shard->Stats());
    return stats;
  }

  Clock* clock() const { return clock_; }
  storage::Store* store() const { return store_; }

 private:
  void BeginOp() {
    absl::MutexLock lock(&ops_mu_);
    ++ops_in_flight_;
  }
  void EndOp() {
    absl::MutexLock lock(&ops_mu_);
    --ops_in_flight_;
  }

  // Fills op's namespace, id and due times from its spec (op.now set); an error for a schedule
  // with no time left to fire.
  absl::Status PrepareCreate(CreateOp& op) {
    return PlanCreate(op.spec, op.now, op, CreateTurnShard(op.now));
  }

  // The shard whose turn it is for single creates (EngineOptions::create_shard_turn), or -1.
  int CreateTurnShard(absl::Time now) const {
    if (options_.create_shard_turn <= absl::ZeroDuration()) return -1;
    const int64_t turn =
        absl::ToUnixNanos(now) / absl::ToInt64Nanoseconds(options_.create_shard_turn);
    const int64_t shards = store_->shard_count();
    return static_cast<int>(((turn % shards) + shards) % shards);
  }

  // The namespace, id (generated when the spec has none) and due time of a create. A
  // generated id lands on `turn_shard` when that is not -1 and the create has no
  // idempotency key.
  absl::Status PlanCreate(CreateSpec& spec, absl::Time now, CreatePlan& plan,
                          int turn_shard = -1) const {
    plan.ns = NamespaceOrDefault(spec.timer.namespace_());
    absl::StatusOr<int64_t> due = FirstDueUs(spec.timer, absl::ToUnixMicros(now));
    if (!due.ok()) return due.status();
    plan.id = spec.timer.timer_id();
    if (plan.id.empty()) {
      plan.id = NewTimerId(now);
      plan.id_is_fresh = true;
      // A generated id can be drawn until it lands on a chosen shard. Costs the id a few of
      // its 80 random bits; any id would still be correct. With an idempotency key, its
      // key's shard: the claim and the timer are then written in one transaction with one
      // sync, not one after the other on two shards.
      const int want_shard = spec.idempotency_key.empty()
                                 ? turn_shard
                                 : store_->ShardFor(plan.ns, spec.idempotency_key);
      for (int tries = 1; want_shard >= 0 && tries < kMaxColocationTries; ++tries) {
        if (store_->ShardFor(plan.ns, plan.id) == want_shard) break;
        plan.id = NewTimerId(now);
      }
    }
    // The spread offset hashes the final (namespace, id). Set in place rather than on a copy:
    // the record gets the same two fields anyway.
    spec.timer.set_namespace_(plan.ns);
    spec.timer.set_timer_id(plan.id);
    plan.nominal_us = *due;
    plan.due_us = *due + DueOffsetUs(spec.timer);
    return absl::OkStatus();
  }

  // One transaction inserts every timer of the chunk: fresh ids need no read, so none of the
  // inserts can fail alone, and a failed write fails them all.
  void SubmitChunk(int shard, std::shared_ptr<CreateChunk> chunk,
                   std::shared_ptr<CreateBatch> batch) {
    store_->shard(shard)->Submit(
        [chunk, batch](ShardTxn& txn) -> absl::Status {
          // Runs once: each spec's timer moves into its record, then into its result (which
          // the done below replaces with the error if the write fails).
          chunk->written_after = txn.WrittenAfterSequence();
          for (const FreshCreate& create : chunk->creates) {
            internal::TimerRecord record =
                NewTimerRecord(batch->specs[create.index], create, batch->now);
            txn.PutTimer(record);
            txn.PutDue(create.due_us, create.ns, create.id);
            absl::StatusOr<CreateResult>& result = batch->results[create.index];
            result.emplace();
            result->timer.Swap(record.mutable_timer());
            result->created = true;
          }
          return absl::OkStatus();
        },
        [this, shard, chunk, batch](absl::Status status) {
          if (status.ok()) {
            std::vector<HeapEntry> entries;
            entries.reserve(chunk->creates.size());
            for (FreshCreate& create : chunk->creates) {
              entries.push_back(HeapEntry{create.due_us,
                                          batch->results[create.index]->timer.version(),
                                          std::move(create.ns), std::move(create.id)});
            }
            shards_[shard]->OnScheduledMany(std::move(entries), chunk->written_after);
          } else {
            for (const FreshCreate& create : chunk->creates) batch->results[create.index] = status;
          }
          FinishBatchPart(*batch);
        });
  }

  // One transaction for the chunk's creates on `shard`. With `claim_keys`, this is their
  // keys' shard: each claims its key as Create does, and inserts its timer in the same
  // transaction when the timer lives here too; the others are inserted by their timers' shards
  // once the claims are durable (a claim must never be lost behind its timer). Without, each
  // inserts its timer. A create that fails alone (its key or id taken by another request) gets
  // its error and writes nothing; the others go on.
  void SubmitChecked(int shard, std::shared_ptr<CheckedChunk> chunk,
                     std::shared_ptr<CreateBatch> batch, bool claim_keys) {
    store_->shard(shard)->Submit(
        [this, shard, chunk, batch, claim_keys](ShardTxn& txn) -> absl::Status {
          chunk->written_after = txn.WrittenAfterSequence();
          for (CheckedCreate& create : chunk->creates) {
            CreateSpec& spec = batch->specs[create.index];
            absl::StatusOr<CreateResult>& result = batch->results[create.index];
            absl::Status status;
            bool write_claim = false;
            if (claim_keys) {
              absl::StatusOr<bool> adopted =
                  ReadClaim(txn, create, spec, batch->now, options_.retention);
              status = adopted.status();
              write_claim = adopted.ok() && !*adopted;
            }
            create.timer_step_ran = status.ok() && store_->ShardFor(create.ns, create.id) == shard;
            if (create.timer_step_ran) {
              result.emplace();
              status = InsertTimer(txn, create, spec, batch->now, *result);
            }
            // Last, so that a create failing here writes nothing (as Create's one transaction).
            if (status.ok() && write_claim) WriteClaim(txn, create, spec, batch->now);
            create.failed = !status.ok();
            if (create.failed) result = std::move(status);
            create.inserted = create.timer_step_ran && !create.failed && result->created;
          }
          return absl::OkStatus();
        },
        [this, shard, chunk, batch](absl::Status status) {
          std::vector<HeapEntry> scheduled;
          std::vector<std::shared_ptr<CheckedChunk>> next(shards_.size());
          for (CheckedCreate& create : chunk->creates) {
            if (create.failed) continue;
            if (!status.ok()) {
              batch->results[create.index] = status;
            } else if (create.inserted) {
              scheduled.push_back(HeapEntry{create.due_us,
                                            batch->results[create.index]->timer.version(),
                                            create.ns, create.id});
            } else if (!create.timer_step_ran) {
              // Claimed (durably, now): its timer's shard inserts it next. A crash before that
              // leaves the claim; the client's retry adopts its id and completes.
              std::shared_ptr<CheckedChunk>& inserts = next[store_->ShardFor(create.ns, create.id)];
              if (inserts == nullptr) inserts = std::make_shared<CheckedChunk>();
              inserts->creates.push_back(std::move(create));
            }
          }
          if (!scheduled.empty()) {
            shards_[shard]->OnScheduledMany(std::move(scheduled), chunk->written_after);
          }
          for (size_t s = 0; s < next.size(); ++s) {
            if (next[s] == nullptr) continue;
            batch->remaining.fetch_add(1, std::memory_order_relaxed);  // this part still holds one
            SubmitChecked(static_cast<int>(s), std::move(next[s]), batch, /*claim_keys=*/false);
          }
          FinishBatchPart(*batch);
        });
  }

  void FinishBatchPart(CreateBatch& batch) {
    if (batch.remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    auto done = std::move(batch.done);
    done(std::move(batch.results));
    EndOp();
  }

  // `on_request_thread`: called by the thread that serves the create, which may then write
  // and sync it itself (ShardStore::SubmitOnThisThread); not from a done, whose thread (a
  // shard's syncer) has its own shard to answer for.
  void SubmitInsert(std::shared_ptr<CreateOp> op, bool on_request_thread) {
    storage::ShardStore* shard = store_->shard(store_->ShardFor(op->ns, op->id));
    auto insert = [op](ShardTxn& txn) { return InsertTimer(txn, *op); };
    auto done = [this, op](absl::Status status) {
      if (!status.ok()) return FinishCreate(*op, status);
      InsertCommitted(*op);
    };
    if (on_request_thread) {
      shard->SubmitOnThisThread(std::move(insert), std::move(done));
    } else {
      shard->Submit(std::move(insert), std::move(done));
    }
  }

  // Once the timer's transaction is durable.
  void InsertCommitted(CreateOp& op) {
    if (op.inserted) {
      shards_[store_->ShardFor(op.ns, op.id)]->OnScheduled(
          HeapEntry{op.due_us, op.result.timer.version(), op.ns, op.id}, op.written_after);
    }
    FinishCreate(op, std::move(op.result));
  }

  void FinishCreate(CreateOp& op, absl::StatusOr<CreateResult> result) {
    auto done = std::move(op.done);
    done(std::move(result));
    EndOp();
  }

  storage::Store* const store_;
  const EngineOptions options_;
  Clock* const clock_;
  FireListener* const listener_;  // may be null
  std::vector<std::unique_ptr<ShardEngine>> shards_;

  absl::Mutex ops_mu_;
  int ops_in_flight_ ABSL_GUARDED_BY(ops_mu_) = 0;
};

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(storage::Store* store,
                                                      const EngineOptions& options,
                                                      FireListener* listener) {
  if (store == nullptr) return absl::InvalidArgumentError("engine needs a store");
  if (options.window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("engine window must be positive");
  }
  EngineOptions resolved = options;
  if (resolved.clock == nullptr) resolved.clock = Clock::Real();
  auto impl = std::make_unique<Impl>(store, resolved, listener);
  impl->Start();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

void Engine::Create(CreateSpec spec, std::function<void(absl::StatusOr<CreateResult>)> done) {
  impl_->Create(std::move(spec), std::move(done));
}
void Engine::CreateMany(std::vector<CreateSpec> specs,
                        std::function<void(std::vector<absl::StatusOr<CreateResult>>)> done) {
  impl_->CreateMany(std::move(specs), std::move(done));
}
void Engine::Cancel(std::string ns, std::string timer_id,
                    std::function<void(absl::StatusOr<v1::Timer>)> done) {
  impl_->Cancel(std::move(ns), std::move(timer_id), std::move(done));
}
void Engine::Pause(std::string ns, std::string timer_id,
                   std::function<void(absl::StatusOr<v1::Timer>)> done) {
  impl_->Modify(
      std::move(ns), std::move(timer_id),
      [](ShardTxn& txn, internal::TimerRecord& r, absl::Time) { return PauseRecord(txn, r); },
      std::move(done));
}

void Engine::Resume(std::string ns, std::string timer_id,
                    std::function<void(absl::StatusOr<v1::Timer>)> done) {
  impl_->Modify(
      std::move(ns), std::move(timer_id),
      [](ShardTxn& txn, internal::TimerRecord& r, absl::Time) { return ResumeRecord(txn, r); },
      std::move(done));
}

void Engine::Update(v1::UpdateTimerRequest update,
                    std::function<void(absl::StatusOr<v1::Timer>)> done) {
  std::string ns = update.namespace_();
  std::string id = update.timer_id();
  impl_->Modify(
      std::move(ns), std::move(id),
      [update = std::move(update)](ShardTxn& txn, internal::TimerRecord& r, absl::Time now) {
        return UpdateRecord(txn, r, update, now);
      },
      std::move(done));
}

absl::StatusOr<v1::Timer> Engine::Get(absl::string_view ns, absl::string_view timer_id) const {
  return impl_->Get(ns, timer_id);
}
absl::StatusOr<v1::ListTimersResponse> Engine::List(const v1::ListTimersRequest& request) const {
  return impl_->List(request);
}
std::vector<ShardStats> Engine::Stats() const { return impl_->Stats(); }
Clock* Engine::clock() const { return impl_->clock(); }
storage::Store* Engine::store() const { return impl_->store(); }

}  // namespace chime::engine
