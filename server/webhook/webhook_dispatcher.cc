#include "server/webhook/webhook_dispatcher.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/thread_name.h"
#include "server/delivery/sink.h"
#include "server/engine/engine.h"
#include "server/webhook/fire_json.h"

namespace chime::webhook {
namespace {

// How much of a response body a dead letter's last_error keeps.
constexpr size_t kErrorBodyBytes = 200;

std::string FireKey(const std::string& ns, const std::string& fire_id) {
  return absl::StrCat(ns, std::string(1, '\0'), fire_id);
}

// "HTTP 404: <first bytes of the body>", printable.
std::string DeadLetterReason(const Classification& c, const WebhookResult& r) {
  std::string reason = c.reason;
  if (r.http_status != 0 && !r.body_prefix.empty()) {
    std::string shown = r.body_prefix.substr(0, kErrorBodyBytes);
    for (char& ch : shown) {
      if (!absl::ascii_isprint(static_cast<unsigned char>(ch))) ch = ' ';
    }
    absl::StrAppend(&reason, ": ", absl::StripAsciiWhitespace(shown));
  }
  return reason;
}

const char* OutcomeLabel(Outcome o) {
  switch (o) {
    case Outcome::kAck:
      return "ack";
    case Outcome::kRetry:
      return "retry";
    case Outcome::kDeadLetter:
      return "dead_letter";
  }
  return "unknown";
}

}  // namespace

// Work for the worker thread.
struct WebhookDispatcher::Item {
  enum class Kind { kConsume, kFires, kResult } kind = Kind::kConsume;
  std::string ns;
  std::vector<v1::Fire> fires;  // kFires; kResult: the one fire
  WebhookResult result;         // kResult
};

// The dispatcher as a subscriber of one namespace's "$webhook" topic. Delivery calls it from
// its own threads: it only queues work for the worker.
class WebhookDispatcher::Sink final : public delivery::SubscriberSink {
 public:
  Sink(WebhookDispatcher* dispatcher, std::string ns) : d_(dispatcher), ns_(std::move(ns)) {}
  void set_id(delivery::SubscriberId id) { id_.store(id); }

  // May run before Subscribe returned our id: the worker looks the subscription up when it
  // takes the item, after the Subscribe it ran itself (Consume).
  void SendFires(std::vector<v1::Fire> fires) override {
    Item item;
    item.kind = Item::Kind::kFires;
    item.ns = ns_;
    item.fires = std::move(fires);
    d_->Enqueue(std::move(item));
  }
  // Outcomes of our own acks: nothing to do with them.
  void SendAckResults(std::vector<v1::AckResult>) override {}
  // Delivery ended the subscription (shutdown, or a failed ack write): subscribe again, so
  // the namespace's pending fires do not wait for its next fire. After a shutdown's CloseAll
  // that Subscribe is refused, which is harmless.
  void Close(const absl::Status& status) override {
    {
      absl::MutexLock lock(&d_->mu_);
      auto it = d_->subscriptions_.find(ns_);
      if (it != d_->subscriptions_.end() && it->second == id_.load()) d_->subscriptions_.erase(it);
    }
    CHIME_LOG(kInfo, "webhook consumer closed",
              {{"namespace", ns_}, {"status", status.ToString()}});
    Item item;
    item.kind = Item::Kind::kConsume;
    item.ns = ns_;
    d_->Enqueue(std::move(item));
  }

 private:
  WebhookDispatcher* const d_;
  const std::string ns_;
  std::atomic<delivery::SubscriberId> id_{0};
};

WebhookDispatcher::WebhookDispatcher(storage::Store* store, delivery::DeliveryManager* delivery,
                                     WebhookDispatcherOptions options)
    : store_(store),
      delivery_(delivery),
      options_(std::move(options)),
      metrics_(options_.metrics),
      client_(options_.client) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return;
    started_ = true;
  }
  client_.Start();
  // Registered before the scan of the disk, so no namespace falls between the two.
  delivery_->SetUnclaimedInternalTopicHook([this](const std::string& ns, const std::string& topic) {
    if (topic != engine::kWebhookTopic) return;
    Item item;
    item.kind = Item::Kind::kConsume;
    item.ns = ns;
    Enqueue(std::move(item));
  });
  worker_ = std::thread([this] {
    SetCurrentThreadName("webhooks");
    DiscoverNamespaces();
    Run();
  });
}

void WebhookDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  delivery_->SetUnclaimedInternalTopicHook(nullptr);
  // Results of cancelled requests are dropped (stopping_): their fires stay pending.
  client_.Stop();
  if (worker_.joinable()) worker_.join();
  std::map<std::string, delivery::SubscriberId> subs;
  {
    absl::MutexLock lock(&mu_);
    subs.swap(subscriptions_);
  }
  for (const auto& [ns, id] : subs) delivery_->Unsubscribe(id);
}

std::vector<std::string> WebhookDispatcher::Namespaces() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [ns, id] : subscriptions_) out.push_back(ns);
  return out;
}

void WebhookDispatcher::Enqueue(Item item) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  queue_.push_back(std::move(item));
}

void WebhookDispatcher::DiscoverNamespaces() {
  std::set<std::string> found;
  for (int s = 0; s < store_->shard_count(); ++s) {
    absl::Status status =
        store_->shard(s)->ScanQueuedTopics([&](absl::string_view ns, absl::string_view topic) {
          if (topic == engine::kWebhookTopic) found.insert(std::string(ns));
          return true;
        });
    if (!status.ok()) {
      CHIME_LOG(kError, "scanning for pending webhook fires failed",
                {{"shard", s}, {"error", status.ToString()}});
    }
  }
  for (const std::string& ns : found) Consume(ns);
}

void WebhookDispatcher::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
    mu_.Await(absl::Condition(&ready));
    if (stopping_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    switch (item.kind) {
      case Item::Kind::kConsume:
        Consume(item.ns);
        break;
      case Item::Kind::kFires:
        for (const v1::Fire& fire : item.fires) Send(fire);
        break;
      case Item::Kind::kResult:
        Finish(item.fires.front(), item.result);
        break;
    }
    mu_.Lock();
  }
}

void WebhookDispatcher::Consume(const std::string& ns) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || subscriptions_.contains(ns)) return;
  }
  auto sink = std::make_shared<Sink>(this, ns);
  absl::StatusOr<delivery::SubscriberId> id = delivery_->Subscribe(
      ns, engine::kWebhookTopic, static_cast<uint32_t>(std::max(1, options_.client.max_concurrent)),
      sink);
  if (!id.ok()) {
    // After CloseAll (shutdown): the fires stay pending on disk.
    CHIME_LOG(kInfo, "not consuming webhook fires",
              {{"namespace", ns}, {"error", id.status().ToString()}});
    return;
  }
  sink->set_id(*id);
  absl::MutexLock lock(&mu_);
  subscriptions_[ns] = *id;
  CHIME_LOG(kInfo, "consuming webhook fires", {{"namespace", ns}});
}

delivery::SubscriberId WebhookDispatcher::SubscriptionOf(const std::string& ns) const {
  absl::MutexLock lock(&mu_);
  auto it = subscriptions_.find(ns);
  return it == subscriptions_.end() ? 0 : it->second;
}

void WebhookDispatcher::Send(const v1::Fire& fire) {
  const std::string& ns = fire.namespace_();
  // Settled through the namespace's current subscription; none: closed meanwhile
  // (shutdown), and the fire stays pending on disk.
  const delivery::SubscriberId sub = SubscriptionOf(ns);
  if (sub == 0) return;
  // Delivery handed it out again while the first request is still queued or in flight (it
  // waited long for a per-host slot): that request's outcome settles it.
  if (!in_flight_.insert(FireKey(ns, fire.fire_id())).second) return;
  const int shard = store_->ShardFor(ns, fire.timer_id());
  absl::StatusOr<std::optional<internal::DeliveryRecord>> record =
      store_->shard(shard)->GetDelivery(ns, fire.fire_id());
  if (!record.ok() || !record->has_value() || !(*record)->has_webhook()) {
    in_flight_.erase(FireKey(ns, fire.fire_id()));
    if (!record.ok()) {
      // Transient: retry soon rather than dropping the attempt.
      delivery_->Retry(
          sub, fire.fire_id(), absl::Seconds(1),
          absl::StrCat("reading the delivery record failed: ", record.status().message()));
    } else if (!record->has_value()) {
      delivery_->Ack(sub, {fire.fire_id()});  // settled meanwhile: let delivery forget it
    } else {
      delivery_->DeadLetter(sub, fire.fire_id(), "webhook fire without a webhook target");
    }
    return;
  }
  const v1::WebhookTarget& target = (*record)->webhook();

  FireBody body;
  body.fire_id = fire.fire_id();
  body.timer_id = fire.timer_id();
  body.ns = ns;
  body.scheduled_time = FromProto(fire.scheduled_time());
  body.fire_time = FromProto(fire.fire_time());
  body.attempt = static_cast<int>(fire.attempt());
  body.labels.insert(fire.labels().begin(), fire.labels().end());
  body.payload = fire.payload();

  WebhookRequest request;
  request.url = target.url();
  request.method = target.method().empty() ? "POST" : target.method();
  request.body = FireToJson(body);
  request.timeout =
      target.has_timeout() ? FromProto(target.timeout()) : delivery::kDefaultWebhookTimeout;
  for (const auto& [name, value] : target.headers()) request.headers.emplace_back(name, value);
  for (auto& header : SignedHeaders(fire.fire_id(), options_.clock->Now(), request.body,
                                    options_.secrets.Find(ns))) {
    request.headers.push_back(std::move(header));
  }
  client_.Send(std::move(request), [this, fire](WebhookResult result) {
    // The client's thread: hand the result to the worker, never block.
    Item item;
    item.kind = Item::Kind::kResult;
    item.ns = fire.namespace_();
    item.fires.push_back(fire);
    item.result = std::move(result);
    Enqueue(std::move(item));
  });
}

void WebhookDispatcher::Finish(const v1::Fire& fire, const WebhookResult& result) {
  const std::string& ns = fire.namespace_();
  in_flight_.erase(FireKey(ns, fire.fire_id()));
  const Classification c = Classify(result);
  metrics_.Attempted(c.outcome, result.latency);
  RecordAttempt(fire, result, c);
  // Resubscribed since the send (acks from any subscriber of the topic count), or closed:
  // then the fire stays pending and is sent again.
  const delivery::SubscriberId sub = SubscriptionOf(ns);
  if (sub == 0) return;
  switch (c.outcome) {
    case Outcome::kAck:
      delivery_->Ack(sub, {fire.fire_id()});
      return;
    case Outcome::kDeadLetter:
      CHIME_LOG(kWarn, "webhook refused the fire",
                {{"namespace", ns}, {"fire_id", fire.fire_id()}, {"reason", c.reason}});
      delivery_->DeadLetter(sub, fire.fire_id(), DeadLetterReason(c, result));
      return;
    case Outcome::kRetry:
      break;
  }
  v1::DeliveryPolicy policy;
  absl::StatusOr<std::optional<storage::TimerRecord>> timer =
      store_->shard(store_->ShardFor(ns, fire.timer_id()))->GetTimer(ns, fire.timer_id());
  if (timer.ok() && timer->has_value()) policy = (*timer)->timer().delivery_policy();
  const uint32_t attempt = fire.attempt();
  if (attempt >= delivery_->MaxAttempts(policy)) {
    delivery_->DeadLetter(sub, fire.fire_id(),
                          absl::StrCat(DeadLetterReason(c, result), " (", attempt, " attempts)"));
    return;
  }
  absl::Duration delay = delivery_->Backoff(policy, attempt);
  if (c.retry_after.has_value()) delay = std::max(delay, *c.retry_after);
  delivery_->Retry(sub, fire.fire_id(), delay, c.reason);
}

void WebhookDispatcher::RecordAttempt(const v1::Fire& fire, const WebhookResult& result,
                                      const Classification& c) {
  const std::string ns = fire.namespace_();
  const std::string timer_id = fire.timer_id();
  v1::WebhookStatus attempt;
  attempt.set_last_http_status(result.http_status);
  attempt.set_last_outcome(OutcomeLabel(c.outcome));
  if (c.outcome != Outcome::kAck) attempt.set_last_error(c.reason);
  *attempt.mutable_last_latency() = ToProtoDuration(result.latency);
  *attempt.mutable_last_attempt_time() = ToProtoTimestamp(options_.clock->Now());
  store_->shard(store_->ShardFor(ns, timer_id))
      ->Submit(
          [ns, timer_id, attempt](storage::ShardTxn& txn) -> absl::Status {
            absl::StatusOr<std::optional<storage::TimerRecord>> record = txn.GetTimer(ns, timer_id);
            if (!record.ok()) return record.status();
            if (!record->has_value()) return absl::OkStatus();  // deleted meanwhile
            // Observational: the version is not bumped, so the engine's heap entry for the
            // timer stays current.
            v1::WebhookStatus* status = (*record)->mutable_timer()->mutable_webhook_status();
            const uint64_t attempts = status->attempts() + 1;
            *status = attempt;
            status->set_attempts(attempts);
            txn.PutTimer(**record);
            return absl::OkStatus();
          },
          [ns, timer_id](absl::Status status) {
            if (!status.ok()) {
              CHIME_LOG(kWarn, "recording a webhook attempt failed",
                        {{"namespace", ns}, {"timer_id", timer_id}, {"error", status.ToString()}});
            }
          });
}

}  // namespace chime::webhook
