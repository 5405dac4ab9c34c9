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
//   fedctl catalog --federation [--refresh] [WORDS...]
//
// Exit codes: 0 success, 1 the node refused or failed (message on stderr),
// 2 usage error, 3 the node could not be reached.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "certs/pki.h"
#include "certs/pki_commands.h"
#include "federation/agreement/agreement.h"
#include "federation/agreement/agreement_commands.h"
#include "node/audit/audit_archive.h"
#include "node/audit/audit_log.h"
#include "node/base/grpc_status.h"
#include "node/base/table.h"
#include "node/ingest/charset.h"
#include "node/ingest/importer.h"
#include "node/query/format.h"
#include "node/server/backup.h"
#include "node/server/config.h"
#include "node/server/node_server.h"
#include "node/storage/dataset_store.h"
#include "proto/health/v1/health.grpc.pb.h"
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
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = absl::StrCat("cannot read ", path, ": it is a directory, not a file");
    return false;
  }
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

absl::StatusOr<std::string> ReadLocal(const std::string& path) {
  std::string out, error;
  if (!ReadFile(path, &out, &error)) return absl::NotFoundError(error);
  return out;
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

// Prints `rows` (the first is the header) as left-aligned columns separated
// by two spaces; the last column is not padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(r[i]));
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      absl::StrAppend(&line, i == 0 ? "" : "  ", i + 1 == r.size() ? r[i] : Pad(r[i], widths[i]));
    }
    std::cout << line << "\n";
  }
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
      std::cerr << "fedctl: node at " << socket_ << " unavailable: " << status.error_message()
                << "\n(if it was never reached: is fednode running, is this the right "
                   "--socket/--config? if the connection was lost during the call, its outcome "
                   "is unknown: check `fedctl catalog show ID` or `fedctl audit tail`)\n";
      return kExitUnreachable;
    }
    absl::Status s = FromGrpcStatus(status);
    std::cerr << "fedctl: " << absl::StatusCodeToString(s.code()) << ": " << s.message() << "\n";
    return kExitFailed;
  }

  node::v1::AdminService::Stub* stub() { return stub_.get(); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  const Globals& globals_;
  std::string socket_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<node::v1::AdminService::Stub> stub_;
};

// The gRPC health check of the node (grpc.health.v1, on the admin socket):
// for service managers and container health checks. Prints SERVING and
// exits 0, else prints the state and exits 1 (3 when unreachable).
int CmdHealth(Client& client) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  auto health = grpc::health::v1::Health::NewStub(client.channel());
  grpc::health::v1::HealthCheckResponse r;
  grpc::Status s = health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &r);
  if (!s.ok()) return client.Fail(s);
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(r.status()) << "\n";
  return r.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : kExitFailed;
}

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

// Prints why `text`, the bytes of the file `path`, is not UTF-8 and returns
// false; true when it is (ingest::RequireUtf8).
bool CheckUtf8File(const std::string& text, const std::string& path) {
  if (absl::Status utf8 = ingest::RequireUtf8(text, path); !utf8.ok()) {
    std::cerr << "fedctl: " << utf8.message() << "\n";
    return false;
  }
  return true;
}

template <typename Message>
bool ParseTextprotoFile(const std::string& path, Message* out) {
  std::string text, error;
  if (!ReadFile(path, &text, &error)) {
    std::cerr << "fedctl: " << error << "\n";
    return false;
  }
  if (!CheckUtf8File(text, path)) return false;
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
    if (!CheckUtf8File(text, a.schema)) return kExitUsage;
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

// "(1 dataset)", "(3 datasets)": the last line of a catalog listing.
void PrintDatasetCount(size_t n) {
  std::cout << "(" << n << (n == 1 ? " dataset)" : " datasets)") << "\n";
}

void PrintCatalogTable(const std::vector<catalog::v1::CatalogEntry>& entries) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"DATASET", "TITLE", "ACCESS", "ROWS", "VERSION", "MODIFIED"});
  for (const auto& e : entries) {
    rows.push_back({e.dataset_id(), e.metadata().title(), AccessName(e.metadata().access_class()),
                    absl::StrCat(e.row_count()), absl::StrCat(e.version()),
                    FormatTime(e.modified())});
  }
  PrintTable(rows);
  PrintDatasetCount(entries.size());
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

// `fedctl catalog --federation [--refresh] [WORDS...]`: with --refresh the
// node harvests every member's catalog first and the outcome per member is
// printed; then the federation catalog (own and harvested entries) matching
// WORDS, and a line per member whose last harvest failed.
int CmdFederationCatalog(Client& client, const std::vector<std::string>& words, bool refresh) {
  if (refresh) {
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    node::v1::RefreshFederationCatalogResponse r;
    grpc::Status s = client.stub()->RefreshFederationCatalog(
        &ctx, node::v1::RefreshFederationCatalogRequest(), &r);
    if (!s.ok()) return client.Fail(s);
    std::vector<std::vector<std::string>> rows = {
        {"MEMBER", "NAME", "STATE", "ENTRIES", "REMOVED", "PAGES", "HARVEST", "HELD", "DETAIL"}};
    for (const auto& p : r.peers()) {
      rows.push_back({p.ags(), p.name(), p.state(), absl::StrCat(p.entries()),
                      absl::StrCat(p.removed()), absl::StrCat(p.pages()),
                      p.full() ? "full" : "incremental", absl::StrCat(p.entries_held()),
                      p.detail()});
    }
    PrintTable(rows);
    std::cout << "\n";
  }
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::SearchFederationCatalogRequest req;
  req.set_search(absl::StrJoin(words, " "));
  node::v1::SearchFederationCatalogResponse r;
  grpc::Status s = client.stub()->SearchFederationCatalog(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  std::vector<std::vector<std::string>> rows = {{"HOLDER", "NAME", "DATASET", "TITLE", "ACCESS",
                                                 "CLASS", "CONFORMS TO", "ROWS", "HARVESTED"}};
  for (const auto& row : r.rows()) {
    rows.push_back({row.holder_ags(), row.holder_name(), row.dataset_id(), row.title(),
                    row.access(), AccessName(row.access_class()),
                    row.conforms_to().empty() ? "-" : row.conforms_to(), absl::StrCat(row.rows()),
                    row.harvested().empty() ? "-" : row.harvested()});
  }
  PrintTable(rows);
  PrintDatasetCount(static_cast<size_t>(r.rows_size()));
  for (const auto& p : r.peers()) {
    if (p.state() != "error") continue;
    std::cout << p.ags() << " " << p.name() << ": error — " << p.detail() << "; "
              << p.entries_held() << (p.entries_held() == 1 ? " entry" : " entries")
              << (p.last_success().empty() ? " of an unfinished harvest"
                                           : absl::StrCat(" from ", p.last_success()))
              << " kept\n";
  }
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
            << "primary key:  "
            << (e.schema().primary_key().empty() ? "(none)"
                                                 : absl::StrJoin(e.schema().primary_key(), ", "))
            << "\n"
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

// Makes the SQL argument of `query` and `aggregate` ready to send: "-" reads
// the statement from standard input (for statements beyond the 128 KiB that
// Linux allows one argument, or kept in a file). Prints the reason and
// returns false when the text is empty or not UTF-8, which a protobuf string
// field must be.
bool ResolveSql(std::string* sql) {
  if (*sql == "-") {
    std::ostringstream in;
    in << std::cin.rdbuf();
    *sql = std::move(in).str();
    // A byte order mark, as Windows editors save UTF-8 files.
    if (absl::StartsWith(*sql, "\xEF\xBB\xBF")) sql->erase(0, 3);
    if (sql->empty()) {
      std::cerr << "fedctl: no SQL on standard input\n";
      return false;
    }
  }
  // The request around the SQL takes a few bytes of the admin socket's limit.
  constexpr size_t kMaxSqlBytes = server::kAdminMaxRequestBytes - 4096;
  if (sql->size() > kMaxSqlBytes) {
    std::cerr << "fedctl: the SQL is " << sql->size() << " bytes; the node takes at most "
              << kMaxSqlBytes << " (write long value lists as IN (...) or split the query)\n";
    return false;
  }
  if (size_t bad = ingest::FirstInvalidUtf8(*sql); bad != absl::string_view::npos) {
    std::cerr << absl::StrFormat(
        "fedctl: the SQL is not valid UTF-8 (byte 0x%02X at byte offset %d); write it in UTF-8\n",
        static_cast<unsigned char>((*sql)[bad]), bad);
    return false;
  }
  return true;
}

// Parses --format; prints the usage error and returns false when unknown.
bool ParseFormat(const std::string& format, query::Format* f) {
  if (format == "table") {
    *f = query::Format::kTable;
  } else if (format == "csv") {
    *f = query::Format::kCsv;
  } else if (format == "json") {
    *f = query::Format::kJson;
  } else {
    std::cerr << "fedctl: --format: \"" << format << "\" is not one of table, csv, json\n";
    return false;
  }
  return true;
}

int CmdQuery(Client& client, const std::string& sql, const std::string& format) {
  query::Format f;
  if (!ParseFormat(format, &f)) return kExitUsage;
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

int CmdQueryPeer(Client& client, const std::string& peer, const std::string& sql,
                 const std::string& purpose, const std::string& format) {
  query::Format f;
  if (!ParseFormat(format, &f)) return kExitUsage;
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::QueryPeerRequest req;
  req.set_peer_ags(peer);
  req.set_sql(sql);
  req.set_purpose(purpose);
  auto reader = client.stub()->QueryPeer(&ctx, req);
  node::v1::QueryPeerResponse msg;
  query::v1::ResultSet result;
  node::v1::QueryPeerResponse origin;
  bool first = true;
  while (reader->Read(&msg)) {
    if (first) {
      *result.mutable_columns() = msg.columns();
      origin = msg;
      first = false;
    }
    for (auto& row : *msg.mutable_rows()) *result.add_rows() = std::move(row);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return client.Fail(s);
  std::cout << query::FormatResult(result, f);
  std::cerr << "(from member " << origin.holder_ags() << ", dataset " << origin.dataset_id()
            << " version " << origin.dataset_version() << ", released under grant "
            << origin.grant_id() << " of agreement version " << origin.agreement_version() << ")\n";
  return 0;
}

struct AggregateArgs {
  std::string sql;
  std::string conforms_to;
  std::string purpose;
  bool by_member = false;
  bool threshold_members = false;
  std::string format = "table";
  uint32_t timeout = 30;
  uint32_t min_cell_count = 0;
  std::string store;
  std::string metadata;
  std::vector<std::string> members;
};

int CmdAggregate(Client& client, const AggregateArgs& a) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::AggregateFederationRequest req;
  req.set_sql(a.sql);
  req.set_conforms_to(a.conforms_to);
  req.set_purpose(a.purpose);
  req.set_group_by_member(a.by_member);
  req.set_threshold_in_members(a.threshold_members);
  req.set_timeout_seconds(a.timeout);
  req.set_min_cell_count(a.min_cell_count);
  for (const std::string& m : a.members) req.add_members(m);
  if (!a.store.empty()) {
    if (a.metadata.empty()) {
      std::cerr << "fedctl: --store needs --metadata FILE (title, description, access_class)\n";
      return kExitUsage;
    }
    req.set_store_dataset_id(a.store);
    if (!ParseTextprotoFile(a.metadata, req.mutable_metadata())) return kExitUsage;
  }
  node::v1::AggregateFederationResponse r;
  grpc::Status s = client.stub()->AggregateFederation(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  if (a.format == "table") {
    std::cout << r.table_text();
  } else {
    query::Format f = a.format == "csv" ? query::Format::kCsv : query::Format::kJson;
    std::cout << query::FormatResult(r.result(), f);
    std::cerr << r.coverage_line() << "\n" << r.disclosure_rule() << "\n";
  }
  if (r.has_stored()) {
    std::cerr << "stored as dataset " << r.stored().dataset_id() << " version "
              << r.stored().version() << " (" << Rows(r.stored().row_count()) << ")\n";
  }
  return 0;
}

int CmdPeers(Client& client) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::ListPeersResponse r;
  grpc::Status s = client.stub()->ListPeers(&ctx, node::v1::ListPeersRequest(), &r);
  if (!s.ok()) return client.Fail(s);
  std::vector<std::vector<std::string>> rows = {
      {"MEMBER", "NAME", "STATE", "LAST CONTACT", "RTT MS", "AGREEMENT", "CERT EXPIRES", "DETAIL"}};
  for (const auto& p : r.peers()) {
    rows.push_back({p.ags(), p.name(), p.state(), p.last_contact().empty() ? "-" : p.last_contact(),
                    p.last_contact().empty() ? "-" : absl::StrFormat("%.1f", p.round_trip_ms()),
                    p.agreement_version() == 0 ? "-" : absl::StrCat("v", p.agreement_version()),
                    p.certificate_not_after().empty() ? "-" : p.certificate_not_after(),
                    p.detail().substr(0, 80)});
  }
  PrintTable(rows);
  return 0;
}

int CmdPingPeer(Client& client, const std::string& peer) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::PingPeerRequest req;
  req.set_peer_ags(peer);
  node::v1::PingPeerResponse r;
  grpc::Status s = client.stub()->PingPeer(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  std::cout << "member " << r.peer_ags() << " answered in "
            << absl::StrFormat("%.1f", r.round_trip_ms()) << " ms; it runs agreement version "
            << r.peer_agreement_version() << " and sees us as " << r.seen_as() << "\n";
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

void PrintAgreementStatus(const node::v1::AgreementStatus& a) {
  if (!a.installed()) {
    std::cout << "no agreement installed\n";
    return;
  }
  std::cout << "agreement:    " << a.agreement_id() << " version " << a.version() << "\n"
            << "fingerprint:  " << a.fingerprint() << "\n"
            << "valid:        " << a.valid_from() << " .. " << a.valid_until() << "\n"
            << "members:      " << a.members() << ", grants: " << a.grants() << "\n"
            << "federation:   "
            << (a.federation_address().empty() ? "port closed" : a.federation_address()) << "\n";
  if (!a.own_spki_sha256().empty()) {
    std::cout << "own key pin:  " << a.own_spki_sha256() << " (certificate valid until "
              << a.own_certificate_not_after() << ")\n";
  }
  for (const auto& w : a.warnings()) std::cout << "WARNING:      " << w << "\n";
}

int CmdAgreementInstall(Client& client, const std::string& file, const std::string& fingerprint,
                        bool update) {
  std::string text, error;
  if (!ReadFile(file, &text, &error)) {
    std::cerr << "fedctl: " << error << "\n";
    return kExitUsage;
  }
  if (!CheckUtf8File(text, file)) return kExitUsage;
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::AgreementStatus r;
  grpc::Status s;
  if (update) {
    node::v1::UpdateAgreementRequest req;
    req.set_text(text);
    s = client.stub()->UpdateAgreement(&ctx, req, &r);
  } else {
    node::v1::InstallAgreementRequest req;
    req.set_text(text);
    req.set_fingerprint(fingerprint);
    s = client.stub()->InstallAgreement(&ctx, req, &r);
  }
  if (!s.ok()) return client.Fail(s);
  PrintAgreementStatus(r);
  return 0;
}

int CmdAgreementShow(Client& client) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::AgreementStatus r;
  grpc::Status s = client.stub()->GetAgreement(&ctx, node::v1::GetAgreementRequest(), &r);
  if (!s.ok()) return client.Fail(s);
  PrintAgreementStatus(r);
  return 0;
}

std::string DecisionName(audit::v1::Decision d) {
  switch (d) {
    case audit::v1::DECISION_ALLOW:
      return "allow";
    case audit::v1::DECISION_DENY:
      return "DENY";
    case audit::v1::DECISION_ERROR:
      return "error";
    default:
      return "?";
  }
}

int CmdAuditRead(Client& client, bool tail, uint64_t from, uint32_t limit, bool json) {
  uint64_t next = std::max<uint64_t>(from, 1);
  while (true) {
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    node::v1::AuditReadRequest req;
    req.set_tail(tail);
    req.set_from_seq(next);
    req.set_limit(tail ? limit : 1000);
    node::v1::AuditReadResponse r;
    grpc::Status s = client.stub()->ReadAudit(&ctx, req, &r);
    if (!s.ok()) return client.Fail(s);
    for (const auto& e : r.entries()) {
      if (json) {
        std::cout << audit::ToJsonLine(e);  // ends with a newline
      } else {
        std::cout << e.seq() << "  "
                  << absl::FormatTime("%Y-%m-%d %H:%M:%S",
                                      absl::FromUnixMicros(e.time_unix_micros()),
                                      absl::UTCTimeZone())
                  << "  " << Pad(e.caller(), 15) << "  " << Pad(e.operation(), 24) << "  "
                  << Pad(DecisionName(e.decision()), 5) << "  " << e.dataset_id()
                  << (e.reason().empty() ? "" : "  (" + e.reason() + ")")
                  << (e.rows_returned() > 0 ? absl::StrCat("  rows=", e.rows_returned()) : "")
                  << (e.peer_address().empty() || e.caller() != "unauthenticated"
                          ? ""
                          : "  from " + e.peer_address())
                  << "\n";
      }
    }
    if (tail || r.entries().empty()) break;
    next = r.entries(r.entries_size() - 1).seq() + 1;
    if (next > r.last_seq()) break;
  }
  return 0;
}

int CmdAuditVerify(Client& client) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::AuditVerifyResponse r;
  grpc::Status s = client.stub()->VerifyAudit(&ctx, node::v1::AuditVerifyRequest(), &r);
  if (!s.ok()) return client.Fail(s);
  if (r.ok()) {
    std::cout << "audit log intact: " << r.entries_checked() << " entries, hash chain verified";
    if (r.archived_through() > 0) {
      std::cout << " from the chain anchor at entry " << r.archived_through()
                << " (entries up to it archived)";
    }
    std::cout << "\n";
    return 0;
  }
  std::cout << "audit log BROKEN: " << r.problem() << " (" << r.entries_checked()
            << " entries checked)\n";
  return kExitFailed;
}

std::string FormatMicros(int64_t unix_micros) {
  return agreement::FormatRfc3339(absl::FromUnixMicros(unix_micros));
}

// --before: an RFC 3339 time or a date (midnight UTC).
absl::StatusOr<absl::Time> ParseBefore(const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) return t;
  return agreement::ParseRfc3339(text, "--before");
}

int CmdAuditArchive(Client& client, const std::string& before_text, int older_than_days,
                    const std::string& out) {
  absl::Time before;
  if (!before_text.empty() && older_than_days < 0) {
    absl::StatusOr<absl::Time> t = ParseBefore(before_text);
    if (!t.ok()) {
      std::cerr << "fedctl: --before: \"" << before_text
                << "\" is neither a date (2026-01-31) nor an RFC 3339 time\n";
      return kExitUsage;
    }
    before = *t;
  } else if (before_text.empty() && older_than_days >= 0) {
    before = absl::Now() - absl::Hours(24) * older_than_days;
  } else {
    std::cerr << "fedctl: audit archive needs exactly one of --before DATE and "
                 "--older-than-days N\n";
    return kExitUsage;
  }
  node::v1::AuditArchiveRequest req;
  req.set_before_unix_micros(absl::ToUnixMicros(before));
  if (!out.empty()) {
    std::error_code ec;
    req.set_path(std::filesystem::absolute(out, ec).lexically_normal().string());
  }
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::AuditArchiveResponse r;
  grpc::Status s = client.stub()->ArchiveAudit(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  if (r.count() == 0) {
    std::cout << "no audit entry before " << agreement::FormatRfc3339(before)
              << " is left in the live log; nothing archived\n";
    return 0;
  }
  std::cout << "archived entries " << r.first_seq() << ".." << r.last_seq() << " (" << r.count()
            << ") to " << r.path() << "\n"
            << "sha256 " << r.sha256() << "\n"
            << "the live log continues from entry " << r.last_seq() << " (hash " << r.last_hash()
            << "); the cut is audit entry " << r.record_seq() << "\n"
            << "check it with: fedctl --config FILE audit verify-archive " << r.path() << "\n";
  if (r.more()) std::cout << "more entries are older: run it again\n";
  return 0;
}

struct VerifyArchiveArgs {
  std::string file;
  std::string cert;
  std::string chain;
  std::string ca;
  std::string data_dir;
  std::string next;
};

// Offline: the archive's chain and signature, and its links to the next
// archive and to the live log.
int CmdAuditVerifyArchive(const Globals& g, VerifyArchiveArgs a) {
  if (!g.config.empty()) {
    absl::StatusOr<config::v1::NodeConfig> config = server::LoadConfig(g.config);
    if (!config.ok()) {
      std::cerr << "fedctl: " << config.status().message() << "\n";
      return kExitUsage;
    }
    if (a.cert.empty()) a.cert = config->federation().cert_file();
    if (a.chain.empty()) a.chain = config->federation().chain_file();
    if (a.data_dir.empty()) a.data_dir = config->data_dir();
  }
  auto fail = [](absl::string_view what, const absl::Status& status) {
    std::cout << what << "BROKEN: " << status.message() << "\n";
    return kExitFailed;
  };
  absl::StatusOr<audit::v1::AuditArchive> archive = audit::ReadArchiveFile(a.file);
  if (!archive.ok()) return fail("archive   ", archive.status());
  std::string cert_pem;
  std::string pin;
  audit::SignatureVerifier verify;
  if (!a.cert.empty()) {
    absl::StatusOr<std::string> pem = ReadLocal(a.cert);
    absl::StatusOr<std::string> spki =
        pem.ok() ? certs::SpkiSha256(*pem) : absl::StatusOr<std::string>(pem.status());
    if (!spki.ok()) {
      std::cerr << "fedctl: --cert " << a.cert << ": " << spki.status().message() << "\n";
      return kExitUsage;
    }
    cert_pem = *pem;
    pin = *spki;
    verify = [cert_pem, pin](absl::string_view data, absl::string_view signature,
                             absl::string_view spki_sha256) -> absl::Status {
      if (spki_sha256 != pin) {
        return absl::PermissionDeniedError(
            absl::StrCat("signed by key ", spki_sha256, ", not by the certificate's key ", pin));
      }
      return certs::VerifySignature(cert_pem, data, signature);
    };
  }
  const audit::v1::ArchiveStatement& st = archive->statement();
  std::cout << "archive   " << a.file << ": entries " << st.first_seq() << ".." << st.last_seq()
            << " (" << st.count() << ") of member " << st.member_ags() << ", "
            << FormatMicros(st.first_time_unix_micros()) << " .. "
            << FormatMicros(st.last_time_unix_micros()) << "\n";
  absl::StatusOr<audit::ArchiveReport> report = audit::VerifyArchive(*archive, verify);
  if (!report.ok()) return fail("chain     ", report.status());
  std::cout << "chain     hash chain verified; continues from " << st.prev_hash() << "\n";
  if (verify) {
    std::cout << "signature verified with " << a.cert << " (key " << pin << ")\n";
    if (!a.ca.empty()) {
      absl::StatusOr<std::string> ca = ReadLocal(a.ca);
      std::vector<std::string> chain;
      if (!a.chain.empty()) {
        absl::StatusOr<std::string> chain_pem = ReadLocal(a.chain);
        if (chain_pem.ok()) {
          chain = certs::SplitPemCertificates(*chain_pem).value_or(std::vector<std::string>());
        }
      }
      absl::Status trusted =
          ca.ok() ? certs::VerifyChain(cert_pem, chain, {*ca}, {},
                                       absl::FromUnixMicros(st.created_unix_micros()))
                  : ca.status();
      if (!trusted.ok()) return fail("cert      ", trusted);
      std::cout << "cert      chains to " << a.ca << " at the archive's creation\n";
    }
  } else {
    std::cout << "signature NOT checked: give --cert (the node's certificate) or --config\n";
  }
  if (!a.next.empty()) {
    absl::StatusOr<audit::v1::AuditArchive> next = audit::ReadArchiveFile(a.next);
    absl::StatusOr<audit::ArchiveReport> next_report =
        next.ok() ? audit::VerifyArchive(*next, verify)
                  : absl::StatusOr<audit::ArchiveReport>(next.status());
    if (!next_report.ok()) return fail("next      ", next_report.status());
    absl::Status linked = audit::CheckArchivesLink(st, next_report->statement);
    if (!linked.ok()) return fail("next      ", linked);
    std::cout << "next      " << a.next << " (entries " << next_report->statement.first_seq()
              << ".." << next_report->statement.last_seq() << ") continues this archive\n";
  }
  if (!a.data_dir.empty()) {
    storage::DatasetStoreOptions o;
    o.path = a.data_dir;
    o.create_if_missing = false;
    o.read_only = true;
    o.segment_cache_bytes = 0;
    absl::StatusOr<std::unique_ptr<storage::DatasetStore>> store = storage::DatasetStore::Open(o);
    if (!store.ok()) return fail("live log  ", store.status());
    absl::StatusOr<std::string> linked = audit::CheckArchiveLinksToStore(st, store->get());
    if (linked.status().code() == absl::StatusCode::kFailedPrecondition && !a.next.empty()) {
      // An older archive: the live log continues from a later one, which
      // --next linked to above; not a break.
      std::cout << "live log  continues from a later archive (linked through --next)\n";
    } else if (!linked.ok()) {
      return fail("live log  ", linked.status());
    } else {
      std::cout << "live log  " << *linked << "\n";
    }
  }
  if (!verify) {
    // Not a pass: without the certificate anyone could have written it.
    std::cout << "result    NOT VERIFIED: the chain holds, but the signature was not checked\n";
    return kExitFailed;
  }
  std::cout << "result    valid\n";
  return 0;
}

void PrintBackupReport(const server::BackupReport& r) {
  const auto& m = r.manifest;
  std::cout << "backup of " << m.member_ags() << " " << m.member_name() << ", taken " << m.created()
            << " by fednode " << m.fednode_version() << " (storage format " << m.format_version()
            << ")\n"
            << "files:    " << r.files_checked << " (" << r.bytes_checked
            << " bytes), sizes and SHA-256 as in the manifest; table checksums verified\n"
            << "datasets: " << r.datasets_checked << " (" << Rows(r.rows_checked)
            << " read), catalog and data agree\n"
            << "audit:    " << r.audit_entries_checked << " entries, hash chain verified\n";
  for (const std::string& note : r.notes) std::cout << "note:     " << note << "\n";
}

int CmdBackupCreate(Client& client, const std::string& dir) {
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(dir, ec).lexically_normal().string();
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::CreateBackupRequest req;
  req.set_dir(absolute);
  node::v1::CreateBackupResponse r;
  grpc::Status s = client.stub()->CreateBackup(&ctx, req, &r);
  if (!s.ok()) return client.Fail(s);
  uint64_t bytes = 0;
  for (const auto& f : r.manifest().files()) bytes += f.size();
  uint64_t rows = 0;
  for (const auto& d : r.manifest().datasets()) rows += d.row_count();
  std::cout << "backup written to " << absolute << ": " << r.manifest().datasets_size()
            << (r.manifest().datasets_size() == 1 ? " dataset (" : " datasets (") << Rows(rows)
            << "), audit log up to entry " << r.manifest().audit_last_seq() << ", "
            << r.manifest().files_size() << " files, " << bytes << " bytes\n"
            << "check it with: fedctl backup verify " << absolute << "\n";
  return 0;
}

int CmdBackupVerify(const std::string& dir) {
  absl::StatusOr<server::BackupReport> r = server::VerifyBackup(dir);
  if (!r.ok()) {
    std::cerr << "fedctl: backup " << dir << " is NOT usable: " << r.status().message() << "\n";
    return kExitFailed;
  }
  PrintBackupReport(*r);
  std::cout << "backup " << dir << " verified\n";
  return 0;
}

int CmdBackupRestore(const Globals& g, const std::string& dir, std::string data_dir) {
  std::string member;
  if (!g.config.empty()) {
    absl::StatusOr<config::v1::NodeConfig> config = server::LoadConfig(g.config);
    if (!config.ok()) {
      std::cerr << "fedctl: " << config.status().message() << "\n";
      return kExitUsage;
    }
    member = config->member_ags();
    if (data_dir.empty()) data_dir = config->data_dir();
  }
  if (data_dir.empty()) {
    std::cerr << "fedctl: backup restore needs --data-dir DIR or --config FILE (its data_dir)\n";
    return kExitUsage;
  }
  absl::StatusOr<server::BackupReport> r = server::RestoreBackup(dir, data_dir, member);
  if (!r.ok()) {
    std::cerr << "fedctl: restore refused: " << r.status().message() << "\n";
    return kExitFailed;
  }
  PrintBackupReport(*r);
  std::cout << "restored into " << data_dir << "; start fednode on it\n";
  return 0;
}

int CmdCredentialsReload(Client& client) {
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  node::v1::ReloadCredentialsResponse r;
  grpc::Status s = client.stub()->ReloadCredentials(&ctx, node::v1::ReloadCredentialsRequest(), &r);
  if (!s.ok()) return client.Fail(s);
  std::cout << "credentials in use: key " << r.spki_sha256() << ", valid until " << r.not_after()
            << "\n";
  return 0;
}

int Run(int argc, char** argv) {
  CLI::App app{"fedctl: operate a fednode node (municipal federated data exchange)", "fedctl"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--socket", g.socket, "Admin socket of the node");
  app.add_option("--config", g.config, "The node's config file (to find its admin socket)");
  app.add_option("--timeout", g.timeout_seconds, "Deadline of the call in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* status = app.add_subcommand("status", "Show the node's member, data and version");
  auto* health = app.add_subcommand(
      "health", "gRPC health check of the node (exit 0 when SERVING; for systemd and containers)");

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
  import->add_option("--schema,--spec", ia.schema,
                     "Schema file (textproto ImportSpec, as `fedctl schema infer` prints)");
  import->add_option("--metadata", ia.metadata, "Catalog metadata (textproto DatasetMetadata)");
  import->add_option("--mode", ia.mode, "replace, append or upsert")->capture_default_str();
  import->add_option("--format", ia.format, "csv or json (default: from the file name)");
  import->add_option("--delimiter", ia.delimiter, "Overrides the schema file's delimiter");

  auto* cat = app.add_subcommand("catalog", "List, search, show and export catalog entries");
  std::vector<std::string> words;
  cat->add_option("words", words, "Search words (all must match; umlauts folded)");
  bool federation_catalog = false, refresh_catalog = false;
  cat->add_flag("--federation", federation_catalog,
                "Search the whole federation's catalog (own and harvested entries)");
  cat->add_flag("--refresh", refresh_catalog,
                "With --federation: harvest every member's catalog now, then search");
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
  query->add_option("sql", sql, "SELECT ... FROM dataset ... (- reads it from standard input)")
      ->required();
  query->add_option("--format", qformat, "table, csv or json")->capture_default_str();
  std::string qpeer, qpurpose;
  query->add_option("--peer", qpeer, "Ask this member (AGS) over the federation instead");
  query->add_option("--purpose", qpurpose,
                    "Purpose declared to the peer (its grant may require one)");
  auto* agg = app.add_subcommand(
      "aggregate", "Regional statistic over every member's dataset of one kind (county node)");
  AggregateArgs aa;
  agg->add_option("sql", aa.sql,
                  "SELECT with aggregates and GROUP BY (- reads it from standard input)")
      ->required();
  agg->add_option("--conforms-to", aa.conforms_to, "Schema id of the members' datasets")
      ->required();
  agg->add_option("--purpose", aa.purpose, "Purpose declared to the members");
  agg->add_flag("--by-member", aa.by_member, "One row per member and group, with totals");
  agg->add_flag("--threshold-in-members", aa.threshold_members,
                "Minimum cell count counts members, not rows");
  agg->add_option("--format", aa.format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  agg->add_option("--deadline", aa.timeout, "Seconds for the whole fan-out")->capture_default_str();
  agg->add_option("--store", aa.store, "Store the result as this dataset on the county node");
  agg->add_option("--metadata", aa.metadata, "Catalog metadata of the stored result (textproto)");
  agg->add_option("--min-cell-count", aa.min_cell_count,
                  "A stricter minimum cell count than the grants require");
  agg->add_option("--members", aa.members,
                  "Ask only these members (AGS, comma-separated); the result is then partial")
      ->delimiter(',');
  auto* peers = app.add_subcommand("peers", "Ping every member now and show their health");
  auto* ping = app.add_subcommand("ping", "Call a member's node over the federation (mTLS)");
  std::string ping_peer;
  ping->add_option("ags", ping_peer, "Member AGS")->required();

  auto* del = app.add_subcommand("delete", "Delete a dataset and its catalog entry");
  std::string del_id;
  del->add_option("id", del_id, "Dataset id")->required();

  // PKI (local; writes files, never prints a private key).
  auto* pki = app.add_subcommand("pki", "Federation PKI: CA, node certificates, CRL, pins (local)");
  pki->require_subcommand(1);
  certs::PkiInitCaArgs init_ca;
  auto* pki_init = pki->add_subcommand("init-ca", "Create the federation root CA");
  pki_init->add_option("--dir", init_ca.dir, "CA directory")->required();
  pki_init->add_option("--name", init_ca.name, "CA common name")->required();
  pki_init->add_option("--organization", init_ca.organization, "Organization");
  pki_init->add_option("--days", init_ca.days, "Validity in days")->capture_default_str();
  pki_init->add_flag("--force", init_ca.force, "Replace an existing CA");
  certs::PkiIssueArgs issue;
  auto* pki_issue = pki->add_subcommand("issue", "Issue a node certificate for a member");
  pki_issue->add_option("--ca-dir", issue.ca_dir, "Issuing CA directory")->required();
  pki_issue->add_option("--ags", issue.ags, "Member AGS (5 or 8 digits)")->required();
  pki_issue->add_option("--name", issue.name, "Certificate common name");
  pki_issue->add_option("--dns", issue.dns_names, "DNS name of the node (repeatable)");
  pki_issue->add_option("--ip", issue.ip_addresses, "IP address of the node (repeatable)");
  pki_issue->add_option("--days", issue.days, "Validity in days")->capture_default_str();
  pki_issue->add_option("--out-dir", issue.out_dir, "Output directory")->required();
  pki_issue->add_flag("--force", issue.force, "Replace existing files");
  certs::PkiIntermediateArgs inter;
  auto* pki_inter = pki->add_subcommand("intermediate", "Issue an intermediate CA");
  pki_inter->add_option("--ca-dir", inter.ca_dir, "Issuing CA directory")->required();
  pki_inter->add_option("--name", inter.name, "Common name")->required();
  pki_inter->add_option("--organization", inter.organization, "Organization");
  pki_inter->add_option("--days", inter.days, "Validity in days")->capture_default_str();
  pki_inter->add_option("--out-dir", inter.out_dir, "Output CA directory")->required();
  pki_inter->add_flag("--force", inter.force, "Replace existing files");
  certs::PkiRevokeArgs revoke;
  auto* pki_revoke = pki->add_subcommand("revoke", "Revoke a certificate and reissue the CRL");
  pki_revoke->add_option("--ca-dir", revoke.ca_dir, "Issuing CA directory")->required();
  pki_revoke->add_option("cert", revoke.cert_path, "Certificate to revoke")->required();
  pki_revoke->add_option("--crl-days", revoke.crl_days, "CRL validity")->capture_default_str();
  certs::PkiCrlArgs crl;
  auto* pki_crl = pki->add_subcommand("crl", "Reissue the CA's CRL");
  pki_crl->add_option("--ca-dir", crl.ca_dir, "CA directory")->required();
  pki_crl->add_option("--days", crl.days, "CRL validity")->capture_default_str();
  certs::PkiPinArgs pin;
  auto* pki_pin = pki->add_subcommand("pin", "Print a certificate's SPKI SHA-256 pin");
  pki_pin->add_option("cert", pin.cert_path, "Certificate (PEM)")->required();
  certs::PkiShowArgs pshow;
  auto* pki_show = pki->add_subcommand("show", "Show a certificate: subject, AGS, validity, pin");
  pki_show->add_option("cert", pshow.cert_path, "Certificate (PEM)")->required();

  // The agreement.
  auto* agr = app.add_subcommand("agreement", "The signed cooperation agreement");
  agr->require_subcommand(1);
  agreement::AgreementSignArgs sign;
  auto* agr_sign = agr->add_subcommand("sign", "Sign an agreement file as a member (local)");
  agr_sign->add_option("file", sign.agreement_path, "Agreement file")->required();
  agr_sign->add_option("--ags", sign.signer_ags, "Signing member's AGS")->required();
  agr_sign->add_option("--key", sign.key_path, "Member's node key")->required();
  agr_sign->add_option("--cert", sign.cert_path, "Member's node certificate")->required();
  agreement::AgreementVerifyArgs verify;
  auto* agr_verify = agr->add_subcommand("verify", "Verify an agreement file (local)");
  agr_verify->add_option("file", verify.agreement_path, "Agreement file")->required();
  agr_verify->add_option("--current", verify.current_path,
                         "The agreement in force: check the file as its amendment");
  agr_verify->add_option("--fingerprint", verify.expected_fingerprint,
                         "Expected fingerprint (first installation)");
  std::string install_file, install_fp;
  auto* agr_install = agr->add_subcommand("install", "Install the first agreement on the node");
  agr_install->add_option("file", install_file, "Signed agreement file")->required();
  agr_install
      ->add_option("--fingerprint", install_fp, "Fingerprint compared with the other members")
      ->required();
  std::string update_file;
  auto* agr_update = agr->add_subcommand("update", "Install an amendment on the node");
  agr_update->add_option("file", update_file, "Signed agreement file")->required();
  auto* agr_show = agr->add_subcommand("show", "Show the agreement in force on the node");

  // The audit log.
  auto* aud = app.add_subcommand("audit", "The node's hash-chained audit log");
  aud->require_subcommand(1);
  uint32_t tail_n = 20;
  auto* aud_tail = aud->add_subcommand("tail", "Show the last entries");
  aud_tail->add_option("-n", tail_n, "Number of entries")->capture_default_str();
  bool tail_json = false;
  aud_tail->add_flag("--json", tail_json, "JSON lines");
  auto* aud_verify = aud->add_subcommand("verify", "Verify the hash chain and signed heads");
  uint64_t export_from = 1;
  auto* aud_export = aud->add_subcommand("export", "Export entries as JSON lines");
  aud_export->add_option("--from", export_from, "First sequence number")->capture_default_str();
  std::string archive_before, archive_out;
  int archive_days = -1;
  auto* aud_archive = aud->add_subcommand(
      "archive", "Move old entries into a signed archive file and cut them from the live log");
  aud_archive->add_option("--before", archive_before,
                          "Archive the entries before this date (2026-01-31, UTC) or time");
  aud_archive->add_option("--older-than-days", archive_days,
                          "Archive the entries older than N days");
  aud_archive->add_option("--out", archive_out,
                          "Archive file on the node's machine (default: in audit.archive_dir)");
  VerifyArchiveArgs va;
  auto* aud_verify_archive = aud->add_subcommand(
      "verify-archive", "Check an archive file offline: chain, signature, links (local)");
  aud_verify_archive->add_option("file", va.file, "Archive file")->required();
  aud_verify_archive->add_option("--cert", va.cert,
                                 "The node's certificate (default: cert_file of --config)");
  aud_verify_archive->add_option("--chain", va.chain, "Intermediate certificates (with --ca)");
  aud_verify_archive->add_option("--ca", va.ca, "Check that the certificate chains to this CA");
  aud_verify_archive->add_option("--data-dir", va.data_dir,
                                 "The node's data directory: check that the live log continues "
                                 "the archive (default: data_dir of --config)");
  aud_verify_archive->add_option("--next", va.next, "The following archive: check the link");

  auto* cred = app.add_subcommand("credentials", "The node's TLS credentials");
  cred->require_subcommand(1);
  auto* cred_reload = cred->add_subcommand("reload", "Re-read key and certificate files now");

  auto* backup = app.add_subcommand("backup", "Back up, verify and restore the node's database");
  backup->require_subcommand(1);
  std::string backup_dir, restore_data_dir;
  auto* bk_create = backup->add_subcommand(
      "create", "Consistent online backup of data, catalog and audit log into a new directory");
  bk_create->add_option("dir", backup_dir, "New or empty directory (on the node's machine)")
      ->required();
  auto* bk_verify =
      backup->add_subcommand("verify", "Check a backup: files, checksums, catalog, audit (local)");
  bk_verify->add_option("dir", backup_dir, "Backup directory")->required();
  auto* bk_restore = backup->add_subcommand(
      "restore", "Verify a backup and restore it into an empty data directory (node stopped)");
  bk_restore->add_option("dir", backup_dir, "Backup directory")->required();
  bk_restore->add_option("--data-dir", restore_data_dir,
                         "New or empty data directory (default: data_dir of --config)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  if (infer->parsed()) return CmdSchemaInfer(infer_file, infer_dataset, infer_delim, infer_format);
  if (pki_init->parsed()) return certs::RunPkiInitCa(init_ca, std::cout, std::cerr);
  if (pki_issue->parsed()) return certs::RunPkiIssue(issue, std::cout, std::cerr);
  if (pki_inter->parsed()) return certs::RunPkiIntermediate(inter, std::cout, std::cerr);
  if (pki_revoke->parsed()) return certs::RunPkiRevoke(revoke, std::cout, std::cerr);
  if (pki_crl->parsed()) return certs::RunPkiCrl(crl, std::cout, std::cerr);
  if (pki_pin->parsed()) return certs::RunPkiPin(pin, std::cout, std::cerr);
  if (pki_show->parsed()) return certs::RunPkiShow(pshow, std::cout, std::cerr);
  if (agr_sign->parsed()) {
    sign.now = absl::Now();
    return agreement::RunAgreementSign(sign, std::cout, std::cerr);
  }
  if (agr_verify->parsed()) {
    verify.now = absl::Now();
    return agreement::RunAgreementVerify(verify, std::cout, std::cerr);
  }

  if (bk_verify->parsed()) return CmdBackupVerify(backup_dir);
  if (aud_verify_archive->parsed()) return CmdAuditVerifyArchive(g, va);
  if (bk_restore->parsed()) return CmdBackupRestore(g, backup_dir, restore_data_dir);

  Client client(g);
  if (!client.Connect()) return kExitUsage;
  if (bk_create->parsed()) return CmdBackupCreate(client, backup_dir);
  if (status->parsed()) return CmdStatus(client);
  if (health->parsed()) return CmdHealth(client);
  if (import->parsed()) return CmdImport(client, ia);
  if (show->parsed()) return CmdCatalogShow(client, show_id);
  if (exp->parsed()) return CmdCatalogExport(client, exp_format, exp_out);
  if (setmd->parsed()) return CmdSetMetadata(client, setmd_id, setmd_file);
  if (cat->parsed() && (federation_catalog || refresh_catalog)) {
    if (!federation_catalog) {
      std::cerr << "fedctl: --refresh needs --federation\n";
      return kExitUsage;
    }
    return CmdFederationCatalog(client, words, refresh_catalog);
  }
  if (cat->parsed()) return CmdCatalogList(client, words);
  if ((query->parsed() && !ResolveSql(&sql)) || (agg->parsed() && !ResolveSql(&aa.sql))) {
    return kExitUsage;
  }
  if (query->parsed() && !qpeer.empty()) return CmdQueryPeer(client, qpeer, sql, qpurpose, qformat);
  if (query->parsed()) return CmdQuery(client, sql, qformat);
  if (ping->parsed()) return CmdPingPeer(client, ping_peer);
  if (peers->parsed()) return CmdPeers(client);
  if (agg->parsed()) return CmdAggregate(client, aa);
  if (del->parsed()) return CmdDelete(client, del_id);
  if (agr_install->parsed()) return CmdAgreementInstall(client, install_file, install_fp, false);
  if (agr_update->parsed()) return CmdAgreementInstall(client, update_file, "", true);
  if (agr_show->parsed()) return CmdAgreementShow(client);
  if (aud_tail->parsed()) return CmdAuditRead(client, true, 0, tail_n, tail_json);
  if (aud_verify->parsed()) return CmdAuditVerify(client);
  if (aud_export->parsed()) return CmdAuditRead(client, false, export_from, 0, true);
  if (aud_archive->parsed()) {
    return CmdAuditArchive(client, archive_before, archive_days, archive_out);
  }
  if (cred_reload->parsed()) return CmdCredentialsReload(client);
  return kExitUsage;
}

}  // namespace
}  // namespace fednode::cli

int main(int argc, char** argv) { return fednode::cli::Run(argc, argv); }
