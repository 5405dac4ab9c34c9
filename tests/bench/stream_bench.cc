// Column batches (query.v1.ColumnBatch), the two CPU halves of a row stream
// without the network: the node's side (ExecuteStreaming scans a segment,
// builds the batches, and each is serialized as federation.v1.QueryResponse
// the way RowStream hands it to gRPC) and the peer's side (parses each
// message and checks its batch, as QueryPeer does before it uses the rows),
// against a raw memcpy of the same bytes in the same run.
//
// Data: 1 M rows of the ten columns tests/bench/federation.sh streams (id,
// a municipality, a year, three doubles, three integers, a short string)
// in one segment, as the store holds them.
// Counters: rows_per_s, and MB_per_s of the serialized messages (the wire
// bytes) or of the copied bytes (the raw baselines).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"

#include "node/base/wire_buffer.h"
#include "node/query/batch.h"
#include "node/query/executor.h"
#include "node/query/sql.h"
#include "proto/federation/v1/federation.pb.h"

#include "benchmark/benchmark.h"

namespace fednode::query {
namespace {

namespace sv1 = storage::v1;
using federation::v1::QueryResponse;

constexpr size_t kRows = 1'000'000;

// The rows of federation.sh's gen(): the same types, value ranges and
// string lengths.
const storage::TableSnapshot& Snapshot() {
  static const storage::TableSnapshot* const snapshot = [] {
    auto* s = new storage::TableSnapshot;
    s->dataset_id = "strom";
    auto add = [&](const char* name, sv1::ColumnType type) {
      auto* c = s->schema.add_columns();
      c->set_name(name);
      c->set_type(type);
    };
    add("id", sv1::COLUMN_TYPE_INT64);
    add("gemeinde", sv1::COLUMN_TYPE_STRING);
    add("jahr", sv1::COLUMN_TYPE_INT64);
    for (const char* name : {"w1", "w2", "w3"}) add(name, sv1::COLUMN_TYPE_DOUBLE);
    for (const char* name : {"w4", "w5", "w6"}) add(name, sv1::COLUMN_TYPE_INT64);
    add("w7", sv1::COLUMN_TYPE_STRING);
    std::vector<ColumnBuilder> b;
    for (const auto& c : s->schema.columns()) b.emplace_back(c.type());
    const char* const gemeinden[] = {"Gießen",   "Lich",   "Hungen",  "Linden",
                                     "Pohlheim", "Buseck", "Laubach", "Grünberg"};
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0, 1);
    for (size_t i = 1; i <= kRows; ++i) {
      b[0].AppendInt(static_cast<int64_t>(i));
      b[1].AppendString(gemeinden[(i + 1) % 8]);
      b[2].AppendInt(static_cast<int64_t>(2000 + i % 25));
      b[3].AppendDouble(std::round(u(rng) * 1e5) / 100);
      b[4].AppendDouble(std::round(u(rng) * 1e3) / 1000);
      b[5].AppendDouble(std::round(u(rng) * 1e3) / 10);
      b[6].AppendInt(static_cast<int64_t>(u(rng) * 1e6));
      b[7].AppendInt(static_cast<int64_t>(i % 97));
      b[8].AppendInt(static_cast<int64_t>(u(rng) * 50));
      b[9].AppendString(absl::StrCat("k", i % 1000));
    }
    auto table = std::make_shared<Table>();
    table->schema = s->schema;
    table->num_rows = kRows;
    for (ColumnBuilder& c : b) table->columns.push_back(c.Finish());
    s->segments.push_back({std::move(table), {}});
    s->num_rows = kRows;
    return s;
  }();
  return *snapshot;
}

// How a message becomes wire bytes: as fednode's federation port does it
// (SerializeToByteBuffer: sized once), or through gRPC's typed writer
// (grpc::SerializationTraits: sized twice), as the port did before.
enum class Serializer { kOnce, kTypedGrpc };

// What RowStream<QueryResponse> does with each batch: swaps it into its
// message, serializes the message when the next batch comes and clears the
// message. With `reuse` the sent
// batch is kept and handed back cleared with the next swap, so that the
// executor fills the same objects again; without it (RowStream as it is)
// Clear() deletes the batch and every message starts from fresh objects.
class WireSink : public RowSink {
 public:
  explicit WireSink(bool reuse, Serializer serializer = Serializer::kOnce)
      : reuse_(reuse), serializer_(serializer) {}

  bool WantsColumnBatches() const override { return true; }
  absl::Status OnColumns(const v1::ResultSet& header) override {
    *message_.mutable_columns() = header.columns();
    message_.set_dataset_version(header.dataset_version());
    return absl::OkStatus();
  }
  absl::Status OnRows(google::protobuf::RepeatedPtrField<v1::Row>* /*rows*/) override {
    return absl::InternalError("rows instead of batches");
  }
  absl::Status OnBatch(v1::ColumnBatch* batch) override {
    if (message_.has_batch()) Send();
    if (spare_ != nullptr) message_.set_allocated_batch(spare_.release());
    rows_ += batch->row_count();
    message_.mutable_batch()->Swap(batch);
    return absl::OkStatus();
  }
  // Sends the held-back last message.
  void Finish() {
    if (message_.has_batch()) Send();
  }

  // The serialized messages, when kept (set_keep before the run).
  void set_keep(bool keep) { keep_ = keep; }
  std::vector<std::string>& kept() { return kept_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t rows() const { return rows_; }

 private:
  // Into a grpc::ByteBuffer, as the writer of the federation port gets it.
  void Send() {
    grpc::ByteBuffer wire;
    if (serializer_ == Serializer::kOnce) {
      wire = SerializeToByteBuffer(message_);
    } else {
      bool own = false;
      if (!grpc::SerializationTraits<QueryResponse>::Serialize(message_, &wire, &own).ok()) {
        std::abort();
      }
    }
    bytes_ += wire.Length();
    if (keep_) kept_.push_back(message_.SerializeAsString());
    if (reuse_) {
      spare_.reset(message_.release_batch());
      spare_->Clear();
    }
    message_.Clear();
  }

  const bool reuse_;
  const Serializer serializer_;
  bool keep_ = false;
  QueryResponse message_;
  std::unique_ptr<v1::ColumnBatch> spare_;
  std::vector<std::string> kept_;
  uint64_t bytes_ = 0;
  uint64_t rows_ = 0;
};

void SetRates(benchmark::State& state, uint64_t rows, uint64_t bytes) {
  const double n = static_cast<double>(state.iterations());
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows) * n, benchmark::Counter::kIsRate);
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(bytes) * n / 1e6, benchmark::Counter::kIsRate);
}

absl::Status RunStream(const char* sql, WireSink* sink) {
  absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
  if (!plan.ok()) return plan.status();
  absl::Status ran = ExecuteStreaming(*plan, Snapshot(), ExecuteOptions(), sink);
  sink->Finish();
  return ran;
}

void NodeSide(benchmark::State& state, const char* sql, bool reuse,
              Serializer serializer = Serializer::kOnce) {
  Snapshot();
  uint64_t rows = 0, bytes = 0;
  for (auto _ : state) {
    WireSink sink(reuse, serializer);
    if (absl::Status s = RunStream(sql, &sink); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    rows = sink.rows();
    bytes = sink.bytes();
  }
  SetRates(state, rows, bytes);
}

// The node's side, as fednode runs it.
void BM_NodeBuildAndSerialize(benchmark::State& state) {
  NodeSide(state, "SELECT * FROM strom", false);
}
BENCHMARK(BM_NodeBuildAndSerialize)->Unit(benchmark::kMillisecond);

// The same serialized through gRPC's typed writer, which sizes each message
// twice (before the federation port sent raw bytes): the baseline of
// SerializeToByteBuffer.
void BM_NodeBuildAndSerializeTypedGrpc(benchmark::State& state) {
  NodeSide(state, "SELECT * FROM strom", false, Serializer::kTypedGrpc);
}
BENCHMARK(BM_NodeBuildAndSerializeTypedGrpc)->Unit(benchmark::kMillisecond);

// The same with a filter (the selected rows are gathered, not contiguous).
void BM_NodeBuildAndSerializeFiltered(benchmark::State& state) {
  NodeSide(state, "SELECT * FROM strom WHERE w5 < 90", false);
}
BENCHMARK(BM_NodeBuildAndSerializeFiltered)->Unit(benchmark::kMillisecond);

// The same with the batch objects handed back for reuse.
void BM_NodeBuildAndSerializeReused(benchmark::State& state) {
  NodeSide(state, "SELECT * FROM strom", true);
}
BENCHMARK(BM_NodeBuildAndSerializeReused)->Unit(benchmark::kMillisecond);

// Raw baseline of the node's side: memcpy of the segment's column bytes
// (values, string codes) into a buffer.
void BM_RawCopyColumns(benchmark::State& state) {
  const Table& table = *Snapshot().segments[0].table;
  size_t bytes = 0;
  for (const Column& c : table.columns) {
    bytes += c.ints.size() * 8 + c.doubles.size() * 8 + c.codes.size() * 4;
  }
  std::vector<char> out(bytes);
  for (auto _ : state) {
    char* p = out.data();
    for (const Column& c : table.columns) {
      std::memcpy(p, c.ints.data(), c.ints.size() * 8);
      p += c.ints.size() * 8;
      std::memcpy(p, c.doubles.data(), c.doubles.size() * 8);
      p += c.doubles.size() * 8;
      std::memcpy(p, c.codes.data(), c.codes.size() * 4);
      p += c.codes.size() * 4;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetRates(state, table.num_rows, bytes);
}
BENCHMARK(BM_RawCopyColumns)->Unit(benchmark::kMillisecond);

// The messages of one stream of all rows, serialized.
const std::vector<std::string>& Wire() {
  static const std::vector<std::string>* const wire = [] {
    WireSink sink(false);
    sink.set_keep(true);
    if (!RunStream("SELECT * FROM strom", &sink).ok()) std::abort();
    return new std::vector<std::string>(std::move(sink.kept()));
  }();
  return *wire;
}

// The peer's side: each message parsed into one QueryResponse, as
// federation_bench's reader does, and its batch checked (ValidateBatch), as
// QueryPeer does first. With `arena`, each message is parsed into an arena
// that reuses one block.
void PeerSide(benchmark::State& state, bool arena) {
  const std::vector<std::string>& wire = Wire();
  QueryResponse first;
  if (!first.ParseFromString(wire[0])) std::abort();
  const ResultColumns columns = first.columns();
  std::vector<char> block(size_t{4} << 20);
  uint64_t rows = 0, bytes = 0;
  for (auto _ : state) {
    rows = bytes = 0;
    QueryResponse heap;
    for (const std::string& m : wire) {
      std::unique_ptr<google::protobuf::Arena> a;
      QueryResponse* msg = &heap;
      if (arena) {
        google::protobuf::ArenaOptions options;
        options.initial_block = block.data();
        options.initial_block_size = block.size();
        a = std::make_unique<google::protobuf::Arena>(options);
        msg = google::protobuf::Arena::CreateMessage<QueryResponse>(a.get());
      }
      if (!msg->ParseFromString(m) || !ValidateBatch(columns, msg->batch()).ok()) {
        state.SkipWithError("bad message");
        return;
      }
      rows += msg->batch().row_count();
      bytes += m.size();
    }
  }
  SetRates(state, rows, bytes);
}

void BM_PeerParseAndValidate(benchmark::State& state) { PeerSide(state, false); }
BENCHMARK(BM_PeerParseAndValidate)->Unit(benchmark::kMillisecond);

void BM_PeerParseAndValidateArena(benchmark::State& state) { PeerSide(state, true); }
BENCHMARK(BM_PeerParseAndValidateArena)->Unit(benchmark::kMillisecond);

// Raw baseline of the peer's side: memcpy of the same wire bytes.
void BM_RawCopyWire(benchmark::State& state) {
  const std::vector<std::string>& wire = Wire();
  std::string out;
  uint64_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const std::string& m : wire) {
      out.assign(m);
      benchmark::DoNotOptimize(out.data());
      bytes += m.size();
    }
  }
  SetRates(state, kRows, bytes);
}
BENCHMARK(BM_RawCopyWire)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fednode::query

BENCHMARK_MAIN();
