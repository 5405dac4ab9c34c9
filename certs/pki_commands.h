// The `fedctl pki ...` operator commands as plain functions, so that
// node/cli/fedctl.cc only maps CLI11 options onto the argument structs and
// tests run them without a process. Each Run* function writes its normal
// output to `out`, one error line ("fedctl pki <cmd>: <reason>") to `err`,
// and returns the process exit code: 0 on success, 1 on any error.
//
// Directory layout that the commands write and read:
//   CA directory (init-ca, intermediate):
//     ca.key       PKCS#8 private key, mode 0600 (never printed)
//     ca.crt       the CA certificate
//     chain.crt    intermediate CAs only: ca.crt followed by the CA
//                  certificates above it, root excluded
//     revoked.pem  certificates revoked by this CA (revoke appends)
//     ca.crl       the CA's current CRL (revoke and crl rewrite it)
//   Node directory (issue):
//     node.key     PKCS#8 private key, mode 0600 (never printed)
//     node.crt     the node certificate
//     chain.crt    node.crt followed by the intermediate CAs above it, root
//                  excluded: what the node presents in TLS
//
// Existing key and certificate files are never overwritten unless `force`
// is set (the derived files revoked.pem and ca.crl are updated in place).
// Directories are created with mode 0700 when missing.
//
// Time: every command reads the current time from `clock` (nullptr means
// SystemClock::Get()). New certificates start one hour before "now" to
// tolerate clock skew between nodes.
//
// Not thread-safe with respect to the same directory; otherwise safe.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "node/base/clock.h"

namespace fednode::certs {

// fedctl pki init-ca --dir DIR --name NAME [--org ORG] [--days N] [--force]
// Creates a self-signed federation root CA in DIR (ca.key, ca.crt) and
// prints its subject, validity and SPKI SHA-256 pin.
struct PkiInitCaArgs {
  std::string dir;               // CA directory; created when missing
  std::string name;              // subject CN, 1..64 UTF-8 characters
  std::string organization;      // subject O; empty = none
  int days = 3650;               // validity in days, >= 1
  bool force = false;            // replace existing ca.key / ca.crt
  const Clock* clock = nullptr;  // nullptr = SystemClock::Get(); must outlive the call
};
int RunPkiInitCa(const PkiInitCaArgs& args, std::ostream& out, std::ostream& err);

// fedctl pki issue --ca-dir DIR --ags AGS --name NAME [--dns D]... [--ip I]...
//                  [--days N] --out-dir DIR [--force]
// Issues a node certificate (ECDSA P-256, URI SAN urn:fednode:ags:<AGS>,
// DNS/IP SANs; at least one --dns or --ip) with the CA in ca_dir and writes
// node.key (0600), node.crt, chain.crt to out_dir. Prints the AGS, validity
// and the SPKI SHA-256 pin for the agreement. The validity is cut to the
// CA's not_after (with a note on `err`).
struct PkiIssueArgs {
  std::string ca_dir;
  std::string ags;   // 5 or 8 digits
  std::string name;  // subject CN; empty = "fednode <AGS>"
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  int days = 365;                // validity in days, >= 1
  std::string out_dir;           // created when missing
  bool force = false;            // replace existing node.key / node.crt / chain.crt
  const Clock* clock = nullptr;  // nullptr = SystemClock::Get(); must outlive the call
};
int RunPkiIssue(const PkiIssueArgs& args, std::ostream& out, std::ostream& err);

// fedctl pki intermediate --ca-dir DIR --name NAME [--org ORG] [--days N]
//                         --out-dir DIR [--force]
// Issues an intermediate CA (pathlen 0) with the CA in ca_dir (a root CA)
// and writes ca.key (0600), ca.crt and chain.crt to out_dir, which can then
// be used as --ca-dir of issue, revoke and crl. Prints its pin.
struct PkiIntermediateArgs {
  std::string ca_dir;
  std::string name;
  std::string organization;
  int days = 1825;  // validity in days, >= 1; cut to the issuer's not_after
  std::string out_dir;
  bool force = false;
  const Clock* clock = nullptr;  // nullptr = SystemClock::Get(); must outlive the call
};
int RunPkiIntermediate(const PkiIntermediateArgs& args, std::ostream& out, std::ostream& err);

// fedctl pki revoke --ca-dir DIR [--crl-days N] CERT
// Adds the certificate in the file CERT (issued by the CA in ca_dir) to
// ca_dir/revoked.pem, unless already there, and rewrites ca_dir/ca.crl.
struct PkiRevokeArgs {
  std::string ca_dir;
  std::string cert_path;
  int crl_days = 30;             // validity of the new CRL in days, >= 1
  const Clock* clock = nullptr;  // nullptr = SystemClock::Get(); must outlive the call
};
int RunPkiRevoke(const PkiRevokeArgs& args, std::ostream& out, std::ostream& err);

// fedctl pki crl --ca-dir DIR [--days N]
// Rewrites ca_dir/ca.crl from ca_dir/revoked.pem (no file: an empty CRL).
// Run it before the previous CRL's next update.
struct PkiCrlArgs {
  std::string ca_dir;
  int days = 30;                 // validity of the CRL in days, >= 1
  const Clock* clock = nullptr;  // nullptr = SystemClock::Get(); must outlive the call
};
int RunPkiCrl(const PkiCrlArgs& args, std::ostream& out, std::ostream& err);

// fedctl pki pin CERT
// Prints the SPKI SHA-256 pin of the (first) certificate in the file, as 64
// lower-case hex digits and a newline, nothing else.
struct PkiPinArgs {
  std::string cert_path;
};
int RunPkiPin(const PkiPinArgs& args, std::ostream& out, std::ostream& err);

// fedctl pki show CERT
// Prints subject, issuer, serial, validity (RFC 3339, UTC), the AGS (or
// "-" when the certificate names none, e.g. a CA) and the pin, one
// "key: value" line each.
struct PkiShowArgs {
  std::string cert_path;
};
int RunPkiShow(const PkiShowArgs& args, std::ostream& out, std::ostream& err);

}  // namespace fednode::certs
