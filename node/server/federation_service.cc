#include "node/server/federation_service.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "federation/aggregate/partial.h"
#include "federation/agreement/agreement.h"
#include "federation/policy/policy.h"
#include "node/base/grpc_status.h"
#include "node/base/log.h"
#include "node/base/status_macros.h"
#include "node/base/table.h"
#include "node/query/executor.h"
#include "node/query/plan_info.h"
#include "node/query/sql.h"
#include "node/server/admin_service.h"
#include "node/server/call_stop.h"
#include "node/server/catalog_pages.h"
#include "node/server/row_stream.h"

namespace fednode::server {
namespace {

std::string NextRequestId(absl::string_view ags) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat("fed-", ags, "-", counter.fetch_add(1) + 1);
}

std::string PropertyText(const grpc::AuthContext& ctx, const char* name) {
  std::string out;
  for (const auto& v : ctx.FindPropertyValues(name)) out.append(v.data(), v.size());
  return out;
}

audit::v1::AuditEntry Entry(const std::string& caller, const std::string& peer,
                            const std::string& operation, const std::string& request_id) {
  audit::v1::AuditEntry e;
  e.set_caller(caller);
  e.set_peer_address(peer);
  e.set_operation(operation);
  e.set_request_id(request_id);
  return e;
}

// ANDs the grant's row filters (SQL boolean expressions, validated when the
// agreement was installed) to the plan's filter.
// Errors: InvalidArgument when a filter does not parse.
absl::Status ApplyRowFilters(const std::vector<std::string>& filters, query::v1::QueryPlan* plan) {
  for (const std::string& f : filters) {
    absl::StatusOr<query::v1::QueryPlan> parsed =
        query::ParseSql(absl::StrCat("SELECT * FROM x WHERE ", f));
    if (!parsed.ok()) return absl::InvalidArgumentError("row filter does not parse");
    query::v1::Filter combined;
    if (plan->has_filter()) *combined.mutable_and_()->add_operands() = plan->filter();
    *combined.mutable_and_()->add_operands() = parsed->filter();
    *plan->mutable_filter() = std::move(combined);
  }
  return absl::OkStatus();
}

// Aggregate access releases groups, not rows: grouping by a raw numeric or
// time column (a timestamp, a count, an amount) would make each group one
// row and release its values as keys. Group keys must be categorical
// (STRING, BOOL, DATE) or a part of a date/time (EXTRACT).
// Errors: PermissionDenied naming the column.
absl::Status CheckGroupKeys(const query::v1::QueryPlan& plan, const storage::v1::Schema& schema) {
  for (const std::string& key : plan.group_by()) {
    for (const auto& item : plan.select()) {
      if (item.kind_case() != query::v1::SelectItem::kColumn || query::OutputName(item) != key) {
        continue;
      }
      for (const auto& col : schema.columns()) {
        if (col.name() != item.column()) continue;
        switch (col.type()) {
          case storage::v1::COLUMN_TYPE_INT64:
          case storage::v1::COLUMN_TYPE_DOUBLE:
          case storage::v1::COLUMN_TYPE_TIMESTAMP:
            return absl::PermissionDeniedError(absl::StrCat(
                "aggregate access: grouping by the ", ColumnTypeName(col.type()), " column ",
                col.name(),
                " would release row values as group keys; group by categorical columns or by "
                "EXTRACT(... FROM ...)"));
          default:
            break;
        }
      }
    }
  }
  return absl::OkStatus();
}

// The name under which the holder counts contributing rows per group; never
// shown to the caller.
constexpr char kUnitCountAlias[] = "__fednode_units";

}  // namespace

FederationServiceImpl::Outcome FederationServiceImpl::Concluded(audit::v1::AuditEntry e,
                                                                audit::v1::Decision decision,
                                                                std::string reason,
                                                                grpc::Status status) {
  e.set_decision(decision);
  e.set_reason(std::move(reason));
  return Outcome{std::move(status), std::move(e)};
}

grpc::Status FederationServiceImpl::Deliver(Outcome o) {
  if (!o.audit.has_value()) return o.status;
  const std::string request_id = o.audit->request_id();
  absl::Status logged = host_->Audit(*std::move(o.audit));
  if (!logged.ok()) return ToGrpcStatus(logged, request_id);
  return o.status;
}

void FederationServiceImpl::DeliverAsync(Outcome o,
                                         absl::AnyInvocable<void(grpc::Status) &&> done) {
  if (!o.audit.has_value()) {
    std::move(done)(std::move(o.status));
    return;
  }
  std::string request_id = o.audit->request_id();
  host_->AuditAsync(
      *std::move(o.audit), [status = std::move(o.status), request_id = std::move(request_id),
                            done = std::move(done)](absl::Status logged) mutable {
        std::move(done)(logged.ok() ? std::move(status) : ToGrpcStatus(logged, request_id));
      });
}

void FederationServiceImpl::Record(const std::string& peer, FederationMethod method,
                                   const grpc::Status& status, absl::Duration latency) {
  if (metrics_ == nullptr) return;
  metrics_->RecordFederationCall(peer, method, static_cast<absl::StatusCode>(status.error_code()),
                                 latency);
}

std::variant<FederationServiceImpl::Outcome, FederationServiceImpl::Caller>
FederationServiceImpl::Authenticate(const CallIo& io, const std::string& operation,
                                    std::string* peer) {
  grpc::ServerContext* context = io.context;
  Caller c;
  c.peer = context->peer();
  c.request_id = NextRequestId(host_->own_ags());
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  std::string leaf = auth ? PropertyText(*auth, GRPC_X509_PEM_CERT_PROPERTY_NAME) : "";
  std::string chain = auth ? PropertyText(*auth, GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME) : "";
  absl::StatusOr<identity::Member> member =
      host_->Authenticate(leaf, chain, c.peer, operation, c.request_id);
  if (!member.ok()) return Outcome{ToGrpcStatus(member.status()), std::nullopt};
  c.member = *member;
  *peer = c.member.ags;
  absl::Status admitted = host_->AdmitMember(c.member.ags, c.peer, operation, c.request_id);
  if (!admitted.ok()) return Outcome{ToGrpcStatus(admitted), std::nullopt};
  c.agreement = host_->agreement();
  if (c.agreement == nullptr) {
    return Outcome{ToGrpcStatus(absl::UnauthenticatedError("no agreement installed")),
                   std::nullopt};
  }
  absl::Status in_force = agreement::CheckInForce(c.agreement->agreement(), host_->clock()->Now());
  if (!in_force.ok()) {
    return Concluded(Entry(c.member.ags, c.peer, operation, c.request_id), audit::v1::DECISION_DENY,
                     std::string(in_force.message()),
                     ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
                         in_force.message(),
                         "; cross-boundary traffic is stopped until an amendment is in force"))));
  }
  return c;
}

FederationServiceImpl::Outcome FederationServiceImpl::Busy(const Caller& c,
                                                           const std::string& operation,
                                                           int queued) {
  return Denied(
      c, operation, grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("node busy: ", queued, " calls wait for a worker thread already; retry later"));
}

FederationServiceImpl::Outcome FederationServiceImpl::Malformed(const Caller& c,
                                                                const std::string& operation,
                                                                absl::string_view message) {
  return Denied(c, operation, grpc::StatusCode::INVALID_ARGUMENT,
                absl::StrCat("the request is not a well-formed ", message));
}

FederationServiceImpl::Outcome FederationServiceImpl::Denied(const Caller& c,
                                                             const std::string& operation,
                                                             grpc::StatusCode code,
                                                             std::string reason) {
  grpc::Status status(code, reason);
  return Concluded(Entry(c.member.ags, c.peer, operation, c.request_id), audit::v1::DECISION_DENY,
                   std::move(reason), std::move(status));
}

FederationServiceImpl::Outcome FederationServiceImpl::Ping(const Caller& c,
                                                           federation::v1::PingResponse* response) {
  response->set_ags(host_->own_ags());
  response->set_agreement_id(c.agreement->agreement().agreement_id());
  response->set_agreement_version(c.agreement->agreement().version());
  response->set_caller_ags(c.member.ags);
  return Concluded(Entry(c.member.ags, c.peer, "federation.Ping", c.request_id),
                   audit::v1::DECISION_ALLOW, "", grpc::Status::OK);
}

FederationServiceImpl::Outcome FederationServiceImpl::GetCatalog(
    const Caller& c, const federation::v1::GetCatalogRequest& request,
    federation::v1::GetCatalogResponse* response) {
  // Changes the caller may not see are read and skipped like the others, so
  // paging advances over them and the caller cannot tell they exist.
  absl::StatusOr<storage::CatalogChangePage> changes = node_->store()->ListCatalogChanges(
      request.after_sequence(), CatalogPageSize(request.page_size()));
  if (!changes.ok()) return Outcome{ToGrpcStatus(changes.status(), c.request_id), std::nullopt};
  const absl::Time now = host_->clock()->Now();
  const agreement::v1::Agreement& agreement = c.agreement->agreement();
  const policy::Caller caller{c.member.ags};
  *response = BuildCatalogPage(*changes, request.after_sequence(),
                               [&](absl::string_view dataset_id, absl::string_view conforms_to) {
                                 return policy::MayKnowOf(agreement, caller, host_->own_ags(),
                                                          dataset_id, conforms_to, now);
                               });
  response->set_agreement_version(agreement.version());
  absl::StatusOr<std::string> epoch = node_->store()->GetMeta(kCatalogEpochKey);
  if (epoch.ok()) response->set_catalog_epoch(*epoch);
  audit::v1::AuditEntry e = Entry(c.member.ags, c.peer, "federation.GetCatalog", c.request_id);
  e.set_rows_returned(static_cast<uint64_t>(response->entries_size()));
  return Concluded(
      std::move(e), audit::v1::DECISION_ALLOW,
      absl::StrCat("changes after ", request.after_sequence(), " up to ", response->next_sequence(),
                   "; ", response->removed_size(), " removed", response->more() ? "; more" : ""),
      grpc::Status::OK);
}

std::variant<FederationServiceImpl::Outcome, FederationServiceImpl::PreparedQuery>
FederationServiceImpl::PrepareQuery(const Caller& c, const federation::v1::QueryRequest& request) {
  const query::v1::QueryPlan& asked = request.plan();
  PreparedQuery q;
  q.entry = Entry(c.member.ags, c.peer, "federation.Query", c.request_id);
  q.entry.set_dataset_id(asked.dataset_id());
  q.entry.set_purpose(request.purpose());
  auto finish = [&](audit::v1::Decision decision, std::string reason, grpc::Status status) {
    return Concluded(q.entry, decision, std::move(reason), std::move(status));
  };

  // Decide before anything is looked up. conforms_to comes from our own
  // catalog, but a refusal reads the same whether or not the dataset exists.
  policy::Request pr;
  pr.kind =
      query::IsAggregate(asked) ? policy::Request::Kind::kAggregate : policy::Request::Kind::kRows;
  pr.holder_ags = host_->own_ags();
  pr.dataset_id = asked.dataset_id();
  pr.columns = query::ReferencedColumns(asked);
  pr.purpose = request.purpose();
  absl::StatusOr<std::shared_ptr<const catalog::v1::CatalogEntry>> entry =
      node_->GetCatalogEntryShared(asked.dataset_id());
  const bool exists = entry.ok();
  // A PRIVATE dataset never leaves the node: refused as if no grant named it,
  // in the same words as for a dataset that does not exist.
  const bool is_private =
      exists && (*entry)->metadata().access_class() == catalog::v1::ACCESS_CLASS_PRIVATE;
  if (exists && !is_private) pr.conforms_to = (*entry)->schema().conforms_to();
  policy::Decision d = policy::Decide(c.agreement->agreement(), policy::Caller{c.member.ags}, pr,
                                      host_->clock()->Now());
  if (is_private) {
    d.allow = false;
    d.reason = absl::StrCat("no grant for ", c.member.ags, " on dataset ", asked.dataset_id(), " (",
                            policy::KindName(pr.kind), ")");
  }
  if (!d.allow) {
    return finish(audit::v1::DECISION_DENY, d.reason,
                  grpc::Status(grpc::StatusCode::PERMISSION_DENIED, d.reason));
  }
  if (!exists) {
    return finish(
        audit::v1::DECISION_ERROR, absl::StrCat("grant ", d.grant_id, "; dataset not found"),
        grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("member ", host_->own_ags(), " holds no dataset ", asked.dataset_id())));
  }

  // Apply the grant: its row filters are ANDed to the caller's filter; for
  // aggregates the holder counts contributing rows per group.
  query::v1::QueryPlan plan = asked;
  absl::Status filtered = ApplyRowFilters(d.row_filters, &plan);
  if (!filtered.ok()) {
    return finish(audit::v1::DECISION_ERROR,
                  absl::StrCat("grant ", d.grant_id, ": ", filtered.message()),
                  grpc::Status(grpc::StatusCode::INTERNAL, "grant row filter does not parse"));
  }
  q.aggregate = pr.kind == policy::Request::Kind::kAggregate;
  if (q.aggregate) {
    absl::Status keys = CheckGroupKeys(plan, (*entry)->schema());
    if (!keys.ok()) {
      return finish(audit::v1::DECISION_DENY, std::string(keys.message()),
                    grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(keys.message())));
    }
    auto* count = plan.add_select();
    count->set_alias(kUnitCountAlias);
    count->mutable_aggregate()->set_function(query::v1::AGGREGATE_FUNCTION_COUNT);
  }
  *q.run.mutable_plan() = std::move(plan);
  q.grant = absl::StrCat("grant ", d.grant_id);
  q.min_cell_count = d.min_cell_count;
  q.column_batches = request.column_batches();
  q.dataset_rows = (*entry)->row_count();
  q.head.set_holder_ags(host_->own_ags());
  q.head.set_dataset_id(asked.dataset_id());
  q.head.set_agreement_version(c.agreement->agreement().version());
  q.head.set_grant_id(d.grant_id);
  return q;
}

FederationServiceImpl::Outcome FederationServiceImpl::RowsFailed(const PreparedQuery& q,
                                                                 const CallStop& stop,
                                                                 const absl::Status& ran,
                                                                 uint64_t sent) {
  const std::string prefix = absl::StrCat(q.grant, "; ");
  audit::v1::AuditEntry failed = q.entry;
  failed.set_rows_returned(sent);
  return Concluded(std::move(failed), audit::v1::DECISION_ERROR,
                   stop.stopped() ? stop.AuditReason(prefix) : absl::StrCat(prefix, ran.message()),
                   ToGrpcStatus(ran, q.entry.request_id()));
}

FederationServiceImpl::Outcome FederationServiceImpl::RowsDone(const PreparedQuery& q,
                                                               const CallStop& stop, uint64_t rows,
                                                               int columns, bool streaming) {
  if (metrics_ != nullptr) {
    metrics_->RecordQueryRows(QueryApi::kFederation, stop.rows_scanned(), rows);
  }
  // The exact count, audited before the last (or only) message leaves.
  audit::v1::AuditEntry done = q.entry;
  done.set_rows_returned(rows);
  done.set_cells_returned(rows * static_cast<uint64_t>(columns));
  return Concluded(std::move(done), audit::v1::DECISION_ALLOW,
                   streaming ? absl::StrCat(q.grant, "; streamed ", rows, " rows") : q.grant,
                   grpc::Status::OK);
}

std::optional<FederationServiceImpl::Outcome> FederationServiceImpl::AnswerInline(
    const PreparedQuery& q, const CallIo& io, federation::v1::QueryResponse* response) {
  CallStop stop(io.context->deadline(), io.cancelled);
  RowStream<federation::v1::QueryResponse> stream(nullptr, q.head, nullptr);
  stream.set_hold_only();
  stream.set_column_batches(q.column_batches);
  absl::Status ran = node_->QueryStreaming(q.run, stop.Options(), &stream);
  if (stream.overflowed()) return std::nullopt;
  if (!ran.ok()) return RowsFailed(q, stop, ran, 0);
  Outcome done = RowsDone(q, stop, stream.rows(), stream.columns(), false);
  *response = stream.TakeHeld();
  return done;
}

grpc::Status FederationServiceImpl::StreamQuery(
    const PreparedQuery& q, const CallIo& io,
    const MessageWriter<federation::v1::QueryResponse>& write) {
  return q.aggregate ? StreamAggregate(q, io, write) : StreamRows(q, io, write);
}

grpc::Status FederationServiceImpl::StreamRows(
    const PreparedQuery& q, const CallIo& io,
    const MessageWriter<federation::v1::QueryResponse>& write) {
  // The scan stops when the caller cancels or its deadline passes.
  CallStop stop(io.context->deadline(), io.cancelled);
  // A result larger than one message is audited as "streaming" before its
  // first message leaves.
  RowStream<federation::v1::QueryResponse> stream(write, q.head, [&] {
    return Deliver(Concluded(q.entry, audit::v1::DECISION_ALLOW,
                             absl::StrCat(q.grant, "; streaming"), grpc::Status::OK));
  });
  stream.set_column_batches(q.column_batches);
  absl::Status ran = node_->QueryStreaming(q.run, stop.Options(), &stream);
  if (stream.audit_error().has_value()) return *stream.audit_error();
  if (stream.caller_gone()) return StreamStopped(q.entry, stream.sent());
  if (!ran.ok()) return Deliver(RowsFailed(q, stop, ran, stream.sent()));
  grpc::Status audited =
      Deliver(RowsDone(q, stop, stream.rows(), stream.columns(), stream.streaming()));
  if (!audited.ok()) return audited;
  if (!stream.Finish()) return StreamStopped(q.entry, stream.sent());
  return grpc::Status::OK;
}

grpc::Status FederationServiceImpl::StreamAggregate(
    const PreparedQuery& q, const CallIo& io,
    const MessageWriter<federation::v1::QueryResponse>& write) {
  // The scan stops when the caller cancels or its deadline passes.
  CallStop stop(io.context->deadline(), io.cancelled);
  absl::StatusOr<query::v1::ResultSet> result = node_->Query(q.run, stop.Options());
  if (!result.ok()) return Deliver(RowsFailed(q, stop, result.status(), 0));

  // Primary suppression at the holder: a group with fewer contributing rows
  // than the grant's minimum is withheld — its key values too, which could
  // otherwise identify the rows — and marked in a "suppressed" column. The
  // unit counts never leave.
  uint64_t suppressed = 0;
  const int units = result->columns_size() - 1;
  for (auto& row : *result->mutable_rows()) {
    int64_t n = row.values(units).int64_value();
    row.mutable_values()->RemoveLast();
    const bool hide = n < static_cast<int64_t>(q.min_cell_count);
    if (hide) {
      ++suppressed;
      for (auto& v : *row.mutable_values()) v.set_null_value(true);
    }
    row.add_values()->set_bool_value(hide);
  }
  result->mutable_columns(units)->set_name("suppressed");
  result->mutable_columns(units)->set_type(storage::v1::COLUMN_TYPE_BOOL);

  if (metrics_ != nullptr) {
    metrics_->RecordQueryRows(QueryApi::kFederation, result->rows_scanned(),
                              static_cast<uint64_t>(result->rows_size()));
  }
  audit::v1::AuditEntry e = q.entry;
  e.set_rows_returned(static_cast<uint64_t>(result->rows_size()));
  e.set_cells_returned(static_cast<uint64_t>(result->rows_size()) *
                       static_cast<uint64_t>(result->columns_size()));
  std::string reason = q.grant;
  if (suppressed > 0) {
    absl::StrAppend(&reason, "; ", suppressed, " groups suppressed (fewer than ", q.min_cell_count,
                    " rows)");
  }
  grpc::Status audited =
      Deliver(Concluded(std::move(e), audit::v1::DECISION_ALLOW, reason, grpc::Status::OK));
  if (!audited.ok()) return audited;

  // The answer was allowed and audited with its exact counts, so streaming
  // it needs no further entry; a caller that goes away while it streams
  // leaves a second one under the same request id.
  RowStream<federation::v1::QueryResponse> stream(write, q.head, [] { return grpc::Status::OK; });
  if (!stream.OnColumns(*result).ok() || !stream.OnRows(result->mutable_rows()).ok() ||
      !stream.Finish()) {
    return StreamStopped(q.entry, stream.sent());
  }
  return grpc::Status::OK;
}

grpc::Status FederationServiceImpl::StreamStopped(const audit::v1::AuditEntry& query_entry,
                                                  uint64_t sent) {
  audit::v1::AuditEntry stopped = Entry(query_entry.caller(), query_entry.peer_address(),
                                        query_entry.operation(), query_entry.request_id());
  stopped.set_dataset_id(query_entry.dataset_id());
  stopped.set_purpose(query_entry.purpose());
  stopped.set_rows_returned(sent);
  return Deliver(Concluded(std::move(stopped), audit::v1::DECISION_ERROR,
                           absl::StrCat("stream stopped by the caller after ", sent, " rows"),
                           grpc::Status(grpc::StatusCode::CANCELLED, "caller gone")));
}
std::variant<FederationServiceImpl::Outcome, FederationServiceImpl::PreparedAggregate>
FederationServiceImpl::PrepareAggregate(const Caller& c,
                                        const federation::v1::AggregateRequest& request) {
  audit::v1::AuditEntry e = Entry(c.member.ags, c.peer, "federation.Aggregate", c.request_id);
  e.set_purpose(request.purpose());
  auto finish = [&](audit::v1::Decision decision, std::string reason, grpc::Status status) {
    return Concluded(e, decision, std::move(reason), std::move(status));
  };

  // Partial aggregates carry every group with its unit count, unsuppressed:
  // they go to the county, which merges them and applies disclosure control
  // before anyone sees a figure. Other members ask with Query, whose answer
  // the holder suppresses itself.
  const agreement::v1::Member* caller =
      agreement::FindMember(c.agreement->agreement(), c.member.ags);
  if (caller == nullptr || caller->role() != agreement::v1::ROLE_COUNTY) {
    const std::string reason =
        absl::StrCat("partial aggregates are released to the county (ROLE_COUNTY) only; ",
                     c.member.ags, " may ask with Query, whose result the holder suppresses");
    return finish(audit::v1::DECISION_DENY, reason,
                  grpc::Status(grpc::StatusCode::PERMISSION_DENIED, reason));
  }

  // The member's own dataset of that kind. Looked up in our catalog, but the
  // decision below reads the same whether or not one exists.
  std::string dataset_id;
  // Shared entries: a member's catalog is not parsed again at every call.
  absl::StatusOr<std::vector<std::shared_ptr<const catalog::v1::CatalogEntry>>> all =
      node_->ListCatalogShared();
  if (!all.ok()) return Outcome{ToGrpcStatus(all.status(), c.request_id), std::nullopt};
  int matches = 0;
  const catalog::v1::CatalogEntry* found = nullptr;
  for (const auto& entry : *all) {
    if (!request.conforms_to().empty() && entry->schema().conforms_to() == request.conforms_to() &&
        entry->metadata().access_class() != catalog::v1::ACCESS_CLASS_PRIVATE) {
      if (matches++ == 0) {
        dataset_id = entry->dataset_id();
        found = entry.get();
      }
    }
  }
  e.set_dataset_id(dataset_id);
  policy::Request pr;
  pr.kind = policy::Request::Kind::kAggregate;
  pr.holder_ags = host_->own_ags();
  pr.dataset_id = dataset_id.empty() ? request.plan().dataset_id() : dataset_id;
  pr.conforms_to = request.conforms_to();
  pr.columns = query::ReferencedColumns(request.plan());
  pr.purpose = request.purpose();
  policy::Decision d = policy::Decide(c.agreement->agreement(), policy::Caller{c.member.ags}, pr,
                                      host_->clock()->Now());
  if (!d.allow) {
    return finish(audit::v1::DECISION_DENY, d.reason,
                  grpc::Status(grpc::StatusCode::PERMISSION_DENIED, d.reason));
  }
  if (matches == 0) {
    std::string msg = absl::StrCat("member ", host_->own_ags(), " holds no dataset conforming to ",
                                   request.conforms_to());
    return finish(audit::v1::DECISION_ERROR, msg, grpc::Status(grpc::StatusCode::NOT_FOUND, msg));
  }
  if (matches > 1) {
    std::string msg =
        absl::StrCat("member ", host_->own_ags(), " holds ", matches, " datasets conforming to ",
                     request.conforms_to(), "; the statistic would be ambiguous");
    return finish(audit::v1::DECISION_ERROR, msg,
                  grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, msg));
  }
  query::v1::QueryPlan plan = request.plan();
  plan.set_dataset_id(dataset_id);
  absl::Status keys = CheckGroupKeys(plan, found->schema());
  if (!keys.ok()) {
    return finish(audit::v1::DECISION_DENY, std::string(keys.message()),
                  grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(keys.message())));
  }
  if (!ApplyRowFilters(d.row_filters, &plan).ok()) {
    return finish(audit::v1::DECISION_ERROR, "grant row filter does not parse",
                  grpc::Status(grpc::StatusCode::INTERNAL, "grant row filter does not parse"));
  }
  absl::StatusOr<aggregate::PartialPlan> partial_plan = aggregate::ToPartialPlan(plan);
  if (!partial_plan.ok()) {
    return finish(audit::v1::DECISION_ERROR, std::string(partial_plan.status().message()),
                  ToGrpcStatus(partial_plan.status(), c.request_id));
  }
  PreparedAggregate a;
  a.entry = std::move(e);
  a.grant_id = d.grant_id;
  a.min_cell_count = d.min_cell_count;
  a.dataset_rows = found->row_count();
  a.agreement_version = c.agreement->agreement().version();
  *a.run.mutable_plan() = partial_plan->plan;
  a.partial_plan = *std::move(partial_plan);
  return a;
}

FederationServiceImpl::Outcome FederationServiceImpl::RunAggregate(
    const PreparedAggregate& a, const CallIo& io, federation::v1::AggregateResponse* response) {
  auto finish = [&](audit::v1::AuditEntry e, audit::v1::Decision decision, std::string reason,
                    grpc::Status status) {
    return Concluded(std::move(e), decision, std::move(reason), std::move(status));
  };
  // The scan stops when the caller cancels or its deadline passes.
  CallStop stop(io.context->deadline(), io.cancelled);
  absl::StatusOr<query::v1::ResultSet> result = node_->Query(a.run, stop.Options());
  if (!result.ok()) {
    return finish(a.entry, audit::v1::DECISION_ERROR,
                  stop.stopped() ? stop.AuditReason(absl::StrCat("grant ", a.grant_id, "; "))
                                 : std::string(result.status().message()),
                  ToGrpcStatus(result.status(), a.entry.request_id()));
  }
  aggregate::v1::Origin origin;
  origin.set_member_ags(host_->own_ags());
  origin.set_dataset_id(a.entry.dataset_id());
  origin.set_agreement_version(a.agreement_version);
  absl::StatusOr<aggregate::v1::PartialAggregate> partial =
      aggregate::ToPartial(a.partial_plan, *result, origin);
  if (!partial.ok()) {
    return finish(a.entry, audit::v1::DECISION_ERROR, std::string(partial.status().message()),
                  ToGrpcStatus(partial.status(), a.entry.request_id()));
  }
  if (metrics_ != nullptr) {
    metrics_->RecordQueryRows(QueryApi::kFederation, result->rows_scanned(),
                              static_cast<uint64_t>(partial->groups_size()));
  }
  *response->mutable_partial() = *std::move(partial);
  response->set_grant_id(a.grant_id);
  response->set_min_cell_count(a.min_cell_count);
  audit::v1::AuditEntry e = a.entry;
  e.set_rows_returned(static_cast<uint64_t>(response->partial().groups_size()));
  return finish(std::move(e), audit::v1::DECISION_ALLOW,
                absl::StrCat("grant ", a.grant_id, "; partial aggregate"), grpc::Status::OK);
}

}  // namespace fednode::server
