#include "node/server/admin_service.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/support/async_unary_call.h"

#include "certs/pki.h"
#include "federation/aggregate/coverage.h"
#include "federation/aggregate/disclosure.h"
#include "federation/aggregate/merge.h"
#include "federation/aggregate/partial.h"
#include "federation/aggregate/table_format.h"
#include "federation/agreement/agreement.h"
#include "federation/policy/policy.h"
#include "node/base/arena_reader.h"
#include "node/base/grpc_status.h"
#include "node/base/log.h"
#include "node/catalog/catalog.h"
#include "node/query/batch.h"
#include "node/query/sql.h"
#include "node/server/audit_retention.h"
#include "node/server/backup.h"
#include "node/server/call_stop.h"
#include "node/server/row_stream.h"

namespace fednode::server {
namespace {

std::string NextRequestId() {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat("admin-", counter.fetch_add(1) + 1);
}

// A peer's failure as the operator should read it: a peer that cannot be
// reached is FailedPrecondition here, so that fedctl does not take it for
// its own node being down.
absl::Status PeerStatus(const grpc::Status& s, const std::string& ags) {
  absl::Status st = FromGrpcStatus(s, absl::StrCat("member ", ags));
  if (absl::IsUnavailable(st)) {
    return absl::FailedPreconditionError(
        absl::StrCat("member ", ags, " unreachable: ", s.error_message()));
  }
  return st;
}

// What `access` (the highest a grant gives) means in the federation catalog.
std::string AccessWord(agreement::v1::Access access) {
  switch (access) {
    case agreement::v1::ACCESS_ROWS:
      return "rows";
    case agreement::v1::ACCESS_AGGREGATE:
      return "aggregate";
    case agreement::v1::ACCESS_CATALOG:
      return "catalog";
    default:
      return "none";
  }
}

node::v1::FederationCatalogRow RowOf(const catalog::v1::CatalogEntry& e) {
  node::v1::FederationCatalogRow row;
  row.set_holder_ags(e.ags());
  row.set_holder_name(e.member_name());
  row.set_dataset_id(e.dataset_id());
  row.set_title(e.metadata().title());
  row.set_access_class(e.metadata().access_class());
  row.set_conforms_to(e.schema().conforms_to());
  row.set_rows(e.row_count());
  return row;
}

}  // namespace

grpc::Status AdminServiceImpl::Audited(const absl::Status& status, const std::string& operation,
                                       const std::string& dataset_id, uint64_t rows,
                                       const std::string& reason) {
  const std::string request_id = NextRequestId();
  if (ctx_.audit != nullptr) {
    audit::v1::AuditEntry e;
    e.set_caller("admin");
    e.set_peer_address("unix:admin-socket");
    e.set_operation(operation);
    e.set_dataset_id(dataset_id);
    e.set_decision(status.ok() ? audit::v1::DECISION_ALLOW : audit::v1::DECISION_ERROR);
    if (!status.ok()) {
      e.set_reason(absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                                status.message().substr(0, 500)));
    } else {
      e.set_reason(reason);
    }
    e.set_rows_returned(rows);
    e.set_request_id(request_id);
    if (ctx_.federation != nullptr) {
      auto a = ctx_.federation->agreement();
      if (a != nullptr) e.set_agreement_version(a->agreement().version());
    }
    absl::StatusOr<uint64_t> seq = ctx_.audit->Append(std::move(e));
    if (!seq.ok()) {
      FEDNODE_LOG(ERROR) << "audit log: " << seq.status();
      // A full disk stays RESOURCE_EXHAUSTED: UNAVAILABLE would read as "the
      // node cannot be reached" to fedctl.
      const std::string message =
          absl::StrCat("the audit log cannot record this action: ", seq.status().message());
      return ToGrpcStatus(absl::IsResourceExhausted(seq.status())
                              ? absl::ResourceExhaustedError(message)
                              : absl::UnavailableError(message),
                          request_id);
    }
  }
  if (!status.ok()) {
    FEDNODE_LOG(INFO) << operation << ": " << absl::StatusCodeToString(status.code());
  }
  return ToGrpcStatus(status, request_id);
}

grpc::Status AdminServiceImpl::Import(grpc::ServerContext* /*context*/,
                                      grpc::ServerReader<node::v1::ImportRequest>* reader,
                                      node::v1::ImportResponse* response) {
  node::v1::ImportRequest request;
  if (!reader->Read(&request) || !request.has_header()) {
    return Audited(absl::InvalidArgumentError("import: the first message must carry the header"),
                   "admin.Import", "");
  }
  node::v1::ImportHeader header = request.header();
  std::string source = std::move(*request.mutable_chunk());
  while (reader->Read(&request)) {
    if (source.size() + request.chunk().size() > kMaxImportBytes) {
      return Audited(absl::ResourceExhaustedError(absl::StrCat("import: source is larger than ",
                                                               kMaxImportBytes >> 20, " MiB")),
                     "admin.Import", header.dataset_id());
    }
    source.append(request.chunk());
  }
  absl::StatusOr<node::v1::ImportResponse> result = node_->Import(header, source);
  uint64_t rows = 0;
  if (result.ok()) {
    for (const auto& d : result->datasets()) rows += d.rows_imported();
    *response = std::move(*result);
  }
  if (ctx_.metrics != nullptr) ctx_.metrics->RecordImport(rows, !result.ok());
  return Audited(result.status(), "admin.Import", header.dataset_id(), rows);
}

grpc::Status AdminServiceImpl::ListCatalog(grpc::ServerContext* /*context*/,
                                           const node::v1::ListCatalogRequest* request,
                                           node::v1::ListCatalogResponse* response) {
  auto entries = node_->ListCatalog(request->search());
  if (entries.ok()) {
    for (auto& e : *entries) *response->add_entries() = std::move(e);
  }
  return Audited(entries.status(), "admin.ListCatalog", "", response->entries_size());
}

grpc::Status AdminServiceImpl::GetCatalogEntry(grpc::ServerContext* /*context*/,
                                               const node::v1::GetCatalogEntryRequest* request,
                                               catalog::v1::CatalogEntry* response) {
  auto entry = node_->GetCatalogEntry(request->dataset_id());
  if (entry.ok()) *response = std::move(*entry);
  return Audited(entry.status(), "admin.GetCatalogEntry", request->dataset_id());
}

grpc::Status AdminServiceImpl::SetMetadata(grpc::ServerContext* /*context*/,
                                           const node::v1::SetMetadataRequest* request,
                                           catalog::v1::CatalogEntry* response) {
  auto entry = node_->SetMetadata(request->dataset_id(), request->metadata());
  if (entry.ok()) *response = std::move(*entry);
  return Audited(entry.status(), "admin.SetMetadata", request->dataset_id());
}

grpc::Status AdminServiceImpl::ExportCatalog(grpc::ServerContext* /*context*/,
                                             const node::v1::ExportCatalogRequest* request,
                                             node::v1::ExportCatalogResponse* response) {
  auto exported = node_->ExportCatalog(request->format());
  if (exported.ok()) *response = std::move(*exported);
  return Audited(exported.status(), "admin.ExportCatalog", "", response->entries_exported());
}

grpc::Status AdminServiceImpl::Query(grpc::ServerContext* context,
                                     const node::v1::QueryRequest* request,
                                     grpc::ServerWriter<node::v1::QueryResponse>* writer) {
  std::string dataset = request->has_plan() ? request->plan().dataset_id() : "";
  if (dataset.empty() && !request->sql().empty()) {
    // The audit entry names the dataset of a SQL query too.
    absl::StatusOr<query::v1::QueryPlan> parsed = query::ParseSql(request->sql());
    if (parsed.ok()) dataset = parsed->dataset_id();
  }
  // The rows stream as the scan finds them (RowStream). A result that fits
  // in one message is audited with its row count before it is sent; a
  // larger one gets an entry "streaming" before its first message and one
  // with the row count before its last.
  RowStream<node::v1::QueryResponse> stream(SyncWriter(context, writer), {}, [&] {
    return Audited(absl::OkStatus(), "admin.Query", dataset, 0, "streaming");
  });
  // The scan stops when the caller cancels or its deadline passes.
  CallStop stop(context);
  absl::Status ran = node_->QueryStreaming(*request, stop.Options(), &stream);
  if (stream.audit_error().has_value()) return *stream.audit_error();
  if (stream.caller_gone()) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  if (!ran.ok()) return Audited(ran, "admin.Query", dataset);
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->RecordQueryRows(QueryApi::kAdmin, stop.rows_scanned(), stream.rows());
  }
  grpc::Status audited =
      Audited(absl::OkStatus(), "admin.Query", dataset, stream.rows(),
              stream.streaming() ? absl::StrCat("streamed ", stream.rows(), " rows") : "");
  if (!audited.ok()) return audited;
  if (!stream.Finish()) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DeleteDataset(grpc::ServerContext* /*context*/,
                                             const node::v1::DeleteDatasetRequest* request,
                                             node::v1::DeleteDatasetResponse* /*response*/) {
  return Audited(node_->DeleteDataset(request->dataset_id()), "admin.DeleteDataset",
                 request->dataset_id());
}

grpc::Status AdminServiceImpl::GetStatus(grpc::ServerContext* /*context*/,
                                         const node::v1::GetStatusRequest* /*request*/,
                                         node::v1::GetStatusResponse* response) {
  // Status polls (health checks, scripts) are frequent and read nothing
  // sensitive: not audited.
  auto status = node_->Status();
  if (!status.ok()) return ToGrpcStatus(status.status(), NextRequestId());
  *response = std::move(*status);
  return grpc::Status::OK;
}

void AdminServiceImpl::DescribeAgreement(node::v1::AgreementStatus* s) {
  if (ctx_.federation == nullptr) return;
  auto signed_agreement = ctx_.federation->agreement();
  if (signed_agreement != nullptr) {
    const auto& a = signed_agreement->agreement();
    s->set_installed(true);
    s->set_agreement_id(a.agreement_id());
    s->set_version(a.version());
    s->set_fingerprint(agreement::Fingerprint(a));
    s->set_valid_from(a.valid_from());
    s->set_valid_until(a.valid_until());
    s->set_members(static_cast<uint32_t>(a.members_size()));
    s->set_grants(static_cast<uint32_t>(a.grants_size()));
    std::vector<std::string> certs_pem;
    if (ctx_.federation->stager() != nullptr) {
      identity::OwnCredentials own = ctx_.federation->stager()->current();
      if (!own.cert_pem.empty()) {
        s->set_own_spki_sha256(own.spki_sha256);
        s->set_own_certificate_not_after(agreement::FormatRfc3339(own.not_after));
        certs_pem.push_back(own.cert_pem);
      }
    }
    for (const auto& w : agreement::ExpiryWarnings(a, certs_pem, ctx_.federation->clock()->Now())) {
      s->add_warnings(w.message);
    }
  }
  if (ctx_.federation_address) s->set_federation_address(ctx_.federation_address());
}

grpc::Status AdminServiceImpl::InstallAgreement(grpc::ServerContext* /*context*/,
                                                const node::v1::InstallAgreementRequest* request,
                                                node::v1::AgreementStatus* response) {
  if (ctx_.federation == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"),
                   "admin.InstallAgreement", "");
  }
  absl::Status s = ctx_.federation->Install(request->text(), request->fingerprint());
  if (s.ok() && ctx_.start_federation) s = ctx_.start_federation().status();
  DescribeAgreement(response);
  return Audited(s, "admin.InstallAgreement", "");
}

grpc::Status AdminServiceImpl::UpdateAgreement(grpc::ServerContext* /*context*/,
                                               const node::v1::UpdateAgreementRequest* request,
                                               node::v1::AgreementStatus* response) {
  if (ctx_.federation == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"),
                   "admin.UpdateAgreement", "");
  }
  absl::Status s = ctx_.federation->Update(request->text());
  if (s.ok() && ctx_.start_federation) s = ctx_.start_federation().status();
  DescribeAgreement(response);
  return Audited(s, "admin.UpdateAgreement", "");
}

grpc::Status AdminServiceImpl::GetAgreement(grpc::ServerContext* /*context*/,
                                            const node::v1::GetAgreementRequest* /*request*/,
                                            node::v1::AgreementStatus* response) {
  DescribeAgreement(response);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ReadAudit(grpc::ServerContext* /*context*/,
                                         const node::v1::AuditReadRequest* request,
                                         node::v1::AuditReadResponse* response) {
  if (ctx_.audit == nullptr) {
    return ToGrpcStatus(absl::FailedPreconditionError("no audit log"), NextRequestId());
  }
  size_t limit = request->limit() == 0 ? 100 : std::min<size_t>(request->limit(), 10000);
  auto entries = request->tail()
                     ? ctx_.audit->Tail(limit)
                     : ctx_.audit->Read(std::max<uint64_t>(request->from_seq(), 1), limit);
  if (!entries.ok()) return ToGrpcStatus(entries.status(), NextRequestId());
  for (auto& e : *entries) *response->add_entries() = std::move(e);
  response->set_last_seq(ctx_.audit->last_seq());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::VerifyAudit(grpc::ServerContext* /*context*/,
                                           const node::v1::AuditVerifyRequest* /*request*/,
                                           node::v1::AuditVerifyResponse* response) {
  if (ctx_.audit == nullptr) {
    return ToGrpcStatus(absl::FailedPreconditionError("no audit log"), NextRequestId());
  }
  uint64_t checked = 0;
  absl::Status s = ctx_.audit->Verify(&checked);
  response->set_ok(s.ok());
  response->set_entries_checked(checked);
  if (!s.ok()) response->set_problem(std::string(s.message()));
  absl::StatusOr<audit::v1::ChainAnchor> anchor = ctx_.audit->Anchor();
  if (anchor.ok()) response->set_archived_through(anchor->seq());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ArchiveAudit(grpc::ServerContext* /*context*/,
                                            const node::v1::AuditArchiveRequest* request,
                                            node::v1::AuditArchiveResponse* response) {
  const std::string op = "admin.ArchiveAudit";
  if (ctx_.audit == nullptr) return Audited(absl::FailedPreconditionError("no audit log"), op, "");
  if (request->before_unix_micros() <= 0) {
    return Audited(absl::InvalidArgumentError("before: required (--before or --older-than-days)"),
                   op, "");
  }
  const std::string request_id = NextRequestId();
  audit::v1::AuditEntry record;
  record.set_caller("admin");
  record.set_peer_address("unix:admin-socket");
  record.set_operation(op);
  record.set_request_id(request_id);
  absl::StatusOr<audit::ArchiveResult> r = ArchiveAuditEntries(
      ctx_.audit, node_->config(), absl::FromUnixMicros(request->before_unix_micros()),
      request->path(), std::move(record));
  if (!r.ok()) return Audited(r.status(), op, "");
  response->set_count(r->count);
  response->set_first_seq(r->first_seq);
  response->set_last_seq(r->last_seq);
  response->set_last_hash(r->last_hash);
  response->set_path(r->path);
  response->set_sha256(r->file_sha256);
  response->set_record_seq(r->record_seq);
  response->set_more(r->more);
  // A cut is audited by its own entry, written with it; nothing old enough
  // is audited here.
  if (r->count > 0) return grpc::Status::OK;
  return Audited(absl::OkStatus(), op, "");
}

grpc::Status AdminServiceImpl::ReloadCredentials(
    grpc::ServerContext* /*context*/, const node::v1::ReloadCredentialsRequest* /*request*/,
    node::v1::ReloadCredentialsResponse* response) {
  if (ctx_.federation == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"),
                   "admin.ReloadCredentials", "");
  }
  absl::Status s = ctx_.federation->ReloadCredentials();
  if (s.ok() && ctx_.federation->stager() != nullptr) {
    identity::OwnCredentials own = ctx_.federation->stager()->current();
    response->set_spki_sha256(own.spki_sha256);
    response->set_not_after(agreement::FormatRfc3339(own.not_after));
  }
  return Audited(s, "admin.ReloadCredentials", "");
}

grpc::Status AdminServiceImpl::QueryPeer(grpc::ServerContext* context,
                                         const node::v1::QueryPeerRequest* request,
                                         grpc::ServerWriter<node::v1::QueryPeerResponse>* writer) {
  const std::string op = absl::StrCat("admin.QueryPeer ", request->peer_ags());
  if (ctx_.peers == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"), op, "");
  }
  absl::StatusOr<query::v1::QueryPlan> plan = query::ParseSql(request->sql());
  if (!plan.ok()) return Audited(plan.status(), op, "");
  auto stub = ctx_.peers->Stub(request->peer_ags());
  if (!stub.ok()) return Audited(stub.status(), op, plan->dataset_id());
  grpc::ClientContext call;
  // The peer gets the request's timeout, but never more time than our own
  // caller gives us: its deadline reaches the peer, which stops its scan.
  call.set_deadline(std::min(
      context->deadline(),
      std::chrono::system_clock::now() +
          std::chrono::seconds(
              request->timeout_seconds() == 0 ? 30 : std::min(request->timeout_seconds(), 3600u))));
  federation::v1::QueryRequest peer_request;
  *peer_request.mutable_plan() = *plan;
  peer_request.set_purpose(request->purpose());
  peer_request.set_column_batches(true);
  auto reader = (*stub)->Query(&call, peer_request);
  // Each message is parsed into an arena that keeps its block: a batch's
  // strings cost no malloc and free each.
  ArenaReader<federation::v1::QueryResponse> messages;
  uint64_t rows = 0;
  bool first = true;
  query::ResultColumns columns;
  absl::Status malformed;
  while (messages.Read(reader.get())) {
    federation::v1::QueryResponse& in = messages.message();
    if (context->IsCancelled()) {
      call.TryCancel();
      break;
    }
    node::v1::QueryPeerResponse out;
    if (first) {
      columns = in.columns();
      *out.mutable_columns() = in.columns();
      out.set_holder_ags(in.holder_ags());
      out.set_dataset_id(in.dataset_id());
      out.set_dataset_version(in.dataset_version());
      out.set_agreement_version(in.agreement_version());
      out.set_grant_id(in.grant_id());
      first = false;
    }
    *out.mutable_rows() = std::move(*in.mutable_rows());
    if (in.has_batch()) {
      // The fedctl side prints rows; the peer's batch is checked first.
      malformed = query::AppendBatchRows(columns, in.batch(), out.mutable_rows());
      if (!malformed.ok()) {
        call.TryCancel();
        break;
      }
    }
    rows += static_cast<uint64_t>(out.rows_size());
    if (!writer->Write(out)) call.TryCancel();
  }
  grpc::Status s = reader->Finish();
  if (!malformed.ok()) {
    return Audited(
        absl::DataLossError(absl::StrCat("member ", request->peer_ags(),
                                         " sent a malformed answer: ", malformed.message())),
        op, plan->dataset_id(), rows);
  }
  return Audited(PeerStatus(s, request->peer_ags()), op, plan->dataset_id(), rows);
}

grpc::Status AdminServiceImpl::PingPeer(grpc::ServerContext* /*context*/,
                                        const node::v1::PingPeerRequest* request,
                                        node::v1::PingPeerResponse* response) {
  const std::string op = absl::StrCat("admin.PingPeer ", request->peer_ags());
  if (ctx_.peers == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"), op, "");
  }
  auto stub = ctx_.peers->Stub(request->peer_ags());
  if (!stub.ok()) return Audited(stub.status(), op, "");
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  federation::v1::PingResponse pong;
  absl::Time start = absl::Now();
  grpc::Status s = (*stub)->Ping(&call, federation::v1::PingRequest(), &pong);
  if (s.ok()) {
    response->set_peer_ags(pong.ags());
    response->set_peer_agreement_version(pong.agreement_version());
    response->set_seen_as(pong.caller_ags());
    response->set_round_trip_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  ctx_.peers->Record(request->peer_ags(), s, pong.agreement_version(), absl::Now() - start);
  return Audited(PeerStatus(s, request->peer_ags()), op, "");
}

grpc::Status AdminServiceImpl::AggregateFederation(
    grpc::ServerContext* context, const node::v1::AggregateFederationRequest* request,
    node::v1::AggregateFederationResponse* response) {
  const std::string op = "admin.AggregateFederation";
  if (ctx_.peers == nullptr || ctx_.federation == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"), op, "");
  }
  auto signed_agreement = ctx_.federation->agreement();
  if (signed_agreement == nullptr) {
    return Audited(absl::FailedPreconditionError("no agreement installed"), op, "");
  }
  const agreement::v1::Agreement& a = signed_agreement->agreement();
  const agreement::v1::Member* self = agreement::FindMember(a, ctx_.federation->own_ags());
  if (self == nullptr || self->role() != agreement::v1::ROLE_COUNTY) {
    return Audited(absl::FailedPreconditionError(absl::StrCat(
                       "regional statistics are computed on the county's node (ROLE_COUNTY in "
                       "agreement ",
                       a.agreement_id(), " v", a.version(), "); this node is member ",
                       ctx_.federation->own_ags(), ": ask a neighbour with fedctl query --peer")),
                   op, "");
  }
  if (request->conforms_to().empty()) {
    return Audited(absl::InvalidArgumentError("conforms_to: required (the schema id of the "
                                              "members' datasets)"),
                   op, "");
  }
  absl::StatusOr<query::v1::QueryPlan> plan = query::ParseSql(request->sql());
  if (!plan.ok()) return Audited(plan.status(), op, "");
  absl::StatusOr<aggregate::PartialPlan> partial_plan = aggregate::ToPartialPlan(*plan);
  if (!partial_plan.ok()) return Audited(partial_plan.status(), op, request->conforms_to());

  // Fan out: one thread per member, all under one deadline, never later
  // than our own caller's.
  const auto deadline = std::min(
      context->deadline(),
      std::chrono::system_clock::now() +
          std::chrono::seconds(request->timeout_seconds() == 0
                                   ? 30
                                   : std::min<uint32_t>(request->timeout_seconds(), 3600)));
  std::vector<aggregate::ExpectedMember> expected;
  for (const auto& m : a.members()) {
    if (m.ags() == ctx_.federation->own_ags()) continue;
    expected.push_back({m.ags(), m.name(), m.population()});
  }
  absl::flat_hash_set<std::string> asked(request->members().begin(), request->members().end());
  for (const std::string& ags : asked) {
    if (ags.empty()) {
      return Audited(absl::InvalidArgumentError("members: an empty AGS in the list"), op,
                     request->conforms_to());
    }
    bool known = false;
    for (const auto& m : expected) known = known || m.ags == ags;
    if (!known) {
      return Audited(absl::InvalidArgumentError(
                         absl::StrCat("members: ", ags, " is not a member of agreement ",
                                      a.agreement_id(), " v", a.version(), " (or is this node)")),
                     op, request->conforms_to());
    }
  }
  std::vector<aggregate::MemberOutcome> outcomes(expected.size());
  std::vector<std::optional<aggregate::v1::PartialAggregate>> partials(expected.size());
  std::vector<uint32_t> required_min(expected.size(), 0);
  // All calls are started at once on one completion queue and collected by
  // this thread: no thread per member (creating 18 threads per statistic
  // cost more CPU than the calls on a small machine).
  struct Call {
    grpc::ClientContext context;
    federation::v1::AggregateResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<federation::v1::AggregateResponse>> rpc;
    absl::Time started;
  };
  federation::v1::AggregateRequest member_request;
  *member_request.mutable_plan() = *plan;
  member_request.set_conforms_to(request->conforms_to());
  member_request.set_purpose(request->purpose());
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Call>> calls(expected.size());
  size_t pending = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    outcomes[i].ags = expected[i].ags;
    if (!asked.empty() && !asked.contains(expected[i].ags)) {
      outcomes[i].outcome = aggregate::Outcome::kNotAsked;
      continue;
    }
    auto stub = ctx_.peers->Stub(expected[i].ags);
    if (!stub.ok()) {
      outcomes[i].outcome = aggregate::Outcome::kUnreachable;
      outcomes[i].reason = std::string(stub.status().message());
      continue;
    }
    calls[i] = std::make_unique<Call>();
    Call& c = *calls[i];
    c.context.set_deadline(deadline);
    c.started = absl::Now();
    c.rpc = (*stub)->AsyncAggregate(&c.context, member_request, &cq);
    c.rpc->Finish(&c.response, &c.status, reinterpret_cast<void*>(i));
    ++pending;
  }
  // Every call has the deadline, so each completes (at the latest with
  // DEADLINE_EXCEEDED) and this loop ends.
  while (pending > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    --pending;
    const size_t i = reinterpret_cast<size_t>(tag);
    const grpc::Status& st = calls[i]->status;
    const federation::v1::AggregateResponse& resp = calls[i]->response;
    ctx_.peers->Record(expected[i].ags, st, resp.partial().origin().agreement_version(),
                       absl::Now() - calls[i]->started);
    switch (st.error_code()) {
      case grpc::StatusCode::OK: {
        absl::Status valid = aggregate::ValidatePartial(*partial_plan, resp.partial());
        if (!valid.ok() || resp.partial().origin().member_ags() != expected[i].ags) {
          outcomes[i].outcome = aggregate::Outcome::kSchemaMismatch;
          outcomes[i].reason =
              valid.ok() ? "answer names another member" : std::string(valid.message());
        } else {
          outcomes[i].outcome = aggregate::Outcome::kAnswered;
          partials[i] = resp.partial();
          required_min[i] = resp.min_cell_count();
        }
        break;
      }
      case grpc::StatusCode::UNAVAILABLE:
        outcomes[i].outcome = aggregate::Outcome::kUnreachable;
        outcomes[i].reason = st.error_message();
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        outcomes[i].outcome = aggregate::Outcome::kDeadlineExceeded;
        outcomes[i].reason = "no answer within the deadline";
        break;
      case grpc::StatusCode::NOT_FOUND:
        // After its grant check, the member holds no dataset of the
        // schema: covered, nothing to contribute.
        outcomes[i].outcome = aggregate::Outcome::kHoldsNone;
        outcomes[i].reason = st.error_message();
        break;
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::FAILED_PRECONDITION:
        outcomes[i].outcome = aggregate::Outcome::kSchemaMismatch;
        outcomes[i].reason = st.error_message();
        break;
      default:
        outcomes[i].outcome = aggregate::Outcome::kRefused;
        outcomes[i].reason = st.error_message();
    }
  }
  cq.Shutdown();
  {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
  }

  aggregate::MergeOptions merge_options;
  merge_options.group_by_member = request->group_by_member();
  std::vector<std::string> mismatch;
  size_t merged_partials = 0;
  absl::StatusOr<aggregate::MergedTable> merged =
      aggregate::MergeFitting(*partial_plan, merge_options, partials, &mismatch, &merged_partials);
  for (size_t i = 0; i < mismatch.size(); ++i) {
    if (mismatch[i].empty()) continue;
    outcomes[i].outcome = aggregate::Outcome::kSchemaMismatch;
    outcomes[i].reason = mismatch[i];
  }
  absl::StatusOr<aggregate::Coverage> coverage = aggregate::ComputeCoverage(expected, outcomes);
  if (!coverage.ok()) return Audited(coverage.status(), op, request->conforms_to());
  if (merged_partials == 0) {
    // Nothing to show: an empty table with suppression marks would suggest
    // that there are confidential figures.
    return Audited(absl::FailedPreconditionError(absl::StrCat("no member contributed data: ",
                                                              aggregate::CoverageLine(*coverage))),
                   op, request->conforms_to());
  }
  if (!merged.ok()) return Audited(merged.status(), op, request->conforms_to());
  // The strictest threshold any merged member's grant requires, or the
  // caller's stricter one (some member was merged: see above).
  uint32_t min_cell_count = request->min_cell_count();
  for (size_t i = 0; i < expected.size(); ++i) {
    if (outcomes[i].outcome != aggregate::Outcome::kAnswered) continue;
    min_cell_count = std::max(min_cell_count, required_min[i]);
  }
  aggregate::DisclosureOptions disclosure;
  disclosure.min_cell_count = min_cell_count;
  disclosure.unit = request->threshold_in_members() ? aggregate::ThresholdUnit::kMembers
                                                    : aggregate::ThresholdUnit::kRows;
  absl::Status applied = aggregate::ApplyDisclosureControl(disclosure, &*merged);
  if (!applied.ok()) return Audited(applied, op, request->conforms_to());
  absl::StatusOr<query::v1::ResultSet> rs = aggregate::ToResultSet(*merged);
  if (!rs.ok()) return Audited(rs.status(), op, request->conforms_to());
  response->set_table_text(aggregate::FormatTable(*merged, *coverage));
  *response->mutable_result() = *std::move(rs);
  response->set_partial(coverage->partial);
  response->set_coverage_line(aggregate::CoverageLine(*coverage));
  response->set_disclosure_rule(merged->disclosure_rule);
  if (!request->store_dataset_id().empty()) {
    catalog::v1::DatasetMetadata md = request->metadata();
    md.set_description(absl::StrCat(md.description(), " — ", response->coverage_line(),
                                    ". Geheimhaltung: ", merged->disclosure_rule, "."));
    absl::StatusOr<node::v1::ImportedDataset> stored =
        node_->StoreResult(request->store_dataset_id(), response->result(), md,
                           absl::StrCat("urn:fednode:statistic:", request->store_dataset_id()));
    if (!stored.ok()) return Audited(stored.status(), op, request->store_dataset_id());
    *response->mutable_stored() = *std::move(stored);
  }
  // What the status page shows as the latest regional statistic: exactly
  // this answer. Losing it is no reason to withhold the statistic.
  node::v1::LatestStatistic latest;
  latest.set_conforms_to(request->conforms_to());
  latest.set_sql(request->sql());
  latest.set_purpose(request->purpose());
  latest.set_group_by_member(request->group_by_member());
  latest.set_computed_at(agreement::FormatRfc3339(ctx_.federation->clock()->Now()));
  *latest.mutable_response() = *response;
  absl::Status kept = node_->KeepLatestStatistic(latest);
  if (!kept.ok()) FEDNODE_LOG(WARNING) << "latest statistic not kept: " << kept;
  return Audited(absl::OkStatus(), op, request->conforms_to(), response->result().rows_size());
}

grpc::Status AdminServiceImpl::ListPeers(grpc::ServerContext* /*context*/,
                                         const node::v1::ListPeersRequest* /*request*/,
                                         node::v1::ListPeersResponse* response) {
  if (ctx_.peers == nullptr || ctx_.federation == nullptr ||
      ctx_.federation->agreement() == nullptr) {
    return Audited(absl::FailedPreconditionError("no agreement installed"), "admin.ListPeers", "");
  }
  const agreement::v1::Agreement& a = ctx_.federation->agreement()->agreement();
  std::vector<node::v1::PeerHealth> health = ctx_.peers->Recorded(a);
  std::vector<std::thread> calls;
  for (auto& h : health) {
    calls.emplace_back([&] {
      absl::StatusOr<std::shared_ptr<federation::v1::FederationService::Stub>> stub =
          ctx_.peers->Stub(h.ags());
      absl::Time start = absl::Now();
      grpc::Status s;
      federation::v1::PingResponse pong;
      if (stub.ok()) {
        grpc::ClientContext call;
        call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        s = (*stub)->Ping(&call, federation::v1::PingRequest(), &pong);
      } else {
        s = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                         std::string(stub.status().message()));
      }
      ctx_.peers->Record(h.ags(), s, pong.agreement_version(), absl::Now() - start);
    });
  }
  for (auto& t : calls) t.join();
  for (auto& h : health) {
    ctx_.peers->Describe(&h);
    *response->add_peers() = std::move(h);
  }
  return Audited(absl::OkStatus(), "admin.ListPeers", "", response->peers_size());
}

grpc::Status AdminServiceImpl::CreateBackup(grpc::ServerContext* /*context*/,
                                            const node::v1::CreateBackupRequest* request,
                                            node::v1::CreateBackupResponse* response) {
  BackupSource source;
  source.store = node_->store();
  source.member_ags = node_->config().member_ags();
  source.member_name = node_->config().member_name();
  source.data_dir = node_->config().data_dir();
  if (ctx_.federation != nullptr && ctx_.federation->stager() != nullptr) {
    source.node_certificate_pem = ctx_.federation->stager()->current().cert_pem;
  }
  absl::StatusOr<node::v1::BackupManifest> manifest = server::CreateBackup(source, request->dir());
  if (manifest.ok()) *response->mutable_manifest() = *std::move(manifest);
  return Audited(manifest.status(), absl::StrCat("admin.CreateBackup ", request->dir()), "",
                 static_cast<uint64_t>(response->manifest().files_size()));
}

grpc::Status AdminServiceImpl::RefreshFederationCatalog(
    grpc::ServerContext* /*context*/, const node::v1::RefreshFederationCatalogRequest* /*request*/,
    node::v1::RefreshFederationCatalogResponse* response) {
  const std::string op = "admin.RefreshFederationCatalog";
  if (ctx_.harvester == nullptr || ctx_.federation == nullptr) {
    return Audited(absl::FailedPreconditionError("federation is not configured"), op, "");
  }
  auto signed_agreement = ctx_.federation->agreement();
  if (signed_agreement == nullptr) {
    return Audited(absl::FailedPreconditionError("no agreement installed"), op, "");
  }
  uint64_t entries = 0;
  for (auto& p : ctx_.harvester->HarvestAll(
           HarvestMembers(signed_agreement->agreement(), ctx_.federation->own_ags()))) {
    entries += p.entries();
    *response->add_peers() = std::move(p);
  }
  return Audited(absl::OkStatus(), op, "", entries);
}

grpc::Status AdminServiceImpl::SearchFederationCatalog(
    grpc::ServerContext* /*context*/, const node::v1::SearchFederationCatalogRequest* request,
    node::v1::SearchFederationCatalogResponse* response) {
  const std::string op = "admin.SearchFederationCatalog";
  absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> own =
      node_->ListCatalog(request->search());
  if (!own.ok()) return Audited(own.status(), op, "");
  std::vector<node::v1::FederationCatalogRow> rows;
  for (const auto& e : *own) {
    rows.push_back(RowOf(e));
    rows.back().set_access("own");
  }
  auto signed_agreement = ctx_.federation != nullptr ? ctx_.federation->agreement() : nullptr;
  if (ctx_.harvester != nullptr && signed_agreement != nullptr) {
    const agreement::v1::Agreement& a = signed_agreement->agreement();
    const std::string& own_ags = ctx_.federation->own_ags();
    const absl::Time now = ctx_.federation->clock()->Now();
    for (const HarvestMember& m : HarvestMembers(a, own_ags)) {
      *response->add_peers() = ctx_.harvester->Describe(m);
      absl::StatusOr<std::vector<catalog::v1::HarvestedEntry>> held =
          ctx_.harvester->Entries(m.ags);
      if (!held.ok()) return Audited(held.status(), op, "");
      for (const auto& h : *held) {
        if (!catalog::MatchesSearch(h.entry(), request->search())) continue;
        node::v1::FederationCatalogRow row = RowOf(h.entry());
        // Who holds it is what the agreement says, not what the entry claims.
        row.set_holder_ags(m.ags);
        row.set_holder_name(m.name);
        row.set_access(AccessWord(policy::GrantedAccess(a, policy::Caller{own_ags}, m.ags,
                                                        h.entry().dataset_id(),
                                                        h.entry().schema().conforms_to(), now)));
        row.set_harvested(agreement::FormatRfc3339(absl::FromUnixSeconds(h.harvested().seconds())));
        rows.push_back(std::move(row));
      }
    }
  }
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    return std::tie(x.holder_ags(), x.dataset_id()) < std::tie(y.holder_ags(), y.dataset_id());
  });
  for (auto& r : rows) *response->add_rows() = std::move(r);
  return Audited(absl::OkStatus(), op, "", response->rows_size());
}

}  // namespace fednode::server
