#include "schedule/next_times.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace chime {

std::vector<absl::Time> NextTimes(const RecurringSpec& spec, absl::Time from, int count) {
  std::vector<absl::Time> times;
  if (count <= 0) return times;
  times.reserve(std::min(count, 1000));
  absl::Time after = from;
  while (static_cast<int>(times.size()) < count) {
    std::optional<absl::Time> next = NextDueTime(spec, after);
    if (!next.has_value()) break;
    times.push_back(*next);
    after = *next;
  }
  return times;
}

}  // namespace chime
