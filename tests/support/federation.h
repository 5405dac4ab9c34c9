// Test-only helpers for federation tests with real fednode processes: a PKI
// made at test time (nothing in the repository), signed agreement text, and
// a mutual-TLS client of a node's federation port.
//
// Not thread-safe; one owner thread per object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "certs/pki.h"
#include "proto/federation/v1/federation.grpc.pb.h"

namespace fednode::testing {

// Issues CA and node certificates for tests; failures are test failures
// (EXPECT) and yield an empty KeyAndCert.
struct TestPki {
  absl::Time now = absl::Now();

  // A root CA (issuer == nullptr) or an intermediate of `issuer`, valid from
  // now - 2 h for a year.
  certs::KeyAndCert Ca(const certs::KeyAndCert* issuer, const std::string& name) const;
  // A node certificate for `ags` (URI SAN urn:fednode:ags:<ags>, DNS
  // localhost, IP 127.0.0.1) valid in [not_before, not_after].
  certs::KeyAndCert Leaf(const certs::KeyAndCert& issuer, const std::string& ags,
                         absl::Time not_before, absl::Time not_after) const;
  // The same, valid from now - 1 h for 90 days.
  certs::KeyAndCert Leaf(const certs::KeyAndCert& issuer, const std::string& ags) const;
};

// The SPKI SHA-256 pin of `kc`'s certificate ("" and a test failure when it
// does not parse).
std::string Pin(const certs::KeyAndCert& kc);

// `s` as a quoted textproto string.
std::string Quote(const std::string& s);

// Appends a `signatures { ... }` block per signer to the agreement `text`
// (an AgreementFile textproto), each signed with the signer's key in `keys`
// (by AGS). Failures are test failures.
std::string SignAgreementText(const std::string& text, const std::vector<std::string>& signers,
                              const std::map<std::string, certs::KeyAndCert>& keys);

// A client of the federation port on 127.0.0.1:`port` presenting `identity`
// (with `chain_pem` appended; no client certificate when nullptr) and
// accepting any server certificate; when `server_pin` is given, the pin of
// the certificate the server presented is stored there. Every call gets its
// own channel (no sharing between stubs).
std::unique_ptr<federation::v1::FederationService::Stub> FederationClient(
    int port, const certs::KeyAndCert* identity, const std::string& chain_pem = "",
    std::shared_ptr<std::string> server_pin = nullptr);

// The channel FederationClient's stub uses, for calls the stub cannot make
// (raw bytes that are no valid request).
std::shared_ptr<grpc::Channel> FederationChannel(int port, const certs::KeyAndCert* identity,
                                                 const std::string& chain_pem = "",
                                                 std::shared_ptr<std::string> server_pin = nullptr);

}  // namespace fednode::testing
