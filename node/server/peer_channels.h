// PeerChannels: one long-lived mutual-TLS channel per member of the
// agreement (a new TLS connection costs milliseconds of CPU, so never one per
// call). A channel verifies that the server it reaches is the member expected
// at that endpoint (federation/identity). Channels are rebuilt when a new
// agreement version is in force (pins may have changed) and when the node's
// own key rotates.
//
// Layer: node/server (speaks gRPC). Safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "node/server/federation_host.h"
#include "proto/federation/v1/federation.grpc.pb.h"
#include "proto/node/v1/admin.pb.h"

namespace fednode::server {

// Reconnect backoff of a peer channel: first retry after
// kInitialReconnectBackoff, growing ×1.6 (gRPC's connection-backoff
// algorithm, doc/connection-backoff.md, with ±20 % jitter) up to
// kMaxReconnectBackoff. gRPC's own maximum is 120 s; a municipal peer that
// restarts should be reachable again within seconds.
inline constexpr absl::Duration kInitialReconnectBackoff = absl::Milliseconds(500);
inline constexpr absl::Duration kMaxReconnectBackoff = absl::Seconds(10);

// Retry policy of every call to a peer (gRPC service config, gRFC A6
// "client retries"): at most 3 attempts, only on UNAVAILABLE (the request
// never reached the peer's handler or the connection broke before an
// answer), backoff 0.2 s × 2ⁿ up to 2 s with gRPC's random jitter, and a
// retry throttle (10 tokens, 0.1 per success) so that a failing peer does
// not multiply the traffic. All federation methods are read-only, so a
// retried call cannot do anything twice except be audited twice. A
// streaming Query is retried only before its first answer message. Every
// attempt stays within the call's one deadline.
inline constexpr absl::string_view kFederationServiceConfig = R"json({
  "methodConfig": [{
    "name": [{"service": "fednode.federation.v1.FederationService"}],
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.2s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
})json";

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
  // Every member of `agreement` except this node, in agreement order, with
  // ags, name and endpoint from the agreement and the rest as Describe fills
  // it: what the last call recorded. Makes no call.
  std::vector<node::v1::PeerHealth> Recorded(const agreement::v1::Agreement& agreement);

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
    std::string own_pin;             // of the credentials the channel was made with
    uint64_t agreement_version = 0;  // in force when the channel was made
    std::shared_ptr<grpc::Channel> channel;
    std::shared_ptr<federation::v1::FederationService::Stub> stub;
  };
  const FederationHost* host_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fednode::server
