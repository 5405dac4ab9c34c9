#include "node/server/peer_channels.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"

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
  const agreement::v1::Member* member = nullptr;
  for (const auto& m : signed_agreement->agreement().members()) {
    if (m.ags() == ags) member = &m;
  }
  if (member == nullptr) {
    return absl::NotFoundError(absl::StrCat(ags, " is not a member of agreement ",
                                            signed_agreement->agreement().agreement_id(), " v",
                                            signed_agreement->agreement().version()));
  }
  absl::MutexLock lock(&mu_);
  Peer& peer = peers_[ags];
  if (peer.stub == nullptr || peer.endpoint != member->endpoint()) {
    grpc::ChannelArguments args;
    // Keepalive both sides accept: gRPC servers by default refuse pings
    // more often than every 5 minutes without calls; 60 s with calls only.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetMaxReceiveMessageSize(16 << 20);
    peer.endpoint = member->endpoint();
    peer.channel = grpc::CreateCustomChannel(
        member->endpoint(),
        identity::FederationChannelCredentials(*host_->stager(), host_->authenticator(), ags),
        args);
    peer.stub = federation::v1::FederationService::NewStub(peer.channel);
  }
  return peer.stub;
}

}  // namespace fednode::server
