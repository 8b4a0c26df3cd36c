// Values that are read when scraped rather than updated as they change: RocksDB sizes, process
// memory, queue depths owned by another component. A collector callback receives an Emitter.
//
//   registry.AddCollector([store](metrics::Emitter& e) {
//     e.EmitGauge("chime_rocksdb_live_sst_bytes", "Size of live SST files.",
//                 {{"shard", "0"}}, store->LiveSstBytes());
//   });
#ifndef CHIME_METRICS_EMITTER_H_
#define CHIME_METRICS_EMITTER_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/labels.h"

namespace chime::metrics {

// Collects the samples of one scrape. Not thread-safe; lives only during the scrape.
// Samples of the same name (from one or several collectors) form one family; the first
// sample's help, type and label names win. Invalid samples (bad names, a type or label-name
// mismatch, a repeated label set) are dropped and reported by errors().
class Emitter {
 public:
  void EmitGauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  // Counter values must be non-negative and never decrease between scrapes.
  void EmitCounter(std::string_view name, std::string_view help, const Labels& labels,
                   double value);

  struct CollectedFamily {
    std::string help;
    std::string type;  // "gauge" or "counter"
    std::vector<std::string> label_names;
    // Label values (in label_names order) → value; std::map for a sorted output.
    std::map<std::vector<std::string>, double> samples;
  };
  const std::map<std::string, CollectedFamily>& families() const { return families_; }
  const std::vector<std::string>& errors() const { return errors_; }

  // Drops a family (the registry does this when a collector's name collides with its own).
  void Drop(const std::string& name, std::string reason);

 private:
  void Emit(std::string_view type, std::string_view name, std::string_view help,
            const Labels& labels, double value);

  std::map<std::string, CollectedFamily> families_;
  std::vector<std::string> errors_;
};

}  // namespace chime::metrics

#endif  // CHIME_METRICS_EMITTER_H_
