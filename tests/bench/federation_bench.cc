// The federation port against bare gRPC over the same mutual TLS: authorized
// point queries (member authentication by SPKI pin, grant check, durable
// audit entry, scan) against a bare echo service, 64 calls in flight and one
// at a time, and rows streamed to a peer against a raw stream of 64 KiB
// messages. Both servers present the same key, certificate and chain with
// gRPC's TLS credentials, as separate processes; the client side (this
// program) is the same for both, so the ratio is the cost of fednode's work
// per call. Baseline and fednode are measured alternately, several rounds.
// A stream is read as a peer reads it: the node's messages parsed into an
// arena and each column batch checked (as fednode's QueryPeer does), the
// raw 64 KiB messages into one reused Blob.
//
//   federation_bench echo-server --key K --cert C --port-file F
//   federation_bench run --node 127.0.0.1:P --echo 127.0.0.1:Q --key K --cert C --ca CA
//       --point-sql "SELECT ..." --stream-sql "SELECT ..." --purpose P
//
// Prints one "figure" line per measurement for tests/bench/run.sh's table:
//   figure<TAB>name<TAB>value<TAB>unit
// Not a Google Benchmark: the figures are rates and latency distributions of
// remote calls, not the mean time of a loop.
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

#include "node/base/arena_reader.h"
#include "node/query/batch.h"
#include "node/query/sql.h"
#include "proto/federation/v1/federation.grpc.pb.h"
#include "tests/bench/echo.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using fednode::bench::v1::Blob;
using fednode::bench::v1::Echo;
using fednode::bench::v1::StreamRequest;
using fednode::federation::v1::FederationService;
using fednode::federation::v1::QueryRequest;
using fednode::federation::v1::QueryResponse;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "federation_bench: cannot read " << path << "\n";
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// CPU seconds (user and system, all threads) of this process when `pid` is
// 0, else of process `pid` (from /proc, in clock ticks; -1 when unreadable).
double CpuSeconds(pid_t pid) {
  if (pid == 0) {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return sec(u.ru_utime) + sec(u.ru_stime);
  }
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name in parentheses: state is field 3; utime
  // and stime are fields 14 and 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 1));
  std::string skip;
  for (int f = 3; f < 14; ++f) fields >> skip;
  double utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time of this process and of a server process over one stream.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t server) : server_(server), self_(CpuSeconds(0)) {
    if (server_ != 0) server_start_ = CpuSeconds(server_);
  }
  // Milliseconds of CPU since construction: this process's, and the
  // server's (-1 without a server pid).
  double SelfMs() const { return (CpuSeconds(0) - self_) * 1e3; }
  double ServerMs() const {
    return server_ == 0 ? -1 : (CpuSeconds(server_) - server_start_) * 1e3;
  }

 private:
  const pid_t server_;
  const double self_;
  double server_start_ = 0;
};

// ---- The bare echo server ----

class EchoService final : public Echo::Service {
 public:
  grpc::Status Unary(grpc::ServerContext* /*context*/, const Blob* request,
                     Blob* response) override {
    *response = *request;
    return grpc::Status::OK;
  }
  grpc::Status Stream(grpc::ServerContext* /*context*/, const StreamRequest* request,
                      grpc::ServerWriter<Blob>* writer) override {
    const uint64_t size = std::max<uint32_t>(request->message_bytes(), 1);
    Blob blob;
    blob.mutable_payload()->assign(size, 'x');
    for (uint64_t sent = 0; sent < request->total_bytes(); sent += size) {
      if (request->total_bytes() - sent < size)
        blob.mutable_payload()->resize(request->total_bytes() - sent);
      if (!writer->Write(blob)) break;
    }
    return grpc::Status::OK;
  }
};

// The node's federation port credentials (identity::FederationServerCredentials):
// TLS with the identity from files, a client certificate requested. fednode
// then verifies the client's chain and pin per call; the echo does not.
int ServeEcho(const std::string& key, const std::string& cert, const std::string& port_file) {
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(key, cert, 1);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::experimental::TlsServerCredentials(options), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "federation_bench: echo server cannot listen\n";
    return 1;
  }
  {
    std::ofstream out(port_file + ".tmp");
    out << port << "\n";
  }
  std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  server->Wait();  // until killed
  return 0;
}

// ---- The client ----

struct Summary {
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
};

Summary Percentiles(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))]; };
  return {at(0.5), at(0.9), at(0.99)};
}

double Median(std::vector<double> v) { return Percentiles(std::move(v)).p50; }

// One call in flight on the completion queue: a unary echo, or a federation
// Query (a server stream, here of one message).
class Call {
 public:
  virtual ~Call() = default;
  // Starts the call; events come back tagged with `this`.
  virtual void Start(grpc::CompletionQueue* cq) = 0;
  // Handles one event; returns true when the call is complete.
  virtual bool Step(bool ok) = 0;
  virtual bool failed() const = 0;
  virtual std::string error() const = 0;
  Clock::time_point started;
};

class EchoCall final : public Call {
 public:
  EchoCall(Echo::Stub* stub, const Blob* request) : stub_(stub), request_(request) {}
  void Start(grpc::CompletionQueue* cq) override {
    // The reader lives in the call's arena: release it before its context.
    reader_.reset();
    ctx_ = std::make_unique<grpc::ClientContext>();
    reader_ = stub_->PrepareAsyncUnary(ctx_.get(), *request_, cq);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }
  bool Step(bool /*ok*/) override { return true; }
  bool failed() const override { return !status_.ok(); }
  std::string error() const override { return status_.error_message(); }

 private:
  Echo::Stub* stub_;
  const Blob* request_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Blob>> reader_;
  Blob response_;
  grpc::Status status_;
};

class QueryCall final : public Call {
 public:
  QueryCall(FederationService::Stub* stub, const QueryRequest* request)
      : stub_(stub), request_(request) {}
  void Start(grpc::CompletionQueue* cq) override {
    reader_.reset();  // before its context, as above
    ctx_ = std::make_unique<grpc::ClientContext>();
    state_ = State::kStarting;
    rows_ = 0;
    reader_ = stub_->PrepareAsyncQuery(ctx_.get(), *request_, cq);
    reader_->StartCall(this);
  }
  bool Step(bool ok) override {
    switch (state_) {
      case State::kStarting:
      case State::kReading:
        if (state_ == State::kReading && ok) rows_ += response_.rows_size();
        if (ok) {
          state_ = State::kReading;
          reader_->Read(&response_, this);
        } else {
          state_ = State::kFinishing;
          reader_->Finish(&status_, this);
        }
        return false;
      case State::kFinishing:
        return true;
    }
    return true;
  }
  bool failed() const override { return !status_.ok() || rows_ != 1; }
  std::string error() const override {
    return status_.ok() ? absl::StrCat("point query returned ", rows_, " rows, not 1")
                        : status_.error_message();
  }

 private:
  enum class State { kStarting, kReading, kFinishing };
  FederationService::Stub* stub_;
  const QueryRequest* request_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncReader<QueryResponse>> reader_;
  QueryResponse response_;
  grpc::Status status_;
  State state_ = State::kStarting;
  int rows_ = 0;
};

struct LoadResult {
  double calls_per_second = 0;
  Summary latency_ms;
};

// Keeps `calls` (all of one kind) in flight for `seconds` on one completion
// queue: each completed call is started again at once.
LoadResult RunLoad(std::vector<std::unique_ptr<Call>>& calls, double seconds) {
  grpc::CompletionQueue cq;
  for (auto& c : calls) {
    c->started = Clock::now();
    c->Start(&cq);
  }
  const Clock::time_point begin = Clock::now();
  const Clock::time_point end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<double> latencies;
  size_t completed = 0, outstanding = calls.size();
  bool stopping = false;
  void* tag = nullptr;
  bool ok = false;
  while (outstanding > 0 && cq.Next(&tag, &ok)) {
    Call* c = static_cast<Call*>(tag);
    if (!c->Step(ok)) continue;
    const Clock::time_point now = Clock::now();
    if (c->failed()) {
      std::cerr << "federation_bench: call failed: " << c->error() << "\n";
      std::exit(1);
    }
    if (!stopping) {
      ++completed;
      latencies.push_back(std::chrono::duration<double, std::milli>(now - c->started).count());
    }
    if (now >= end) stopping = true;
    if (stopping) {
      --outstanding;
    } else {
      c->started = now;
      c->Start(&cq);
    }
  }
  const double elapsed = std::chrono::duration<double>(end - begin).count();
  return {static_cast<double>(completed) / elapsed, Percentiles(std::move(latencies))};
}

std::shared_ptr<grpc::Channel> MtlsChannel(const std::string& target, const std::string& ca,
                                           const std::string& key, const std::string& cert) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca;
  ssl.pem_private_key = key;
  ssl.pem_cert_chain = cert;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

void Figure(const std::string& name, double value, const std::string& unit) {
  std::printf("figure\t%s\t%.6g\t%s\n", name.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // The same process setting as fednode's main (node/server/main.cc):
  // Debian's abseil records every absl::Mutex lock order for deadlock
  // detection, and gRPC locks absl::Mutex too. Without this line the echo
  // server, the baseline, would pay that cost and the daemon would not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"fednode's federation port against bare gRPC over the same mutual TLS"};
  app.require_subcommand(1);
  std::string key, cert, ca, port_file, node, echo, point_sql, stream_sql, purpose;
  int in_flight = 64, rounds = 3, latency_calls = 2000;
  pid_t node_pid = 0, echo_pid = 0;
  double seconds = 3;
  bool only_load = false, only_stream = false, no_legacy = false;
  CLI::App* serve = app.add_subcommand("echo-server", "Serve the bare echo service");
  serve->add_option("--key", key)->required();
  serve->add_option("--cert", cert, "Certificate followed by its chain")->required();
  serve->add_option("--port-file", port_file)->required();
  CLI::App* run = app.add_subcommand("run", "Measure node against echo");
  run->add_option("--node", node, "The node's federation port, host:port")->required();
  run->add_option("--echo", echo, "The echo server, host:port")->required();
  run->add_option("--key", key, "The caller's key")->required();
  run->add_option("--cert", cert, "The caller's certificate and chain")->required();
  run->add_option("--ca", ca, "The federation's CA certificate")->required();
  run->add_option("--point-sql", point_sql, "A query returning one row")->required();
  run->add_option("--stream-sql", stream_sql, "A query returning many rows");
  run->add_option("--purpose", purpose)->required();
  run->add_option("--in-flight", in_flight)->capture_default_str();
  run->add_option("--seconds", seconds, "Per load phase")->capture_default_str();
  run->add_option("--rounds", rounds)->capture_default_str();
  run->add_option("--latency-calls", latency_calls, "Calls per 1-in-flight phase")
      ->capture_default_str();
  run->add_flag("--only-load", only_load, "Only the point query under load (audit on/off runs)");
  run->add_flag("--only-stream", only_stream,
                "Only the row streams and the raw stream (for profiling the stream)");
  run->add_flag("--no-legacy", no_legacy, "Skip the stream of Row messages");
  run->add_option("--node-pid", node_pid, "The node's process: its CPU time per stream is shown");
  run->add_option("--echo-pid", echo_pid, "The echo server's process, likewise");
  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) return ServeEcho(key, cert, port_file);

  const std::string ca_pem = ReadFile(ca), key_pem = ReadFile(key), cert_pem = ReadFile(cert);
  auto node_stub = FederationService::NewStub(MtlsChannel(node, ca_pem, key_pem, cert_pem));
  auto echo_stub = Echo::NewStub(MtlsChannel(echo, ca_pem, key_pem, cert_pem));

  auto parsed = fednode::query::ParseSql(point_sql);
  if (!parsed.ok()) {
    std::cerr << "federation_bench: --point-sql: " << parsed.status().message() << "\n";
    return 2;
  }
  QueryRequest point;
  *point.mutable_plan() = *parsed;
  point.set_purpose(purpose);

  // The echo carries as many bytes each way as the point query: the request
  // and the one answer message.
  QueryResponse sample;
  {
    grpc::ClientContext ctx;
    auto reader = node_stub->Query(&ctx, point);
    QueryResponse m;
    while (reader->Read(&m)) sample.MergeFrom(m);
    grpc::Status s = reader->Finish();
    if (!s.ok() || sample.rows_size() != 1) {
      std::cerr << "federation_bench: the point query must return one row: "
                << (s.ok() ? absl::StrCat(sample.rows_size(), " rows") : s.error_message()) << "\n";
      return 1;
    }
  }
  Blob echo_request;
  echo_request.mutable_payload()->assign(sample.ByteSizeLong(), 'x');

  std::vector<double> echo_rate, node_rate, echo_p50, node_p50, echo_mbps, node_mbps;
  std::vector<double> legacy_mbps, node_rows, legacy_rows;
  // The column-batch stream's size and rows, read once (see below).
  uint64_t stream_bytes = 0, stream_rows = 0;
  // CPU milliseconds per stream: the server's and this client's.
  std::vector<double> node_cpu, batch_client_cpu, echo_cpu, raw_client_cpu;
  // CPU microseconds per call under load: the client's and the server's.
  std::vector<double> echo_client_us, echo_server_us, point_client_us, point_node_us;
  for (int r = 0; r < rounds; ++r) {
    // Under load: `in_flight` calls on one completion queue.
    if (!only_stream) {
      std::vector<std::unique_ptr<Call>> calls;
      for (int i = 0; i < in_flight; ++i) {
        calls.push_back(std::make_unique<EchoCall>(echo_stub.get(), &echo_request));
      }
      const CpuMeter cpu(echo_pid);
      echo_rate.push_back(RunLoad(calls, seconds).calls_per_second);
      const double calls_done = echo_rate.back() * seconds;
      echo_client_us.push_back(cpu.SelfMs() * 1e3 / calls_done);
      if (echo_pid != 0) echo_server_us.push_back(cpu.ServerMs() * 1e3 / calls_done);
    }
    if (!only_stream) {
      std::vector<std::unique_ptr<Call>> calls;
      for (int i = 0; i < in_flight; ++i) {
        calls.push_back(std::make_unique<QueryCall>(node_stub.get(), &point));
      }
      const CpuMeter cpu(node_pid);
      node_rate.push_back(RunLoad(calls, seconds).calls_per_second);
      const double calls_done = node_rate.back() * seconds;
      point_client_us.push_back(cpu.SelfMs() * 1e3 / calls_done);
      if (node_pid != 0) point_node_us.push_back(cpu.ServerMs() * 1e3 / calls_done);
    }
    if (only_load) continue;
    // One at a time: latency.
    if (!only_stream) {
      std::vector<double> e, n;
      for (int i = 0; i < latency_calls; ++i) {
        {
          grpc::ClientContext ctx;
          Blob out;
          const Clock::time_point t = Clock::now();
          grpc::Status s = echo_stub->Unary(&ctx, echo_request, &out);
          e.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
          if (!s.ok()) return 1;
        }
        {
          grpc::ClientContext ctx;
          const Clock::time_point t = Clock::now();
          auto reader = node_stub->Query(&ctx, point);
          QueryResponse m;
          int rows = 0;
          while (reader->Read(&m)) rows += m.rows_size();
          grpc::Status s = reader->Finish();
          n.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
          if (!s.ok() || rows != 1) {
            std::cerr << "federation_bench: point query: " << s.error_message() << "\n";
            return 1;
          }
        }
      }
      echo_p50.push_back(Median(e));
      node_p50.push_back(Median(n));
    }
    // Streaming: the node's rows, then the same number of bytes raw.
    if (!stream_sql.empty()) {
      auto plan = fednode::query::ParseSql(stream_sql);
      if (!plan.ok()) {
        std::cerr << "federation_bench: --stream-sql: " << plan.status().message() << "\n";
        return 2;
      }
      QueryRequest req;
      *req.mutable_plan() = *plan;
      req.set_purpose(purpose);
      uint64_t bytes = 0, rows = 0;
      // The stream's size in bytes, from one stream read before the timed
      // ones (which also fills the node's segment cache): a peer does not
      // compute the size of what it reads, and ByteSizeLong of a batch walks
      // every packed varint (5 % of the reader's CPU in perf).
      if (r == 0) {
        req.set_column_batches(true);
        grpc::ClientContext ctx;
        auto reader = node_stub->Query(&ctx, req);
        fednode::ArenaReader<QueryResponse> in;
        while (in.Read(reader.get())) {
          stream_bytes += in.message().ByteSizeLong();
          stream_rows += in.message().batch().row_count();
        }
        if (grpc::Status s = reader->Finish(); !s.ok()) {
          std::cerr << "federation_bench: stream: " << s.error_message() << "\n";
          return 1;
        }
      }
      // Rows as Row messages (the older form), then as column batches.
      for (bool batches : {false, true}) {
        if (!batches && no_legacy) continue;
        req.set_column_batches(batches);
        grpc::ClientContext ctx;
        const CpuMeter cpu(node_pid);
        const Clock::time_point t = Clock::now();
        auto reader = node_stub->Query(&ctx, req);
        // As a peer reads them (QueryPeer): each message parsed into an
        // arena, and a batch checked before its rows are used.
        fednode::ArenaReader<QueryResponse> in;
        fednode::query::ResultColumns columns;
        absl::Status malformed;
        bytes = 0;
        rows = 0;
        while (malformed.ok() && in.Read(reader.get())) {
          const QueryResponse& m = in.message();
          if (m.columns_size() > 0) columns = m.columns();
          if (m.has_batch()) malformed = fednode::query::ValidateBatch(columns, m.batch());
          if (!batches) bytes += m.ByteSizeLong();
          rows += static_cast<uint64_t>(m.rows_size()) + m.batch().row_count();
        }
        if (batches) {
          if (rows != stream_rows) {
            std::cerr << "federation_bench: stream: " << rows << " rows, the first stream "
                      << stream_rows << "\n";
            return 1;
          }
          bytes = stream_bytes;
        }
        if (!malformed.ok()) {
          std::cerr << "federation_bench: stream: " << malformed.message() << "\n";
          return 1;
        }
        grpc::Status s = reader->Finish();
        const double sec = std::chrono::duration<double>(Clock::now() - t).count();
        if (!s.ok()) {
          std::cerr << "federation_bench: stream: " << s.error_message() << "\n";
          return 1;
        }
        (batches ? node_mbps : legacy_mbps).push_back(static_cast<double>(bytes) / sec / 1e6);
        (batches ? node_rows : legacy_rows).push_back(static_cast<double>(rows) / sec);
        if (batches) {
          node_cpu.push_back(cpu.ServerMs());
          batch_client_cpu.push_back(cpu.SelfMs());
        }
      }
      {
        grpc::ClientContext ctx;
        StreamRequest sr;
        sr.set_total_bytes(bytes);
        sr.set_message_bytes(64 << 10);
        const CpuMeter cpu(echo_pid);
        const Clock::time_point t = Clock::now();
        auto reader = echo_stub->Stream(&ctx, sr);
        // One Blob reused: its payload keeps its capacity from message to
        // message, the cheapest way to read this stream.
        Blob m;
        uint64_t got = 0;
        while (reader->Read(&m)) got += m.ByteSizeLong();
        grpc::Status s = reader->Finish();
        const double sec = std::chrono::duration<double>(Clock::now() - t).count();
        if (!s.ok()) return 1;
        echo_mbps.push_back(static_cast<double>(got) / sec / 1e6);
        echo_cpu.push_back(cpu.ServerMs());
        raw_client_cpu.push_back(cpu.SelfMs());
      }
      if (r == 0) Figure("stream_rows", static_cast<double>(rows), "rows");
    }
  }
  auto spread = [](const std::vector<double>& v) {
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return absl::StrCat("min ", *lo, " max ", *hi);
  };
  if (!only_stream) {
    Figure("echo_calls_per_s", Median(echo_rate), "calls/s");
    Figure("point_calls_per_s", Median(node_rate), "calls/s");
    std::cerr << "echo calls/s " << spread(echo_rate) << "; point query calls/s "
              << spread(node_rate) << "\n";
    // CPU per call, which other load on the machine moves less than the
    // rates: both ends of each call share the machine's cores.
    Figure("echo_client_cpu_us_per_call", Median(echo_client_us), "us");
    Figure("point_client_cpu_us_per_call", Median(point_client_us), "us");
    if (!echo_server_us.empty()) {
      Figure("echo_server_cpu_us_per_call", Median(echo_server_us), "us");
    }
    if (!point_node_us.empty()) Figure("point_node_cpu_us_per_call", Median(point_node_us), "us");
  }
  if (!only_load && !only_stream) {
    Figure("echo_p50_ms", Median(echo_p50), "ms");
    Figure("point_p50_ms", Median(node_p50), "ms");
    std::cerr << "echo p50 ms " << spread(echo_p50) << "; point query p50 ms " << spread(node_p50)
              << "\n";
  }
  if (!node_mbps.empty()) {
    Figure("raw_stream_MB_per_s", Median(echo_mbps), "MB/s");
    Figure("row_stream_MB_per_s", Median(node_mbps), "MB/s");
    Figure("row_stream_rows_per_s", Median(node_rows), "rows/s");
    std::cerr << "raw stream MB/s " << spread(echo_mbps) << "; column batches MB/s "
              << spread(node_mbps) << "\n";
    // CPU per stream, which other load on the machine does not change as
    // it does the rates: client and server of each.
    Figure("row_stream_client_cpu_ms", Median(batch_client_cpu), "ms");
    Figure("raw_stream_client_cpu_ms", Median(raw_client_cpu), "ms");
    std::cerr << "client CPU ms per stream: column batches " << spread(batch_client_cpu) << "; raw "
              << spread(raw_client_cpu) << "\n";
    if (node_pid != 0 && echo_pid != 0) {
      Figure("row_stream_node_cpu_ms", Median(node_cpu), "ms");
      Figure("raw_stream_server_cpu_ms", Median(echo_cpu), "ms");
      std::vector<double> row_total, raw_total;
      for (size_t i = 0; i < node_cpu.size(); ++i) {
        row_total.push_back(node_cpu[i] + batch_client_cpu[i]);
        raw_total.push_back(echo_cpu[i] + raw_client_cpu[i]);
      }
      Figure("row_stream_cpu_ms", Median(row_total), "ms");
      Figure("raw_stream_cpu_ms", Median(raw_total), "ms");
      std::cerr << "server CPU ms per stream: node " << spread(node_cpu) << "; echo "
                << spread(echo_cpu) << "\n";
    }
  }
  if (!legacy_mbps.empty()) {
    Figure("row_stream_legacy_MB_per_s", Median(legacy_mbps), "MB/s");
    Figure("row_stream_legacy_rows_per_s", Median(legacy_rows), "rows/s");
    std::cerr << "Row messages MB/s " << spread(legacy_mbps) << "\n";
  }
  return 0;
}
