// fedctl: the operator's command line for a fednode node. It talks to the
// node's admin API over the local Unix socket; `schema infer` runs locally.
//
//   fedctl [--socket PATH | --config FILE] COMMAND ...
//   fedctl status
//   fedctl schema infer [--dataset ID] [--delimiter ';'] FILE
//   fedctl import --dataset ID [--schema SPEC] [--metadata META] [--mode replace|append|upsert]
//   FILE fedctl catalog [WORDS...] fedctl catalog show ID fedctl catalog export [--format
//   turtle|jsonld] [-o FILE] fedctl catalog set-metadata ID META fedctl query [--format
//   table|csv|json] "SELECT ..." fedctl delete ID
//
// Exit codes: 0 success, 1 the node refused or failed (message on stderr),
// 2 usage error, 3 the node could not be reached.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "node/base/grpc_status.h"
#include "node/base/table.h"
#include "node/ingest/importer.h"
#include "node/query/format.h"
#include "node/server/config.h"
#include "proto/node/v1/admin.grpc.pb.h"

namespace fednode::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr size_t kChunkBytes = size_t{1} << 20;

class TextErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first.empty()) first = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  std::string first;
};

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = absl::StrCat("cannot read ", path, ": ", std::strerror(errno));
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Display width of UTF-8 text: one column per code point (German text has no
// wide characters).
size_t Width(absl::string_view s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string Pad(absl::string_view s, size_t width) {
  std::string out(s);
  size_t w = Width(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string Rows(uint64_t n) { return absl::StrCat(n, n == 1 ? " row" : " rows"); }

std::string AccessName(catalog::v1::AccessClass a) {
  switch (a) {
    case catalog::v1::ACCESS_CLASS_PUBLIC:
      return "public";
    case catalog::v1::ACCESS_CLASS_FEDERATION:
      return "federation";
    case catalog::v1::ACCESS_CLASS_RESTRICTED:
      return "restricted";
    case catalog::v1::ACCESS_CLASS_PRIVATE:
      return "private";
    default:
      return "unspecified";
  }
}

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

struct Globals {
  std::string socket;
  std::string config;
  double timeout_seconds = 600;
};

class Client {
 public:
  explicit Client(const Globals& g) : globals_(g) {}

  // Resolves the socket: --socket, else the node config's admin_socket, else
  // $FEDNODE_SOCKET.
  bool Connect() {
    std::string socket = globals_.socket;
    if (socket.empty() && !globals_.config.empty()) {
      auto config = server::LoadConfig(globals_.config);
      if (!config.ok()) {
        std::cerr << "fedctl: " << config.status().message() << "\n";
        return false;
      }
      socket = config->admin_socket();
    }
    if (socket.empty()) {
      const char* env = std::getenv("FEDNODE_SOCKET");  // NOLINT(concurrency-mt-unsafe)
      if (env != nullptr) socket = env;
    }
    if (socket.empty()) {
      std::cerr << "fedctl: no node given: pass --socket PATH, --config FILE (the node's "
                   "config) or set FEDNODE_SOCKET\n";
      return false;
    }
    socket_ = socket;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("unix:", socket),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = node::v1::AdminService::NewStub(channel_);
    return true;
  }

  void Prepare(grpc::ClientContext* ctx) const {
    ctx->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(globals_.timeout_seconds * 1000)));
  }

  // Prints the error and returns the exit code for `status`.
  int Fail(const grpc::Status& status) const {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      std::cerr << "fedctl: cannot reach the node at " << socket_ << ": " << status.error_message()
                << "\n(is fednode running? is this the right --socket/--config?)\n";
      return kExitUnreachable;
    }
    absl::Status s = FromGrpcStatus(status);
    std::cerr << "fedctl: " << absl::StatusCodeToString(s.code()) << ": " << s.message() << "\n";
    return kExitFailed;
  }

  node::v1::AdminService::Stub* stub() { return stub_.get(); }

 private:
  const Globals& globals_;
  std::string socket_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<node::v1::AdminService::Stub> stub_;
};

int CmdStatus(Client& client) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::GetStatusResponse r;
  grpc::Status s = client.stub()->GetStatus(&ctx, node::v1::GetStatusRequest(), &r);
  if (!s.ok()) return client.Fail(s);
  std::cout << "member:          " << r.member_ags() << " " << r.member_name() << "\n"
            << "fednode version: " << r.version() << "\n"
            << "data directory:  " << r.data_dir() << " (storage format "
            << r.storage_format_version() << ")\n"
            << "datasets:        " << r.datasets() << " (" << r.rows() << " rows)\n";
  return 0;
}

template <typename Message>
bool ParseTextprotoFile(const std::string& path, Message* out) {
  std::string text, error;
  if (!ReadFile(path, &text, &error)) {
    std::cerr << "fedctl: " << error << "\n";
    return false;
  }
  google::protobuf::TextFormat::Parser parser;
  TextErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, out)) {
    std::cerr << "fedctl: " << path << ":" << errors.first << "\n";
    return false;
  }
  return true;
}

struct ImportArgs {
  std::string dataset;
  std::string schema;
  std::string metadata;
  std::string mode = "replace";
  std::string format;
  std::string delimiter;
  std::string file;
};

int CmdImport(Client& client, const ImportArgs& a) {
  node::v1::ImportRequest first;
  node::v1::ImportHeader* h = first.mutable_header();
  h->set_dataset_id(a.dataset);
  h->set_source_name(BaseName(a.file));
  if (a.mode == "replace") {
    h->set_mode(node::v1::IMPORT_MODE_REPLACE);
  } else if (a.mode == "append") {
    h->set_mode(node::v1::IMPORT_MODE_APPEND);
  } else if (a.mode == "upsert") {
    h->set_mode(node::v1::IMPORT_MODE_UPSERT);
  } else {
    std::cerr << "fedctl: --mode: \"" << a.mode << "\" is not one of replace, append, upsert\n";
    return kExitUsage;
  }
  if (a.format == "csv") {
    h->set_format(node::v1::SOURCE_FORMAT_CSV);
  } else if (a.format == "json") {
    h->set_format(node::v1::SOURCE_FORMAT_JSON);
  } else if (!a.format.empty()) {
    std::cerr << "fedctl: --format: \"" << a.format << "\" is not one of csv, json\n";
    return kExitUsage;
  }
  if (!a.schema.empty()) {
    std::string text, error;
    if (!ReadFile(a.schema, &text, &error)) {
      std::cerr << "fedctl: " << error << "\n";
      return kExitUsage;
    }
    auto spec = ingest::ParseSpecTextproto(text);
    if (!spec.ok()) {
      std::cerr << "fedctl: " << a.schema << ": " << spec.status().message() << "\n";
      return kExitUsage;
    }
    *h->mutable_spec() = *spec;
    if (!a.delimiter.empty()) h->mutable_spec()->mutable_csv()->set_delimiter(a.delimiter);
  } else if (!a.delimiter.empty()) {
    std::cerr << "fedctl: --delimiter needs --schema; without one, run `fedctl schema infer "
                 "--delimiter` first and pass its output as --schema\n";
    return kExitUsage;
  }
  if (!a.metadata.empty() && !ParseTextprotoFile(a.metadata, h->mutable_metadata())) {
    return kExitUsage;
  }
  std::string data, error;
  if (!ReadFile(a.file, &data, &error)) {
    std::cerr << "fedctl: " << error << "\n";
    return kExitUsage;
  }

  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::ImportResponse response;
  auto writer = client.stub()->Import(&ctx, &response);
  size_t offset = std::min(kChunkBytes, data.size());
  first.set_chunk(data.substr(0, offset));
  bool ok = writer->Write(first);
  while (ok && offset < data.size()) {
    node::v1::ImportRequest chunk;
    size_t n = std::min(kChunkBytes, data.size() - offset);
    chunk.set_chunk(data.substr(offset, n));
    offset += n;
    ok = writer->Write(chunk);
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return client.Fail(s);
  for (const auto& d : response.datasets()) {
    if (d.unchanged()) {
      std::cout << d.dataset_id() << ": unchanged (same content as version " << d.version() << ", "
                << Rows(d.row_count()) << ")\n";
    } else {
      std::cout << d.dataset_id() << ": version " << d.version() << ", " << Rows(d.rows_imported())
                << " imported, " << Rows(d.row_count()) << " in the dataset\n";
    }
  }
  return 0;
}

int CmdSchemaInfer(const std::string& file, std::string dataset, const std::string& delimiter,
                   const std::string& format) {
  std::string data, error;
  if (!ReadFile(file, &data, &error)) {
    std::cerr << "fedctl: " << error << "\n";
    return kExitUsage;
  }
  std::string name = BaseName(file);
  ingest::SourceFormat f = ingest::SourceFormat::kCsv;
  if (format == "json" ||
      (format.empty() && (absl::EndsWith(name, ".json") || absl::EndsWith(name, ".jsonl")))) {
    f = ingest::SourceFormat::kJson;
  }
  if (dataset.empty()) {
    dataset = name.substr(0, name.find('.'));
    for (char& c : dataset) {
      c = absl::ascii_isalnum(static_cast<unsigned char>(c))
              ? absl::ascii_tolower(static_cast<unsigned char>(c))
              : '_';
    }
  }
  auto spec = ingest::Infer(data, f, dataset, name, delimiter);
  if (!spec.ok()) {
    std::cerr << "fedctl: " << spec.status().message() << "\n";
    return kExitFailed;
  }
  std::cout << ingest::SpecToTextproto(*spec);
  return 0;
}

void PrintCatalogTable(const std::vector<catalog::v1::CatalogEntry>& entries) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"DATASET", "TITLE", "ACCESS", "ROWS", "VERSION", "MODIFIED"});
  for (const auto& e : entries) {
    rows.push_back({e.dataset_id(), e.metadata().title(), AccessName(e.metadata().access_class()),
                    absl::StrCat(e.row_count()), absl::StrCat(e.version()),
                    FormatTime(e.modified())});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], Width(r[i]));
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      absl::StrAppend(&line, i == 0 ? "" : "  ", i + 1 == r.size() ? r[i] : Pad(r[i], widths[i]));
    }
    std::cout << line << "\n";
  }
  std::cout << "(" << entries.size() << (entries.size() == 1 ? " dataset)" : " datasets)") << "\n";
}

int CmdCatalogList(Client& client, const std::vector<std::string>& words) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::ListCatalogRequest req;
  req.set_search(absl::StrJoin(words, " "));
  node::v1::ListCatalogResponse r;
  grpc::Status s = client.stub()->ListCatalog(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  PrintCatalogTable({r.entries().begin(), r.entries().end()});
  return 0;
}

int CmdCatalogShow(Client& client, const std::string& id) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::GetCatalogEntryRequest req;
  req.set_dataset_id(id);
  catalog::v1::CatalogEntry e;
  grpc::Status s = client.stub()->GetCatalogEntry(&ctx, req, &e);
  if (!s.ok()) return client.Fail(s);
  const auto& m = e.metadata();
  std::cout << "dataset:      " << e.dataset_id() << "\n"
            << "title:        " << m.title() << "\n"
            << "description:  " << m.description() << "\n"
            << "holder:       " << e.ags() << " " << e.member_name() << "\n"
            << "publisher:    " << m.publisher().name() << "\n"
            << "contact:      " << m.contact_point().name()
            << (m.contact_point().email().empty() ? "" : " <" + m.contact_point().email() + ">")
            << "\n"
            << "keywords:     " << absl::StrJoin(m.keywords(), ", ") << "\n"
            << "themes:       " << absl::StrJoin(m.themes(), ", ") << "\n"
            << "licence:      " << m.license() << "\n"
            << "access:       " << AccessName(m.access_class()) << "\n";
  if (!m.temporal_start().empty() || !m.temporal_end().empty()) {
    std::cout << "temporal:     " << m.temporal_start() << " .. " << m.temporal_end() << "\n";
  }
  if (!e.schema().conforms_to().empty()) {
    std::cout << "conforms to:  " << e.schema().conforms_to() << "\n";
  }
  std::cout << "version:      " << e.version() << " (" << e.row_count() << " rows)\n"
            << "issued:       " << FormatTime(e.issued()) << "\n"
            << "modified:     " << FormatTime(e.modified()) << "\n"
            << "primary key:  " << absl::StrJoin(e.schema().primary_key(), ", ") << "\n"
            << "columns:\n";
  size_t w = 0;
  for (const auto& c : e.schema().columns()) w = std::max(w, Width(c.name()));
  for (const auto& c : e.schema().columns()) {
    std::cout << "  " << Pad(c.name(), w) << "  " << Pad(ColumnTypeName(c.type()), 9)
              << (c.nullable() ? "  null    " : "  not null")
              << (c.unit().empty() ? "" : "  [" + c.unit() + "]")
              << (c.description().empty() ? "" : "  " + c.description()) << "\n";
  }
  return 0;
}

int CmdCatalogExport(Client& client, const std::string& format, const std::string& out) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::ExportCatalogRequest req;
  req.set_format(format);
  node::v1::ExportCatalogResponse r;
  grpc::Status s = client.stub()->ExportCatalog(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  if (out.empty() || out == "-") {
    std::cout << r.document();
  } else {
    std::ofstream f(out, std::ios::binary);
    f << r.document();
    if (!f) {
      std::cerr << "fedctl: cannot write " << out << "\n";
      return kExitFailed;
    }
    std::cerr << "wrote " << r.entries_exported() << " public entries to " << out << "\n";
  }
  return 0;
}

int CmdSetMetadata(Client& client, const std::string& id, const std::string& file) {
  node::v1::SetMetadataRequest req;
  req.set_dataset_id(id);
  if (!ParseTextprotoFile(file, req.mutable_metadata())) return kExitUsage;
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  catalog::v1::CatalogEntry e;
  grpc::Status s = client.stub()->SetMetadata(&ctx, req, &e);
  if (!s.ok()) return client.Fail(s);
  std::cout << id << ": metadata updated\n";
  return 0;
}

int CmdQuery(Client& client, const std::string& sql, const std::string& format) {
  query::Format f;
  if (format == "table") {
    f = query::Format::kTable;
  } else if (format == "csv") {
    f = query::Format::kCsv;
  } else if (format == "json") {
    f = query::Format::kJson;
  } else {
    std::cerr << "fedctl: --format: \"" << format << "\" is not one of table, csv, json\n";
    return kExitUsage;
  }
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::QueryRequest req;
  req.set_sql(sql);
  auto reader = client.stub()->Query(&ctx, req);
  node::v1::QueryResponse msg;
  query::v1::ResultSet result;
  bool first = true;
  while (reader->Read(&msg)) {
    if (first) {
      *result.mutable_columns() = msg.columns();
      result.set_dataset_version(msg.dataset_version());
      result.set_rows_scanned(msg.rows_scanned());
      first = false;
    }
    for (auto& row : *msg.mutable_rows()) *result.add_rows() = std::move(row);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return client.Fail(s);
  std::cout << query::FormatResult(result, f);
  if (f == query::Format::kTable) {
    std::cerr << "(dataset version " << result.dataset_version() << ", " << result.rows_scanned()
              << (result.rows_scanned() == 1 ? " row" : " rows") << " scanned)\n";
  }
  return 0;
}

int CmdDelete(Client& client, const std::string& id) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::DeleteDatasetRequest req;
  req.set_dataset_id(id);
  node::v1::DeleteDatasetResponse r;
  grpc::Status s = client.stub()->DeleteDataset(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  std::cout << id << ": deleted\n";
  return 0;
}

int Run(int argc, char** argv) {
  CLI::App app{"fedctl: operate a fednode node (municipal federated data exchange)", "fedctl"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--socket", g.socket, "Admin socket of the node");
  app.add_option("--config", g.config, "The node's config file (to find its admin socket)");
  app.add_option("--timeout", g.timeout_seconds, "Deadline of the call in seconds")
      ->capture_default_str();

  auto* status = app.add_subcommand("status", "Show the node's member, data and version");

  auto* schema = app.add_subcommand("schema", "Work with import recipes (schema files)");
  schema->require_subcommand(1);
  auto* infer = schema->add_subcommand("infer", "Infer a schema file from a source file (local)");
  std::string infer_file, infer_dataset, infer_delim, infer_format;
  infer->add_option("file", infer_file, "CSV or JSON file")->required();
  infer->add_option("--dataset", infer_dataset, "Dataset id");
  infer->add_option("--delimiter", infer_delim, "Field delimiter when detection is ambiguous");
  infer->add_option("--format", infer_format, "csv or json (default: from the file name)");

  auto* import = app.add_subcommand("import", "Import a CSV or JSON file into a dataset");
  ImportArgs ia;
  import->add_option("file", ia.file, "Source file")->required();
  import->add_option("--dataset", ia.dataset, "Dataset id")->required();
  import->add_option("--schema,--spec", ia.schema, "Schema file (textproto ImportSpec, as `fedctl schema infer` prints)");
  import->add_option("--metadata", ia.metadata, "Catalog metadata (textproto DatasetMetadata)");
  import->add_option("--mode", ia.mode, "replace, append or upsert")->capture_default_str();
  import->add_option("--format", ia.format, "csv or json (default: from the file name)");
  import->add_option("--delimiter", ia.delimiter, "Overrides the schema file's delimiter");

  auto* cat = app.add_subcommand("catalog", "List, search, show and export catalog entries");
  std::vector<std::string> words;
  cat->add_option("words", words, "Search words (all must match; umlauts folded)");
  auto* show = cat->add_subcommand("show", "Show one catalog entry");
  std::string show_id;
  show->add_option("id", show_id, "Dataset id")->required();
  auto* exp = cat->add_subcommand("export", "Export the public entries as DCAT-AP.de RDF");
  std::string exp_format = "turtle", exp_out;
  exp->add_option("--format", exp_format, "turtle or jsonld")->capture_default_str();
  exp->add_option("-o,--output", exp_out, "Output file (default stdout)");
  auto* setmd = cat->add_subcommand("set-metadata", "Replace a dataset's catalog metadata");
  std::string setmd_id, setmd_file;
  setmd->add_option("id", setmd_id, "Dataset id")->required();
  setmd->add_option("metadata", setmd_file, "Metadata file (textproto)")->required();

  auto* query = app.add_subcommand("query", "Run a SQL query on one of the node's datasets");
  std::string sql, qformat = "table";
  query->add_option("sql", sql, "SELECT ... FROM dataset ...")->required();
  query->add_option("--format", qformat, "table, csv or json")->capture_default_str();

  auto* del = app.add_subcommand("delete", "Delete a dataset and its catalog entry");
  std::string del_id;
  del->add_option("id", del_id, "Dataset id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  if (infer->parsed()) return CmdSchemaInfer(infer_file, infer_dataset, infer_delim, infer_format);

  Client client(g);
  if (!client.Connect()) return kExitUsage;
  if (status->parsed()) return CmdStatus(client);
  if (import->parsed()) return CmdImport(client, ia);
  if (show->parsed()) return CmdCatalogShow(client, show_id);
  if (exp->parsed()) return CmdCatalogExport(client, exp_format, exp_out);
  if (setmd->parsed()) return CmdSetMetadata(client, setmd_id, setmd_file);
  if (cat->parsed()) return CmdCatalogList(client, words);
  if (query->parsed()) return CmdQuery(client, sql, qformat);
  if (del->parsed()) return CmdDelete(client, del_id);
  return kExitUsage;
}

}  // namespace
}  // namespace fednode::cli

int main(int argc, char** argv) { return fednode::cli::Run(argc, argv); }
