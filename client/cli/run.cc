#include "client/cli/run.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cli/args.h"
#include "client/cli/dlq.h"
#include "client/cli/output.h"
#include "client/cli/recurring_flags.h"
#include "client/cli/requests.h"
#include "client/cli/spec.h"
#include "client/cli/status.h"
#include "client/client.h"
#include "common/limits.h"

namespace chime::cli {
namespace {

// How long `watch` waits, before exiting, for the server to confirm its last acks as durable.
constexpr absl::Duration kAckConfirmTimeout = absl::Seconds(10);

void PrintError(std::ostream& err, const absl::Status& status) {
  err << "error: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
      << std::endl;
}

int UsageError(std::ostream& err, const absl::Status& status, const std::string& command) {
  PrintError(err, status);
  err << UsageLine(ChimeSpec(), command) << std::endl;
  return kExitUsage;
}

// One command run: the parsed arguments, the connection and the output streams.
class Command {
 public:
  Command(const ParsedArgs& args, std::ostream& out, std::ostream& err)
      : args_(args), out_(out), err_(err), json_(args.Has("json")) {}

  int Run() {
    if (args_.command == "next") return Next();  // local: no server
    ClientOptions options;
    options.wait_for_ready = false;  // a server that is down is reported, not waited for
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(args_.Get("server").value_or(kDefaultServer), options);
    if (!client.ok()) return UsageError(err_, client.status(), "");
    client_ = std::move(*client);
    const std::string& command = args_.command;
    if (command == "create") return Create();
    if (command == "get") return Get();
    if (command == "cancel") return Cancel();
    if (command == "pause" || command == "resume" || command == "update") return Change(command);
    if (command == "list") return List();
    if (command == "watch") return Watch();
    if (command == "status") return Status();
    if (command == "dlq") return Dlq();
    return UsageError(err_, absl::InvalidArgumentError("unknown command " + command), "");
  }

 private:
  int Fail(const absl::Status& status) {
    PrintError(err_, status);
    return kExitError;
  }

  void Print(const std::string& line) { out_ << line << std::endl; }

  int Create() {
    absl::StatusOr<v1::CreateTimerRequest> request = BuildCreateRequest(args_);
    if (!request.ok()) return UsageError(err_, request.status(), "create");
    absl::StatusOr<v1::CreateTimerResponse> created = client_->CreateTimer(*request);
    if (!created.ok()) return Fail(created.status());
    Print(json_ ? TimerJson(created->timer()) : created->timer().timer_id());
    return kExitOk;
  }

  int Next() {
    absl::StatusOr<std::vector<std::string>> lines = NextTimeLines(args_, absl::Now());
    if (!lines.ok()) return UsageError(err_, lines.status(), "next");
    for (const std::string& line : *lines) Print(line);
    return kExitOk;
  }

  int Get() {
    absl::StatusOr<v1::Timer> timer = client_->GetTimer(NamespaceOf(args_), args_.positional[0]);
    if (!timer.ok()) return Fail(timer.status());
    if (json_) {
      Print(TimerJson(*timer));
    } else {
      out_ << TimerDetails(*timer) << std::flush;
    }
    return kExitOk;
  }

  int Cancel() {
    absl::StatusOr<v1::Timer> timer = client_->CancelTimer(NamespaceOf(args_), args_.positional[0]);
    if (!timer.ok()) return Fail(timer.status());
    Print(json_ ? TimerJson(*timer) : TimerLine(*timer));
    return kExitOk;
  }

  // pause, resume, update: print the changed timer.
  int Change(const std::string& command) {
    absl::StatusOr<v1::Timer> timer;
    if (command == "pause") {
      timer = client_->PauseTimer(NamespaceOf(args_), args_.positional[0]);
    } else if (command == "resume") {
      timer = client_->ResumeTimer(NamespaceOf(args_), args_.positional[0]);
    } else {
      absl::StatusOr<v1::UpdateTimerRequest> request = BuildUpdateRequest(args_);
      if (!request.ok()) return UsageError(err_, request.status(), "update");
      timer = client_->UpdateTimer(*request);
    }
    if (!timer.ok()) return Fail(timer.status());
    Print(json_ ? TimerJson(*timer) : TimerLine(*timer));
    return kExitOk;
  }

  int List() {
    absl::StatusOr<ListPlan> plan = BuildListPlan(args_);
    if (!plan.ok()) return UsageError(err_, plan.status(), "list");
    v1::ListTimersRequest request = plan->request;
    uint64_t printed = 0;
    while (true) {
      if (plan->limit > 0) {
        request.set_page_size(
            static_cast<uint32_t>(std::min<uint64_t>(plan->limit - printed, limits::kMaxPageSize)));
      }
      absl::StatusOr<v1::ListTimersResponse> page = client_->ListTimers(request);
      if (!page.ok()) return Fail(page.status());
      for (const v1::Timer& timer : page->timers()) {
        if (plan->limit > 0 && printed >= plan->limit) break;
        Print(json_ ? TimerJson(timer) : TimerLine(timer));
        ++printed;
      }
      if (page->next_page_token().empty()) break;
      if (plan->limit > 0 && printed >= plan->limit) break;
      request.set_page_token(page->next_page_token());
    }
    return kExitOk;
  }

  int Watch() {
    absl::StatusOr<WatchPlan> plan = BuildWatchPlan(args_);
    if (!plan.ok()) return UsageError(err_, plan.status(), "watch");
    SubscribeOptions options;
    options.max_outstanding = plan->max_outstanding;
    absl::StatusOr<std::unique_ptr<Subscription>> sub =
        client_->Subscribe(plan->ns, plan->topic, options);
    if (!sub.ok()) return Fail(sub.status());
    std::set<std::string> unconfirmed;  // acked, not yet confirmed durable by the server
    auto take_confirmations = [&] {
      for (const v1::AckResult& result : (*sub)->TakeAckResults()) {
        unconfirmed.erase(result.fire_id());
      }
    };
    uint32_t printed = 0;
    while (plan->count == 0 || printed < plan->count) {
      absl::StatusOr<std::optional<v1::Fire>> fire = (*sub)->Next(absl::Seconds(1));
      if (!fire.ok()) return Fail(fire.status());
      take_confirmations();
      if (!fire->has_value()) continue;
      const v1::Fire& f = **fire;
      Print(json_ ? FireJson(f) : FireLine(f));
      ++printed;
      if (plan->ack) {
        // UNAVAILABLE: the stream is reconnecting and dropped the ack; acked again before
        // exiting (AckAndWait below), or the fire is delivered again.
        absl::Status acked = (*sub)->Ack({f.fire_id()});
        if (!acked.ok() && !absl::IsUnavailable(acked)) return Fail(acked);
        unconfirmed.insert(f.fire_id());
      }
    }
    // Exiting cancels the stream: wait until the last acks are durable so none is lost.
    const absl::Time give_up = absl::Now() + kAckConfirmTimeout;
    while (!unconfirmed.empty()) {
      const std::string fire_id = *unconfirmed.begin();
      absl::StatusOr<v1::AckOutcome> outcome =
          (*sub)->AwaitAckResult(fire_id, give_up - absl::Now());
      // The ack went with a broken stream (or never left): send it again on the new one.
      if (absl::IsUnavailable(outcome.status())) {
        outcome = (*sub)->AckAndWait(fire_id, give_up - absl::Now());
      }
      if (!outcome.ok()) return Fail(outcome.status());
      unconfirmed.erase(fire_id);
      take_confirmations();
    }
    return kExitOk;
  }

  int Dlq() {
    const std::string server = args_.Get("server").value_or(kDefaultServer);
    const std::string& action = args_.positional[0];
    if (action == "replay" || action == "purge") {
      if (args_.positional.size() < 2) {
        return UsageError(err_, absl::InvalidArgumentError("dlq " + action + " needs FIRE_ID"),
                          "dlq");
      }
      absl::StatusOr<v1::DeadLetter> dead = SettleDeadLetter(
          server, action == "replay", NamespaceOf(args_), args_.positional[1], absl::Seconds(30));
      if (!dead.ok()) return Fail(dead.status());
      Print(json_ ? DeadLetterJson(*dead) : DeadLetterLine(*dead));
      return kExitOk;
    }
    if (action != "list" || args_.positional.size() > 1) {
      return UsageError(err_, absl::InvalidArgumentError("dlq wants list, replay or purge"), "dlq");
    }
    uint64_t limit = 0;
    if (std::optional<std::string> text = args_.Get("limit"); text.has_value()) {
      if (!absl::SimpleAtoi(*text, &limit) || limit == 0) {
        return UsageError(err_, absl::InvalidArgumentError("--limit wants a positive number"),
                          "dlq");
      }
    }
    v1::ListDeadLettersRequest request;
    request.set_namespace_(NamespaceOf(args_));
    request.set_topic(args_.Get("topic").value_or(""));
    uint64_t printed = 0;
    while (limit == 0 || printed < limit) {
      absl::StatusOr<v1::ListDeadLettersResponse> page =
          ListDeadLetters(server, request, absl::Seconds(30));
      if (!page.ok()) return Fail(page.status());
      for (const v1::DeadLetter& dead : page->dead_letters()) {
        if (limit > 0 && printed >= limit) break;
        Print(json_ ? DeadLetterJson(dead) : DeadLetterLine(dead));
        ++printed;
      }
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return kExitOk;
  }

  int Status() {
    absl::StatusOr<v1::GetStatusResponse> status =
        FetchStatus(args_.Get("server").value_or(kDefaultServer));
    if (!status.ok()) return Fail(status.status());
    if (json_) {
      Print(StatusJson(*status));
    } else {
      out_ << StatusText(*status) << std::flush;
    }
    return kExitOk;
  }

  const ParsedArgs& args_;
  std::ostream& out_;
  std::ostream& err_;
  const bool json_;
  std::unique_ptr<Client> client_;
};

}  // namespace

int RunChime(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ParsedArgs parsed;
  absl::Status status = ParseArgs(ChimeSpec(), args, &parsed);
  if (!status.ok()) return UsageError(err, status, parsed.command);
  if (parsed.help) {
    out << Help(ChimeSpec(), parsed.command) << std::flush;
    return kExitOk;
  }
  return Command(parsed, out, err).Run();
}

}  // namespace chime::cli
