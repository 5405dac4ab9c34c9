// FederationServiceImpl: what the federation port does with each call. For
// each call: authenticate the caller from its TLS certificate
// (FederationHost), check the agreement is in force, decide with
// federation/policy BEFORE anything is looked up, run the query on the node,
// audit the outcome durably, then answer. Refusals carry the reason; every
// one is audited.
//
// The transport is FederationServer (federation_server.h), on gRPC's
// completion-queue API. The handlers here are split so that the server can
// run short calls on its completion-queue threads without waiting for an
// fsync: a handler returns an Outcome (the status plus the audit entry that
// must be durable before the answer leaves) and the server delivers it with
// DeliverAsync. Handlers that scan or stream (StreamQuery, GetCatalog,
// Aggregate) block and run on the server's worker threads.
//
// Safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "absl/functional/any_invocable.h"
#include "grpcpp/server_context.h"

#include "federation/aggregate/partial.h"
#include "node/server/call_stop.h"
#include "node/server/federation_host.h"
#include "node/server/node.h"
#include "node/server/node_metrics.h"
#include "node/server/row_stream.h"
#include "proto/audit/v1/audit.pb.h"
#include "proto/federation/v1/federation.grpc.pb.h"

namespace fednode::server {

// Largest dataset (catalog row_count) whose row queries the federation
// port answers on a completion-queue thread when the answer fits in one
// message (and whose partial aggregates it computes there); larger scans go
// to a worker thread. The executor's grouped SUM runs at 289 M rows/s from
// the segment cache (docs/BENCHMARKS.md), so 65,536 rows hold a
// completion-queue thread for well under a millisecond.
inline constexpr uint64_t kInlineScanRows = 65536;

class FederationServiceImpl {
 public:
  // `node`, `host` and `metrics` (optional: null records nothing) must
  // outlive the service.
  FederationServiceImpl(Node* node, FederationHost* host, NodeMetrics* metrics = nullptr)
      : node_(node), host_(host), metrics_(metrics) {}

  // A call as the handlers see it.
  struct CallIo {
    // The call's context: peer address, TLS auth context, deadline. Not
    // asked IsCancelled (the completion-queue API forbids it while the call
    // runs): `cancelled` is.
    grpc::ServerContext* context = nullptr;
    // True once the caller went away (cancelled, deadline, connection lost).
    // Thread-safe.
    std::function<bool()> cancelled;
  };

  // The authenticated caller and the agreement it was judged under.
  struct Caller {
    identity::Member member;
    std::shared_ptr<const agreement::v1::SignedAgreement> agreement;
    std::string request_id;
    std::string peer;
  };

  // How a call ends: the status to send, and the audit entry (decision and
  // reason set) that must be durable before the status or any answer
  // leaves; none when there is nothing (more) to audit.
  struct Outcome {
    grpc::Status status;
    std::optional<audit::v1::AuditEntry> audit;
  };

  // Authenticates the caller of `operation` (e.g. "federation.Query"),
  // admits it under its member's rate limit and checks the agreement is in
  // force; `*peer` becomes its AGS once known (for the metrics). On refusal
  // returns the Outcome to send (UNAUTHENTICATED, RESOURCE_EXHAUSTED,
  // FAILED_PRECONDITION); its audit entry is then already written (the
  // refusal of an unauthenticated caller is audited at most at
  // refusal_audit_rate_limit, FederationHost::Authenticate).
  std::variant<Outcome, Caller> Authenticate(const CallIo& io, const std::string& operation,
                                             std::string* peer);

  // Ping: the holder's AGS and agreement; audited ALLOW. Does not block.
  Outcome Ping(const Caller& c, federation::v1::PingResponse* response);

  // One page of the catalog changes the caller may know of (MayKnowOf);
  // audited ALLOW with the counts. Blocks on storage reads.
  Outcome GetCatalog(const Caller& c, const federation::v1::GetCatalogRequest& request,
                     federation::v1::GetCatalogResponse* response);

  // An Aggregate call that was allowed: the partial plan to run on the
  // member's dataset conforming to the request's conforms_to.
  struct PreparedAggregate {
    // The call's entry (caller, dataset, purpose), without decision.
    audit::v1::AuditEntry entry;
    std::string grant_id;
    uint32_t min_cell_count = 0;
    // The catalog's row count of the dataset.
    uint64_t dataset_rows = 0;
    uint64_t agreement_version = 0;
    aggregate::PartialPlan partial_plan;
    node::v1::QueryRequest run;
  };

  // Decides an Aggregate call: partial aggregates go to the county
  // (ROLE_COUNTY) only, unsuppressed (the county applies disclosure control
  // after the merge). Returns the Outcome when the call ends here:
  // PERMISSION_DENIED (not the county, no grant, grouping by a raw numeric
  // column), NOT_FOUND (no dataset conforming to request.conforms_to),
  // FAILED_PRECONDITION (more than one), INTERNAL/INVALID_ARGUMENT for a
  // plan that has no partial form. Reads the catalog; does not block on the
  // audit log.
  std::variant<Outcome, PreparedAggregate> PrepareAggregate(
      const Caller& c, const federation::v1::AggregateRequest& request);
  // Whether `a` runs on a completion-queue thread (at most kInlineScanRows
  // rows to scan).
  static bool RunsInline(const PreparedAggregate& a) { return a.dataset_rows <= kInlineScanRows; }
  // Runs `a`: sets *response to the partial aggregate and returns the
  // Outcome (ALLOW with the group count), or the ERROR Outcome of a failed
  // or stopped scan. Scans: on a worker unless RunsInline.
  Outcome RunAggregate(const PreparedAggregate& a, const CallIo& io,
                       federation::v1::AggregateResponse* response);

  // A Query call that was allowed: the plan to run and the audit entry it
  // is answered under.
  struct PreparedQuery {
    // The query's entry without decision (caller, dataset, purpose, ...).
    audit::v1::AuditEntry entry;
    // "grant <id>", the start of every audit reason.
    std::string grant;
    uint32_t min_cell_count = 0;
    // An aggregate (grouped) query: answered with primary suppression.
    bool aggregate = false;
    bool column_batches = false;
    // The catalog's row count of the dataset (how much a scan reads).
    uint64_t dataset_rows = 0;
    // The asked plan with the grant's row filters applied.
    node::v1::QueryRequest run;
    // The first message's holder, dataset, agreement and grant fields.
    federation::v1::QueryResponse head;
  };

  // Decides a Query call of caller `c` before anything is looked up and
  // prepares its plan. Returns the Outcome when the call ends here:
  // PERMISSION_DENIED (no grant, a private dataset, grouping by a raw
  // numeric column), NOT_FOUND (allowed, but no such dataset), INTERNAL (a
  // grant's row filter does not parse). Reads the catalog entry; does not
  // block on the audit log.
  std::variant<Outcome, PreparedQuery> PrepareQuery(const Caller& c,
                                                    const federation::v1::QueryRequest& request);

  // Whether `q` should be tried with AnswerInline: a row query over a
  // dataset of at most kInlineScanRows rows.
  static bool RunsInline(const PreparedQuery& q) {
    return !q.aggregate && q.dataset_rows <= kInlineScanRows;
  }

  // Runs the row query `q` holding its answer back. When the whole answer
  // fits in one message, sets *response to it and returns the Outcome (OK
  // with the ALLOW entry carrying the exact rows and cells). When it is
  // larger, returns nullopt: run it again with StreamQuery. A query error
  // returns its Outcome (the ERROR entry and status). Does not block on the
  // audit log or the caller.
  std::optional<Outcome> AnswerInline(const PreparedQuery& q, const CallIo& io,
                                      federation::v1::QueryResponse* response);

  // Runs `q` to its end and streams its answer with `write` (RowStream: the
  // audit entries "streaming" and "streamed N rows" before the first and the
  // last message of a large answer; an aggregate answer is suppressed and
  // audited with its exact counts before its first message). Returns the
  // final status; everything due is audited by then. Blocks.
  grpc::Status StreamQuery(const PreparedQuery& q, const CallIo& io,
                           const MessageWriter<federation::v1::QueryResponse>& write);

  // The Outcome of a call of `c` refused because `queued` calls wait for a
  // worker already (FederationServer's max_queued): RESOURCE_EXHAUSTED
  // "node busy: ...; retry later", audited DENY.
  Outcome Busy(const Caller& c, const std::string& operation, int queued);

  // The Outcome of a call of `c` whose request bytes do not parse as
  // `message` (e.g. "fednode.federation.v1.QueryRequest"; a string field that is not
  // UTF-8, a truncated field): INVALID_ARGUMENT naming the message, audited
  // DENY.
  Outcome Malformed(const Caller& c, const std::string& operation, absl::string_view message);

  // Audits o.audit and returns the status to send: o.status, or the audit
  // log's error (then no answer may leave). Blocks until the entry is
  // durable.
  grpc::Status Deliver(Outcome o);
  // Deliver without blocking: `done` receives the status to send once the
  // entry is durable (on the audit log's writer thread; at once when there
  // is no entry). `done` must not block.
  void DeliverAsync(Outcome o, absl::AnyInvocable<void(grpc::Status) &&> done);

  // Records a finished call (caller AGS or "unauthenticated", method, code,
  // time from its arrival to its status) in the metrics.
  void Record(const std::string& peer, FederationMethod method, const grpc::Status& status,
              absl::Duration latency);

  const std::string& own_ags() const { return host_->own_ags(); }

 private:
  // A call of `c` refused before its operation ran: status `code` with
  // `reason` as message, audited DENY with that reason.
  Outcome Denied(const Caller& c, const std::string& operation, grpc::StatusCode code,
                 std::string reason);
  // The Outcome of `e` with decision and reason set.
  static Outcome Concluded(audit::v1::AuditEntry e, audit::v1::Decision decision,
                           std::string reason, grpc::Status status);
  // The Outcome of a row query that failed with `ran` after `sent` rows
  // left (stopped by `stop`, or a query error).
  Outcome RowsFailed(const PreparedQuery& q, const CallStop& stop, const absl::Status& ran,
                     uint64_t sent);
  // The Outcome of a row query whose `rows` rows of `columns` columns were
  // all handed to the stream; `streaming`: more than one message.
  Outcome RowsDone(const PreparedQuery& q, const CallStop& stop, uint64_t rows, int columns,
                   bool streaming);
  // Row queries (StreamQuery, not aggregate).
  grpc::Status StreamRows(const PreparedQuery& q, const CallIo& io,
                          const MessageWriter<federation::v1::QueryResponse>& write);
  // Aggregate queries (StreamQuery, aggregate).
  grpc::Status StreamAggregate(const PreparedQuery& q, const CallIo& io,
                               const MessageWriter<federation::v1::QueryResponse>& write);
  // Audits (ERROR, "stream stopped by the caller after <sent> rows") that the
  // caller of the query audited under `query_entry` went away after `sent`
  // rows; returns CANCELLED, or the audit log's error.
  grpc::Status StreamStopped(const audit::v1::AuditEntry& query_entry, uint64_t sent);

  Node* node_;
  FederationHost* host_;
  NodeMetrics* metrics_;
};

}  // namespace fednode::server
