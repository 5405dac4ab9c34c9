#include "node/server/peer_channels.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"

#include "federation/agreement/agreement.h"

namespace fednode::server {

absl::StatusOr<std::shared_ptr<federation::v1::FederationService::Stub>> PeerChannels::Stub(
    const std::string& ags) {
  auto signed_agreement = host_->agreement();
  if (signed_agreement == nullptr) return absl::FailedPreconditionError("no agreement installed");
  if (host_->stager() == nullptr || host_->stager()->current().cert_pem.empty()) {
    return absl::FailedPreconditionError("no TLS credentials loaded (federation block, files)");
  }
  if (ags == host_->own_ags()) {
    return absl::InvalidArgumentError(absl::StrCat(ags, " is this node"));
  }
  const agreement::v1::Member* member = agreement::FindMember(signed_agreement->agreement(), ags);
  if (member == nullptr) {
    return absl::NotFoundError(absl::StrCat(ags, " is not a member of agreement ",
                                            signed_agreement->agreement().agreement_id(), " v",
                                            signed_agreement->agreement().version()));
  }
  // A rotated own key gets new connections: an existing TLS connection
  // keeps presenting the certificate of its handshake.
  const std::string own_pin = host_->stager()->current().spki_sha256;
  absl::MutexLock lock(&mu_);
  Peer& peer = peers_[ags];
  // A new agreement version gets new connections too: the server's identity
  // is checked at the TLS handshake, against the pins of the version then in
  // force.
  const uint64_t version = signed_agreement->agreement().version();
  if (peer.stub == nullptr || peer.endpoint != member->endpoint() || peer.own_pin != own_pin ||
      peer.agreement_version != version) {
    peer.own_pin = own_pin;
    peer.agreement_version = version;
    grpc::ChannelArguments args;
    // Keepalive both sides accept: gRPC servers by default refuse pings
    // more often than every 5 minutes without calls; 60 s with calls only.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetMaxReceiveMessageSize(16 << 20);
    // Reconnecting to a peer that went away: exponential backoff with
    // gRPC's jitter (±20 %), from 0.5 s up to kMaxReconnectBackoff, one
    // channel per peer — a restarted peer sees one handshake per caller
    // within that bound, never a storm.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(kInitialReconnectBackoff)));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(kInitialReconnectBackoff)));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(kMaxReconnectBackoff)));
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    args.SetServiceConfigJSON(std::string(kFederationServiceConfig));
    peer.endpoint = member->endpoint();
    peer.channel = grpc::CreateCustomChannel(
        member->endpoint(),
        identity::FederationChannelCredentials(*host_->stager(), host_->authenticator(), ags),
        args);
    peer.stub = federation::v1::FederationService::NewStub(peer.channel);
  }
  return peer.stub;
}

void PeerChannels::Record(const std::string& ags, const grpc::Status& status,
                          uint64_t agreement_version, absl::Duration round_trip) {
  absl::MutexLock lock(&mu_);
  Health& h = health_[ags];
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      h.state = "ok";
      h.detail.clear();
      h.last_contact = absl::Now();
      h.agreement_version = agreement_version;
      h.round_trip = round_trip;
      return;
    case grpc::StatusCode::UNAVAILABLE:
      h.state = "unreachable";
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      h.state = "deadline";
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      h.state = "refused";
      break;
    default:
      h.state = "error";
  }
  h.detail = status.error_message();
}

void PeerChannels::Describe(node::v1::PeerHealth* health) {
  absl::MutexLock lock(&mu_);
  auto it = health_.find(health->ags());
  if (it == health_.end()) {
    health->set_state("unknown");
    return;
  }
  const Health& h = it->second;
  health->set_state(h.state);
  health->set_detail(h.detail);
  if (h.last_contact != absl::InfinitePast()) {
    health->set_last_contact(
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", h.last_contact, absl::UTCTimeZone()));
    health->set_agreement_version(h.agreement_version);
    health->set_round_trip_ms(absl::ToDoubleMilliseconds(h.round_trip));
  }
  absl::StatusOr<absl::Time> expiry = host_->authenticator()->PeerCertificateExpiry(health->ags());
  if (expiry.ok()) {
    health->set_certificate_not_after(
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *expiry, absl::UTCTimeZone()));
  }
}

std::vector<node::v1::PeerHealth> PeerChannels::Recorded(
    const agreement::v1::Agreement& agreement) {
  std::vector<node::v1::PeerHealth> out;
  for (const auto& m : agreement.members()) {
    if (m.ags() == host_->own_ags()) continue;
    node::v1::PeerHealth h;
    h.set_ags(m.ags());
    h.set_name(m.name());
    h.set_endpoint(m.endpoint());
    Describe(&h);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace fednode::server
