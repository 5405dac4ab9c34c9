// Helper of tests/bench/scan_memory.sh, which measures a fednode process's
// peak RSS while it answers a 10 M-row scan (issue 5: "a 10 M-row scan stays
// under 200 MB"). Two commands:
//
//   scan_bench csv --rows N --out FILE
//       writes the benchmarks' generated CSV (bench_csv.h) of N rows to FILE,
//       row by row (the file, not memory, holds the rows).
//   scan_bench query --socket SOCK --sql SQL [--deadline-s S]
//       runs SQL through the node's admin Query, reads the streamed answer
//       and throws the rows away; prints rows, messages and seconds.
//
// Not a Google Benchmark: the figure is the node's memory, read from /proc
// by the script, and one wall time per query.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "proto/node/v1/admin.grpc.pb.h"
#include "tests/bench/bench_csv.h"

namespace {

int WriteCsv(int64_t rows, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::cerr << "scan_bench: cannot write " << path << "\n";
    return 1;
  }
  std::string buf = fednode::bench::kCsvHeader;
  for (int64_t i = 0; i < rows; ++i) {
    fednode::bench::AppendCsvRow(i, &buf);
    if (buf.size() >= (size_t{1} << 20) || i + 1 == rows) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        std::cerr << "scan_bench: writing " << path << " failed\n";
        std::fclose(f);
        return 1;
      }
      buf.clear();
    }
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

int Query(const std::string& socket, const std::string& sql, int deadline_s) {
  auto stub = fednode::node::v1::AdminService::NewStub(
      grpc::CreateChannel(absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_s));
  fednode::node::v1::QueryRequest request;
  request.set_sql(sql);
  const auto start = std::chrono::steady_clock::now();
  auto reader = stub->Query(&ctx, request);
  fednode::node::v1::QueryResponse message;
  uint64_t rows = 0, messages = 0;
  while (reader->Read(&message)) {
    rows += static_cast<uint64_t>(message.rows_size());
    ++messages;
  }
  const grpc::Status status = reader->Finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) {
    std::cerr << "scan_bench: " << status.error_message() << "\n";
    return 1;
  }
  std::printf("rows %" PRIu64 " messages %" PRIu64 " seconds %.2f\n", rows, messages, seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scan memory benchmark helper"};
  app.require_subcommand(1);
  int64_t rows = 10'000'000;
  std::string out, socket, sql;
  int deadline_s = 600;
  auto* csv = app.add_subcommand("csv", "Write the generated CSV");
  csv->add_option("--rows", rows)->capture_default_str();
  csv->add_option("--out", out)->required();
  auto* query = app.add_subcommand("query", "Stream a query's answer and discard it");
  query->add_option("--socket", socket)->required();
  query->add_option("--sql", sql)->required();
  query->add_option("--deadline-s", deadline_s)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (csv->parsed()) return WriteCsv(rows, out);
  return Query(socket, sql, deadline_s);
}
