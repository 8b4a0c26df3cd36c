// The node id: random, created once per data dir and kept in DATA_DIR/node_id, so a node
// keeps its identity across restarts and a copied data dir is recognisable.
#ifndef CHIME_SERVER_ADMIN_NODE_ID_H_
#define CHIME_SERVER_ADMIN_NODE_ID_H_

#include <string>

#include "absl/status/statusor.h"

namespace chime::admin {

// Reads DATA_DIR/node_id, or creates it ("n-" + 16 hex digits, written atomically) when
// missing. The directory must exist. Errors: the file system's, or DATA_LOSS for a file that
// does not hold one line of a valid id.
absl::StatusOr<std::string> LoadOrCreateNodeId(const std::string& data_dir);

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_NODE_ID_H_
