// Loading and validating the node's configuration file (textproto of
// fednode.config.v1.NodeConfig; deploy/giessen.textproto is an example).
//
// Layer: node/server; called by fednode's main before anything starts, and by
// `fednode --check-config`. Thread-safe (pure functions).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "proto/config/v1/node_config.pb.h"

namespace fednode::server {

// Parses `text` (untrusted operator input). `source_name` names the file in
// errors. Unknown fields are errors (a typo must not be silently ignored).
// Errors: InvalidArgument "FILE:LINE:COLUMN: message" for a syntax error or
// an unknown field.
absl::StatusOr<config::v1::NodeConfig> ParseConfig(absl::string_view text,
                                                   absl::string_view source_name);

// Reads and parses the file at `path`, then Validate()s it and fills in
// defaults (admin_socket, shutdown_grace_seconds, log_level).
// Errors: NotFound when the file is missing; InvalidArgument from ParseConfig
// or Validate.
absl::StatusOr<config::v1::NodeConfig> LoadConfig(const std::string& path);

// Checks every field; the error names the field path and what is wrong, e.g.
// "member_ags: \"6531005\" is not an AGS (5 digits for a county, 8 for a
// municipality)". Source of the AGS rule: Destatis Gemeindeverzeichnis
// (2 digits Land, 1 Regierungsbezirk, 2 Kreis, 3 Gemeinde).
// Errors: InvalidArgument.
absl::Status Validate(const config::v1::NodeConfig& config);

// Applies documented defaults to unset fields. REQUIRES: Validate() passed.
void ApplyDefaults(config::v1::NodeConfig* config);

// True when `path` is `dir` or lies below it, compared after resolving
// ".", "..", repeated slashes and the symlinks of the parts that exist
// (std::filesystem::weakly_canonical). For rules such as "archives and
// backups lie outside data_dir".
bool PathIsInside(const std::string& path, const std::string& dir);

}  // namespace fednode::server
