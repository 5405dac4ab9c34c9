// Node: the member's node without its transport — imports, catalog, queries —
// wired from storage, ingest, catalog and query. The admin service (and, in
// the federation issues, the federation service) are thin adapters over it.
//
// Layer: node/server; the composition root NodeServer owns one.
// Thread-safety: safe for concurrent use (DatasetStore serializes commits).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/base/clock.h"
#include "node/catalog/catalog.h"
#include "node/query/executor.h"
#include "node/storage/dataset_store.h"
#include "proto/catalog/v1/catalog.pb.h"
#include "proto/config/v1/node_config.pb.h"
#include "proto/node/v1/admin.pb.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::server {

// Largest source file one import accepts (the whole file is parsed in memory
// before the atomic commit). 2 GiB.
inline constexpr size_t kMaxImportBytes = size_t{2} << 30;

// Node metadata key of the catalog epoch: 32 random hex digits, made when a
// database is first used and renewed when it is restored from a backup, so
// that harvesting peers notice that change sequences may repeat.
inline constexpr char kCatalogEpochKey[] = "catalog_epoch";
// Node metadata key of the member (AGS) a database belongs to.
inline constexpr char kMemberAgsMetaKey[] = "member_ags";
// Node metadata key of the latest regional statistic (node::v1::LatestStatistic).
inline constexpr char kLatestStatisticMetaKey[] = "latest_statistic";

// Stores a new random catalog epoch in `store`.
// Errors: storage errors of PutMeta.
absl::Status RenewCatalogEpoch(storage::DatasetStore* store);

class Node {
 public:
  // `store` is owned; `clock` must outlive the Node.
  // Errors: FailedPrecondition when the store belongs to another member (its
  // recorded member_ags differs from config.member_ags()).
  static absl::StatusOr<std::unique_ptr<Node>> Create(const config::v1::NodeConfig& config,
                                                      std::unique_ptr<storage::DatasetStore> store,
                                                      const Clock* clock);

  // Parses `source` (the whole file, untrusted) per `header` and commits it
  // atomically together with its catalog entry. Without header.spec the
  // schema is inferred. Metadata is required for a dataset's first import.
  // Errors: InvalidArgument for bad input (file, line, column, value named;
  // metadata field named); FailedPrecondition when metadata is missing for a
  // new dataset; storage errors as DatasetStore::Commit.
  absl::StatusOr<node::v1::ImportResponse> Import(const node::v1::ImportHeader& header,
                                                  absl::string_view source);

  // Entries whose text matches all words of `search` (umlaut-insensitive).
  absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> ListCatalog(absl::string_view search);
  // All entries, shared with the store's cache instead of parsed per call.
  // Errors: those of storage::DatasetStore::ListCatalogShared.
  absl::StatusOr<std::vector<std::shared_ptr<const catalog::v1::CatalogEntry>>> ListCatalogShared();
  // The entry of `dataset_id`, a copy the caller may change.
  // Errors: those of storage::DatasetStore::GetCatalogEntry.
  absl::StatusOr<catalog::v1::CatalogEntry> GetCatalogEntry(absl::string_view dataset_id);
  // The same entry without a copy, shared with the store's cache.
  // Errors: those of storage::DatasetStore::GetCatalogEntryShared.
  absl::StatusOr<std::shared_ptr<const catalog::v1::CatalogEntry>> GetCatalogEntryShared(
      absl::string_view dataset_id);
  // Errors: NotFound; InvalidArgument naming the metadata field.
  absl::StatusOr<catalog::v1::CatalogEntry> SetMetadata(absl::string_view dataset_id,
                                                        const catalog::v1::DatasetMetadata& md);
  // DCAT-AP.de export of the public entries; format "turtle" or "jsonld".
  absl::StatusOr<node::v1::ExportCatalogResponse> ExportCatalog(absl::string_view format);

  // Runs `request` (SQL or plan) on the dataset's current version; the
  // snapshot is released when the call returns, also when it is stopped.
  // `options.interrupt` can stop the scan between chunks (query::Execute).
  // Errors: InvalidArgument for bad SQL or a plan that does not fit the
  // schema; NotFound when the dataset does not exist; the interrupt's code
  // (Cancelled, DeadlineExceeded) when it stopped the query.
  absl::StatusOr<query::v1::ResultSet> Query(const node::v1::QueryRequest& request,
                                             const query::ExecuteOptions& options = {});

  // Runs `request` like Query but hands the result to `sink`
  // (query::ExecuteStreaming): a plain query without ORDER BY streams its
  // rows as the scan finds them, so memory does not grow with the result.
  // The snapshot is released when the call returns.
  // Errors: as Query; the sink's non-OK status unchanged.
  absl::Status QueryStreaming(const node::v1::QueryRequest& request,
                              const query::ExecuteOptions& options, query::RowSink* sink);

  // Stores `result` (e.g. a county statistic) as dataset `dataset_id` in
  // replace mode with its catalog entry; every column nullable. Column names
  // must be identifiers.
  // Errors: InvalidArgument for a bad id, metadata or column; storage errors.
  absl::StatusOr<node::v1::ImportedDataset> StoreResult(absl::string_view dataset_id,
                                                        const query::v1::ResultSet& result,
                                                        const catalog::v1::DatasetMetadata& md,
                                                        absl::string_view conforms_to);

  absl::Status DeleteDataset(absl::string_view dataset_id);

  // The county's latest regional statistic (status page): stored in the
  // meta column family under kLatestStatisticMetaKey, replacing the one
  // before, so it survives a restart (and is part of a backup).
  // Errors: storage errors of PutMeta.
  absl::Status KeepLatestStatistic(const node::v1::LatestStatistic& statistic);
  // The one kept last; nullopt when none was.
  // Errors: DataLoss when the stored value does not parse; storage errors.
  absl::StatusOr<std::optional<node::v1::LatestStatistic>> LatestStatistic();
  absl::StatusOr<node::v1::GetStatusResponse> Status();

  storage::DatasetStore* store() { return store_.get(); }
  const config::v1::NodeConfig& config() const { return config_; }

 private:
  Node(config::v1::NodeConfig config, std::unique_ptr<storage::DatasetStore> store,
       const Clock* clock);

  catalog::NodeIdentity Identity() const;

  config::v1::NodeConfig config_;
  std::unique_ptr<storage::DatasetStore> store_;
  const Clock* clock_;
};

}  // namespace fednode::server
