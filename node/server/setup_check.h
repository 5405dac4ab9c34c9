// The checks of `fednode --check-config`: everything the node needs to start
// and to take part in the federation, checked without starting it, every
// problem named (not only the first).
//
// Layer: node/server. Pure apart from reading files and opening the data
// directory read-only (which a running node does not prevent).
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"

#include "proto/config/v1/node_config.pb.h"

namespace fednode::server {

struct SetupReport {
  // Each one would stop the node from starting or from serving the
  // federation, e.g. "federation.key_file /etc/fednode/node.key: does not
  // match the certificate in federation.cert_file".
  std::vector<std::string> problems;
  // What was found in order, and warnings that do not stop the node (a
  // certificate or agreement expiring within 30 days), e.g. "certificate:
  // 06531005, valid until 2027-11-30T12:00:00Z (365 days)".
  std::vector<std::string> notes;
};

// Checks a validated `config` (LoadConfig) at `now`:
// - data_dir: missing (created at start) or opens with a storage format
//   this build reads; the member recorded in it equals member_ags;
// - admin_socket: its directory exists;
// - federation block: key, certificate and chain files readable; the key
//   file not readable by group or others; the key matches the certificate;
//   the certificate is valid at `now` and names member_ags;
// - the agreement installed in data_dir (if any): every signature verifies
//   against the pins it carries, it is in force at `now`, and under it the
//   node's credentials are usable (chain to a trust anchor, key pinned for
//   this member; identity::LoadOwnCredentials). Without an agreement: a note.
SetupReport CheckSetup(const config::v1::NodeConfig& config, absl::Time now);

}  // namespace fednode::server
