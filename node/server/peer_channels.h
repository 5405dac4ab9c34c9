// PeerChannels: one long-lived mutual-TLS channel per member of the
// agreement (a new TLS connection costs milliseconds of CPU, so never one per
// call). A channel verifies that the server it reaches is the member expected
// at that endpoint (federation/identity). Channels are rebuilt when the
// agreement changes a member's endpoint.
//
// Layer: node/server (speaks gRPC). Safe for concurrent use.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "node/server/federation_host.h"
#include "proto/federation/v1/federation.grpc.pb.h"
#include "proto/node/v1/admin.pb.h"

namespace fednode::server {

class PeerChannels {
 public:
  // `host` must outlive this object.
  explicit PeerChannels(const FederationHost* host) : host_(host) {}

  // The stub for calling member `ags`.
  // Errors: FailedPrecondition without an agreement or own credentials;
  // NotFound when `ags` is no member (or is this node).
  absl::StatusOr<std::shared_ptr<federation::v1::FederationService::Stub>> Stub(
      const std::string& ags);

  // Records the outcome of a call to `ags` (health for `fedctl peers`).
  void Record(const std::string& ags, const grpc::Status& status, uint64_t agreement_version,
              absl::Duration round_trip);
  // Fills state, detail, last contact, agreement version, round trip and
  // the peer certificate's expiry of `health` (health->ags() set).
  void Describe(node::v1::PeerHealth* health);

 private:
  struct Health {
    std::string state = "unknown";
    std::string detail;
    absl::Time last_contact = absl::InfinitePast();
    uint64_t agreement_version = 0;
    absl::Duration round_trip;
  };
  absl::flat_hash_map<std::string, Health> health_ ABSL_GUARDED_BY(mu_);
  struct Peer {
    std::string endpoint;
    std::string own_pin;  // of the credentials the channel was made with
    std::shared_ptr<grpc::Channel> channel;
    std::shared_ptr<federation::v1::FederationService::Stub> stub;
  };
  const FederationHost* host_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fednode::server
