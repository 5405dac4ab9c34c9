#include "node/server/node.h"

#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "certs/digest.h"
#include "node/base/log.h"
#include "node/base/status_macros.h"
#include "node/ingest/importer.h"
#include "node/query/executor.h"
#include "node/query/sql.h"

namespace fednode::server {
namespace {

// Dataset ids appear in SQL (FROM id), keys and URIs: lower-case ASCII
// letters, digits, '_' and '-', starting with a letter, at most 63 bytes
// (PostgreSQL's NAMEDATALEN - 1: the SQL parser truncates longer
// identifiers).
absl::Status ValidateDatasetId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("dataset_id: required");
  bool ok = id.size() <= 63 && absl::ascii_islower(static_cast<unsigned char>(id[0]));
  for (char c : id) {
    ok = ok && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset_id: \"", id,
                     "\" must start with a-z and contain only a-z, 0-9, '_' and '-' (at most "
                     "63 characters)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ingest::SourceFormat> FormatOf(const node::v1::ImportHeader& header) {
  switch (header.format()) {
    case node::v1::SOURCE_FORMAT_CSV:
      return ingest::SourceFormat::kCsv;
    case node::v1::SOURCE_FORMAT_JSON:
      return ingest::SourceFormat::kJson;
    default:
      break;
  }
  std::string name = absl::AsciiStrToLower(header.source_name());
  if (absl::EndsWith(name, ".json") || absl::EndsWith(name, ".jsonl") ||
      absl::EndsWith(name, ".ndjson")) {
    return ingest::SourceFormat::kJson;
  }
  if (absl::EndsWith(name, ".csv") || absl::EndsWith(name, ".txt") ||
      absl::EndsWith(name, ".tsv")) {
    return ingest::SourceFormat::kCsv;
  }
  return absl::InvalidArgumentError(absl::StrCat("cannot tell the format of \"",
                                                 header.source_name(),
                                                 "\" from its name; pass --format csv|json"));
}

storage::ImportMode ModeOf(node::v1::ImportMode mode) {
  switch (mode) {
    case node::v1::IMPORT_MODE_APPEND:
      return storage::ImportMode::kAppend;
    case node::v1::IMPORT_MODE_UPSERT:
      return storage::ImportMode::kUpsert;
    default:
      return storage::ImportMode::kReplace;
  }
}

catalog::v1::DatasetMetadata ChildMetadata(const catalog::v1::DatasetMetadata& parent,
                                           absl::string_view parent_id,
                                           absl::string_view array_field) {
  catalog::v1::DatasetMetadata md = parent;
  md.set_title(absl::StrCat(parent.title(), " – ", array_field));
  md.set_description(
      absl::StrCat("Die Einträge des Felds \"", array_field, "\" jedes Datensatzes von ", parent_id,
                   ", verknüpft über dessen Primärschlüssel. ", parent.description()));
  return md;
}

}  // namespace

Node::Node(config::v1::NodeConfig config, std::unique_ptr<storage::DatasetStore> store,
           const Clock* clock)
    : config_(std::move(config)), store_(std::move(store)), clock_(clock) {}

absl::Status RenewCatalogEpoch(storage::DatasetStore* store) {
  absl::BitGen gen;
  std::string epoch;
  for (int i = 0; i < 2; ++i) {
    absl::StrAppend(&epoch, absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
  }
  return store->PutMeta(kCatalogEpochKey, epoch);
}

absl::StatusOr<std::unique_ptr<Node>> Node::Create(const config::v1::NodeConfig& config,
                                                   std::unique_ptr<storage::DatasetStore> store,
                                                   const Clock* clock) {
  absl::StatusOr<std::string> ags = store->GetMeta(kMemberAgsMetaKey);
  if (ags.ok()) {
    if (*ags != config.member_ags()) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", store->path(), " belongs to member ", *ags,
                       ", but the config says member_ags \"", config.member_ags(), "\""));
    }
  } else if (absl::IsNotFound(ags.status())) {
    FEDNODE_RETURN_IF_ERROR(store->PutMeta(kMemberAgsMetaKey, config.member_ags()));
  } else {
    return ags.status();
  }
  absl::StatusOr<std::string> epoch = store->GetMeta(kCatalogEpochKey);
  if (absl::IsNotFound(epoch.status())) {
    FEDNODE_RETURN_IF_ERROR(RenewCatalogEpoch(store.get()));
  } else if (!epoch.ok()) {
    return epoch.status();
  }
  return std::unique_ptr<Node>(new Node(config, std::move(store), clock));
}

catalog::NodeIdentity Node::Identity() const {
  return catalog::NodeIdentityFromConfig(config_, config_.catalog_base_uri(), config_.homepage());
}

absl::StatusOr<node::v1::ImportResponse> Node::Import(const node::v1::ImportHeader& header,
                                                      absl::string_view source) {
  FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(header.dataset_id()));
  FEDNODE_ASSIGN_OR_RETURN(ingest::SourceFormat format, FormatOf(header));
  std::string source_name = header.source_name().empty() ? "input" : header.source_name();

  // The recipe: the one given; else the one this dataset was last imported
  // with (so a reviewed schema is never silently replaced by a guess); else,
  // for a new dataset, an inferred one.
  ingest::v1::ImportSpec spec;
  const std::string spec_key = absl::StrCat("import_spec/", header.dataset_id());
  bool spec_reused = false;
  if (header.has_spec()) {
    spec = header.spec();
  } else {
    absl::StatusOr<std::string> stored = store_->GetMeta(spec_key);
    if (stored.ok() && spec.ParseFromString(*stored)) {
      spec_reused = true;
    } else if (stored.ok() || !absl::IsNotFound(stored.status())) {
      return absl::DataLossError(absl::StrCat("stored import recipe of ", header.dataset_id(),
                                              " is unreadable; pass --schema"));
    } else {
      FEDNODE_ASSIGN_OR_RETURN(spec,
                               ingest::Infer(source, format, header.dataset_id(), source_name));
    }
  }
  spec.set_dataset_id(header.dataset_id());
  for (const auto& child : spec.json_children()) {
    if (!child.dataset_id().empty()) FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(child.dataset_id()));
  }

  const catalog::NodeIdentity identity = Identity();
  if (header.has_metadata()) {
    FEDNODE_RETURN_IF_ERROR(
        catalog::ValidateMetadata(catalog::WithPublisherDefaults(identity, header.metadata())));
  }

  FEDNODE_ASSIGN_OR_RETURN(std::vector<ingest::ParsedDataset> parsed,
                           ingest::Parse(source, format, spec, source_name));

  // The digest covers the recipe too: the same bytes read with other options
  // are a different import.
  std::string recipe;
  spec.SerializeToString(&recipe);
  const std::string digest = certs::Sha256Hex(absl::StrCat(source, "\n", recipe));
  const absl::Time now = clock_->Now();

  std::vector<storage::DatasetWrite> writes;
  writes.reserve(parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) {
    storage::DatasetWrite w;
    w.dataset_id = parsed[i].dataset_id;
    w.mode = ModeOf(header.mode());
    w.table = std::move(parsed[i].table);
    w.source_sha256 = digest;
    std::optional<catalog::v1::DatasetMetadata> md;
    if (header.has_metadata()) {
      md = i == 0 ? header.metadata()
                  : ChildMetadata(header.metadata(), header.dataset_id(),
                                  spec.json_children(static_cast<int>(i - 1)).array_field());
    }
    std::string id = w.dataset_id;
    w.make_catalog_entry = [identity, md, id, now](const storage::v1::DatasetVersion& version,
                                                   const catalog::v1::CatalogEntry* previous)
        -> absl::StatusOr<catalog::v1::CatalogEntry> {
      if (!md.has_value() && previous == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "dataset ", id,
            " is new: its first import needs catalog metadata (fedctl import --metadata FILE: "
            "title, description and access_class; public entries also licence, publisher, "
            "contact point and contributor id)"));
      }
      const catalog::v1::DatasetMetadata& use = md.has_value() ? *md : previous->metadata();
      return catalog::BuildEntry(identity, id, use, version.schema(), version.version(),
                                 version.row_count(), now, previous);
    };
    writes.push_back(std::move(w));
  }

  FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::CommitResult> results,
                           store_->Commit(std::move(writes)));
  if (!spec_reused) {
    // Remembered for the next import without --schema. Written after the
    // commit: a failure here loses only that convenience, never data.
    absl::Status kept = store_->PutMeta(spec_key, recipe);
    if (!kept.ok()) FEDNODE_LOG(WARNING) << "cannot keep the import recipe: " << kept;
  }
  node::v1::ImportResponse response;
  for (const auto& r : results) {
    // An identical replace keeps the version; new metadata still applies.
    if (r.unchanged && header.has_metadata() && r.dataset_id == header.dataset_id()) {
      FEDNODE_ASSIGN_OR_RETURN(catalog::v1::CatalogEntry entry, GetCatalogEntry(r.dataset_id));
      if (entry.metadata().SerializeAsString() != header.metadata().SerializeAsString()) {
        FEDNODE_RETURN_IF_ERROR(SetMetadata(r.dataset_id, header.metadata()).status());
      }
    }
    auto* d = response.add_datasets();
    d->set_dataset_id(r.dataset_id);
    d->set_version(r.version);
    d->set_rows_imported(r.rows_written);
    d->set_row_count(r.row_count);
    d->set_unchanged(r.unchanged);
    FEDNODE_LOG(INFO) << "import " << r.dataset_id << " from " << source_name << ": "
                      << (r.unchanged ? "unchanged" : "committed") << " version " << r.version
                      << ", " << r.rows_written << " rows written, " << r.row_count
                      << " rows in the version";
  }
  return response;
}

absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> Node::ListCatalog(absl::string_view search) {
  FEDNODE_ASSIGN_OR_RETURN(std::vector<catalog::v1::CatalogEntry> all, store_->ListCatalog());
  if (absl::StripAsciiWhitespace(search).empty()) return all;
  std::vector<catalog::v1::CatalogEntry> out;
  for (auto& e : all) {
    if (catalog::MatchesSearch(e, search)) out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<std::shared_ptr<const catalog::v1::CatalogEntry>>>
Node::ListCatalogShared() {
  return store_->ListCatalogShared();
}

absl::StatusOr<catalog::v1::CatalogEntry> Node::GetCatalogEntry(absl::string_view dataset_id) {
  return store_->GetCatalogEntry(dataset_id);
}

absl::StatusOr<std::shared_ptr<const catalog::v1::CatalogEntry>> Node::GetCatalogEntryShared(
    absl::string_view dataset_id) {
  return store_->GetCatalogEntryShared(dataset_id);
}

absl::StatusOr<catalog::v1::CatalogEntry> Node::SetMetadata(
    absl::string_view dataset_id, const catalog::v1::DatasetMetadata& md) {
  const catalog::NodeIdentity identity = Identity();
  FEDNODE_RETURN_IF_ERROR(catalog::ValidateMetadata(catalog::WithPublisherDefaults(identity, md)));
  FEDNODE_ASSIGN_OR_RETURN(catalog::v1::CatalogEntry previous, store_->GetCatalogEntry(dataset_id));
  FEDNODE_ASSIGN_OR_RETURN(
      catalog::v1::CatalogEntry entry,
      catalog::BuildEntry(identity, dataset_id, md, previous.schema(), previous.version(),
                          previous.row_count(), clock_->Now(), &previous));
  FEDNODE_RETURN_IF_ERROR(store_->PutCatalogEntry(entry));
  return store_->GetCatalogEntry(dataset_id);
}

absl::StatusOr<node::v1::ExportCatalogResponse> Node::ExportCatalog(absl::string_view format) {
  FEDNODE_ASSIGN_OR_RETURN(std::vector<catalog::v1::CatalogEntry> all, store_->ListCatalog());
  node::v1::ExportCatalogResponse response;
  uint32_t exported = 0;
  for (const auto& e : all) {
    if (e.metadata().access_class() == catalog::v1::ACCESS_CLASS_PUBLIC) ++exported;
  }
  if (format.empty() || format == "turtle" || format == "ttl") {
    response.set_document(catalog::ExportTurtle(Identity(), all));
  } else if (format == "jsonld" || format == "json-ld") {
    response.set_document(catalog::ExportJsonLd(Identity(), all));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("format: \"", format, "\" is not one of turtle, jsonld"));
  }
  response.set_entries_exported(exported);
  return response;
}

namespace {

// The plan of a QueryRequest: its plan (not copied), or its SQL parsed into
// *parsed. The result points into `request` or to `parsed`.
// Errors: InvalidArgument for bad SQL or neither.
absl::StatusOr<const query::v1::QueryPlan*> RequestPlan(const node::v1::QueryRequest& request,
                                                        query::v1::QueryPlan* parsed) {
  if (request.has_plan()) return &request.plan();
  if (request.sql().empty()) return absl::InvalidArgumentError("query: give SQL or a plan");
  FEDNODE_ASSIGN_OR_RETURN(*parsed, query::ParseSql(request.sql()));
  return parsed;
}

}  // namespace

absl::Status Node::QueryStreaming(const node::v1::QueryRequest& request,
                                  const query::ExecuteOptions& options, query::RowSink* sink) {
  query::v1::QueryPlan parsed;
  FEDNODE_ASSIGN_OR_RETURN(const query::v1::QueryPlan* plan, RequestPlan(request, &parsed));
  FEDNODE_ASSIGN_OR_RETURN(storage::TableSnapshot snapshot,
                           store_->OpenSnapshot(plan->dataset_id()));
  return query::ExecuteStreaming(*plan, snapshot, options, sink);
}

absl::StatusOr<query::v1::ResultSet> Node::Query(const node::v1::QueryRequest& request,
                                                 const query::ExecuteOptions& options) {
  query::v1::QueryPlan parsed;
  FEDNODE_ASSIGN_OR_RETURN(const query::v1::QueryPlan* plan, RequestPlan(request, &parsed));
  FEDNODE_ASSIGN_OR_RETURN(storage::TableSnapshot snapshot,
                           store_->OpenSnapshot(plan->dataset_id()));
  FEDNODE_ASSIGN_OR_RETURN(query::v1::ResultSet result, query::Execute(*plan, snapshot, options));
  result.set_dataset_version(snapshot.version);
  return result;
}

absl::StatusOr<node::v1::ImportedDataset> Node::StoreResult(absl::string_view dataset_id,
                                                            const query::v1::ResultSet& result,
                                                            const catalog::v1::DatasetMetadata& md,
                                                            absl::string_view conforms_to) {
  FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(dataset_id));
  const catalog::NodeIdentity identity = Identity();
  FEDNODE_RETURN_IF_ERROR(catalog::ValidateMetadata(catalog::WithPublisherDefaults(identity, md)));
  Table table;
  table.schema.set_conforms_to(std::string(conforms_to));
  std::vector<ColumnBuilder> builders;
  for (const auto& c : result.columns()) {
    auto* col = table.schema.add_columns();
    col->set_name(c.name());
    col->set_type(c.type());
    col->set_nullable(true);
    builders.emplace_back(c.type());
  }
  for (const auto& row : result.rows()) {
    if (row.values_size() != result.columns_size()) {
      return absl::InternalError("result row width differs from its columns");
    }
    for (int i = 0; i < row.values_size(); ++i) {
      const query::v1::Value& v = row.values(i);
      ColumnBuilder& b = builders[static_cast<size_t>(i)];
      switch (v.kind_case()) {
        case query::v1::Value::kInt64Value:
          b.AppendInt(v.int64_value());
          break;
        case query::v1::Value::kDateDays:
          b.AppendInt(v.date_days());
          break;
        case query::v1::Value::kTimestampMicros:
          b.AppendInt(v.timestamp_micros());
          break;
        case query::v1::Value::kBoolValue:
          b.AppendInt(v.bool_value() ? 1 : 0);
          break;
        case query::v1::Value::kDoubleValue:
          b.AppendDouble(v.double_value());
          break;
        case query::v1::Value::kStringValue:
          b.AppendString(v.string_value());
          break;
        default:
          b.AppendNull();
      }
    }
  }
  for (auto& b : builders) table.columns.push_back(b.Finish());
  table.num_rows = static_cast<size_t>(result.rows_size());
  FEDNODE_RETURN_IF_ERROR(ValidateTable(table));

  std::string serialized;
  result.SerializeToString(&serialized);
  storage::DatasetWrite w;
  w.dataset_id = std::string(dataset_id);
  w.mode = storage::ImportMode::kReplace;
  w.table = std::move(table);
  w.source_sha256 = certs::Sha256Hex(absl::StrCat(serialized, md.SerializeAsString()));
  const absl::Time now = clock_->Now();
  std::string id(dataset_id);
  w.make_catalog_entry = [identity, md, id, now](const storage::v1::DatasetVersion& version,
                                                 const catalog::v1::CatalogEntry* previous) {
    return catalog::BuildEntry(identity, id, md, version.schema(), version.version(),
                               version.row_count(), now, previous);
  };
  std::vector<storage::DatasetWrite> writes;
  writes.push_back(std::move(w));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::CommitResult> results,
                           store_->Commit(std::move(writes)));
  node::v1::ImportedDataset out;
  out.set_dataset_id(results[0].dataset_id);
  out.set_version(results[0].version);
  out.set_rows_imported(results[0].rows_written);
  out.set_row_count(results[0].row_count);
  out.set_unchanged(results[0].unchanged);
  return out;
}

absl::Status Node::DeleteDataset(absl::string_view dataset_id) {
  FEDNODE_RETURN_IF_ERROR(store_->DeleteDataset(dataset_id));
  FEDNODE_LOG(INFO) << "deleted dataset " << dataset_id;
  return absl::OkStatus();
}

absl::StatusOr<node::v1::GetStatusResponse> Node::Status() {
  FEDNODE_ASSIGN_OR_RETURN(std::vector<catalog::v1::CatalogEntry> all, store_->ListCatalog());
  node::v1::GetStatusResponse s;
  s.set_member_ags(config_.member_ags());
  s.set_member_name(config_.member_name());
  s.set_version(FEDNODE_VERSION);
  s.set_datasets(static_cast<uint32_t>(all.size()));
  uint64_t rows = 0;
  for (const auto& e : all) rows += e.row_count();
  s.set_rows(rows);
  s.set_data_dir(store_->path());
  s.set_storage_format_version(store_->format_version());
  return s;
}

absl::Status Node::KeepLatestStatistic(const node::v1::LatestStatistic& statistic) {
  return store_->PutMeta(kLatestStatisticMetaKey, statistic.SerializeAsString());
}

absl::StatusOr<std::optional<node::v1::LatestStatistic>> Node::LatestStatistic() {
  absl::StatusOr<std::string> bytes = store_->GetMeta(kLatestStatisticMetaKey);
  if (absl::IsNotFound(bytes.status())) return std::nullopt;
  if (!bytes.ok()) return bytes.status();
  node::v1::LatestStatistic statistic;
  if (!statistic.ParseFromString(*bytes)) {
    return absl::DataLossError("the stored latest statistic does not parse");
  }
  return statistic;
}

}  // namespace fednode::server
