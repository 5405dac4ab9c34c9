#include "node/ingest/importer.h"

#include "absl/strings/str_cat.h"

#include "node/ingest/internal.h"

namespace fednode::ingest {

absl::StatusOr<std::vector<ParsedDataset>> Parse(absl::string_view bytes, SourceFormat format,
                                                 const v1::ImportSpec& spec,
                                                 absl::string_view source_name) {
  absl::Status st = internal::ValidateSpec(spec);
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": import spec: ", st.message()));
  }
  if (format == SourceFormat::kJson) return internal::ParseJson(bytes, spec, source_name);
  return internal::ParseCsv(bytes, spec, source_name);
}

absl::StatusOr<v1::ImportSpec> Infer(absl::string_view bytes, SourceFormat format,
                                     absl::string_view dataset_id, absl::string_view source_name,
                                     absl::string_view delimiter) {
  if (format == SourceFormat::kJson) return internal::InferJson(bytes, dataset_id, source_name);
  return internal::InferCsv(bytes, dataset_id, source_name, delimiter);
}

}  // namespace fednode::ingest
