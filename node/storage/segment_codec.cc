#include "node/storage/segment_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace fednode::storage {
namespace {

// Values are copied with memcpy; the encoding is little-endian.
static_assert(std::endian::native == std::endian::little,
              "segment_codec assumes a little-endian host");

constexpr uint8_t kSegmentFormat = 1;
constexpr uint8_t kFlagValidity = 1;

template <typename T>
void AppendRaw(T v, std::string* out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

template <typename T>
bool ConsumeRaw(absl::string_view* in, T* v) {
  if (in->size() < sizeof(T)) {
    return false;
  }
  std::memcpy(v, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

// Bytes per value in a value chunk.
size_t ValueWidth(ColumnType type) {
  switch (type) {
    case v1::COLUMN_TYPE_BOOL:
      return 1;
    case v1::COLUMN_TYPE_STRING:
      return 4;
    default:
      return 8;
  }
}

bool KnownType(ColumnType type) {
  return type >= v1::COLUMN_TYPE_INT64 && type <= v1::COLUMN_TYPE_TIMESTAMP;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt segment: ", what));
}

// A value chunk checked against the header: n values at `values`, then the
// validity bits at `bits` (nullptr when the column has none).
struct ValueChunk {
  uint32_t n = 0;
  const char* values = nullptr;
  const char* bits = nullptr;
};

// Errors: DataLoss when the chunk's size does not fit chunk `chunk` of the
// column.
absl::StatusOr<ValueChunk> ParseValueChunk(const SegmentHeader& header,
                                           const SegmentColumnInfo& info, uint32_t chunk,
                                           absl::string_view value) {
  uint32_t n = 0;
  if (!ConsumeRaw(&value, &n)) {
    return Corrupt("short chunk");
  }
  const uint64_t begin = uint64_t{chunk} * header.chunk_rows;
  const uint64_t expected = std::min<uint64_t>(header.chunk_rows, header.row_count - begin);
  const size_t width = ValueWidth(info.type);
  const size_t bitmap = info.has_validity ? (size_t{n} + 7) / 8 : 0;
  if (n != expected || value.size() != size_t{n} * width + bitmap) {
    return Corrupt("value chunk size");
  }
  return ValueChunk{n, value.data(),
                    info.has_validity ? value.data() + size_t{n} * width : nullptr};
}

// Calls visit(entry) for each entry of a dictionary chunk, in order.
// Errors: DataLoss for a malformed chunk.
template <typename F>
absl::Status ParseDictionaryChunk(absl::string_view value, F visit) {
  uint32_t n = 0;
  if (!ConsumeRaw(&value, &n)) {
    return Corrupt("short chunk");
  }
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len = 0;
    if (!ConsumeRaw(&value, &len) || value.size() < len) {
      return Corrupt("short dictionary");
    }
    visit(value.substr(0, len));
    value.remove_prefix(len);
  }
  if (!value.empty()) {
    return Corrupt("dictionary size");
  }
  return absl::OkStatus();
}

// Checks the header against the manifest's schema.
absl::Status CheckSchema(const SegmentHeader& header, const Schema& schema) {
  if (static_cast<int>(header.columns.size()) != schema.columns_size()) {
    return Corrupt(absl::StrCat("segment has ", header.columns.size(), " columns, manifest has ",
                                schema.columns_size()));
  }
  for (size_t c = 0; c < header.columns.size(); ++c) {
    if (header.columns[c].type != schema.columns(static_cast<int>(c)).type()) {
      return Corrupt(absl::StrCat("column ", schema.columns(static_cast<int>(c)).name(),
                                  " type differs from the manifest"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t SegmentHeader::value_chunks() const {
  if (chunk_rows == 0) {
    return 0;
  }
  return static_cast<uint32_t>((row_count + chunk_rows - 1) / chunk_rows);
}

void EncodeSegment(const Table& table, uint32_t chunk_rows, size_t dict_chunk_bytes,
                   SegmentSink sink) {
  const size_t rows = table.num_rows;
  const auto num_chunks = static_cast<uint32_t>((rows + chunk_rows - 1) / chunk_rows);
  std::string buf;
  std::vector<SegmentColumnInfo> infos(table.columns.size());

  for (size_t c = 0; c < table.columns.size(); ++c) {
    const Column& column = table.columns[c];
    SegmentColumnInfo& info = infos[c];
    info.type = column.type;
    info.has_validity = column.has_nulls();
    const auto col = static_cast<uint32_t>(c);

    if (column.type == v1::COLUMN_TYPE_STRING) {
      info.dict_size = static_cast<uint32_t>(column.dict.size());
      size_t next = 0;
      while (next < column.dict.size()) {
        buf.clear();
        AppendRaw<uint32_t>(0, &buf);  // count, patched below
        uint32_t count = 0;
        while (next < column.dict.size() && buf.size() < dict_chunk_bytes && count < chunk_rows) {
          const std::string& s = column.dict[next++];
          AppendRaw<uint32_t>(static_cast<uint32_t>(s.size()), &buf);
          buf.append(s);
          ++count;
        }
        std::memcpy(buf.data(), &count, sizeof count);
        sink(SegmentPart::kDictionary, col, info.dict_chunks++, buf);
      }
    }

    const size_t width = ValueWidth(column.type);
    for (uint32_t chunk = 0; chunk < num_chunks; ++chunk) {
      const size_t begin = size_t{chunk} * chunk_rows;
      const size_t n = std::min<size_t>(chunk_rows, rows - begin);
      buf.clear();
      buf.reserve(4 + n * width + (n + 7) / 8);
      AppendRaw<uint32_t>(static_cast<uint32_t>(n), &buf);
      switch (column.type) {
        case v1::COLUMN_TYPE_DOUBLE:
          buf.append(reinterpret_cast<const char*>(column.doubles.data() + begin), n * 8);
          break;
        case v1::COLUMN_TYPE_STRING:
          buf.append(reinterpret_cast<const char*>(column.codes.data() + begin), n * 4);
          break;
        case v1::COLUMN_TYPE_BOOL:
          for (size_t r = begin; r < begin + n; ++r) {
            buf.push_back(column.ints[r] != 0 ? '\x01' : '\x00');
          }
          break;
        default:
          buf.append(reinterpret_cast<const char*>(column.ints.data() + begin), n * 8);
      }
      if (info.has_validity) {
        const size_t at = buf.size();
        buf.resize(at + (n + 7) / 8, '\0');
        for (size_t i = 0; i < n; ++i) {
          if (column.validity[begin + i] == 0) {
            continue;
          }
          auto byte = static_cast<uint8_t>(buf[at + i / 8]);
          byte = static_cast<uint8_t>(byte | (1u << (i % 8)));
          buf[at + i / 8] = static_cast<char>(byte);
        }
      }
      sink(SegmentPart::kValues, col, chunk, buf);
    }
  }

  buf.clear();
  buf.push_back(static_cast<char>(kSegmentFormat));
  AppendRaw<uint64_t>(rows, &buf);
  AppendRaw<uint32_t>(chunk_rows, &buf);
  AppendRaw<uint32_t>(static_cast<uint32_t>(infos.size()), &buf);
  for (const SegmentColumnInfo& info : infos) {
    buf.push_back(static_cast<char>(info.type));
    buf.push_back(static_cast<char>(info.has_validity ? kFlagValidity : 0));
    AppendRaw<uint32_t>(info.dict_size, &buf);
    AppendRaw<uint32_t>(info.dict_chunks, &buf);
  }
  sink(SegmentPart::kHeader, 0, 0, buf);
}

absl::StatusOr<SegmentHeader> DecodeSegmentHeader(absl::string_view value) {
  SegmentHeader h;
  uint8_t format = 0;
  uint32_t num_columns = 0;
  if (!ConsumeRaw(&value, &format) || format != kSegmentFormat) {
    return Corrupt("unknown header format");
  }
  if (!ConsumeRaw(&value, &h.row_count) || !ConsumeRaw(&value, &h.chunk_rows) ||
      !ConsumeRaw(&value, &num_columns) || h.chunk_rows == 0 ||
      h.row_count > uint64_t{UINT32_MAX} || value.size() != size_t{num_columns} * 10) {
    return Corrupt("bad header");
  }
  h.columns.resize(num_columns);
  for (SegmentColumnInfo& info : h.columns) {
    uint8_t type = 0;
    uint8_t flags = 0;
    if (!ConsumeRaw(&value, &type) || !ConsumeRaw(&value, &flags) ||
        !ConsumeRaw(&value, &info.dict_size) || !ConsumeRaw(&value, &info.dict_chunks)) {
      return Corrupt("bad column header");
    }
    info.type = static_cast<ColumnType>(type);
    info.has_validity = (flags & kFlagValidity) != 0;
    if (!KnownType(info.type)) {
      return Corrupt("unknown column type");
    }
  }
  return h;
}

absl::StatusOr<SegmentDecoder> SegmentDecoder::Create(const SegmentHeader& header,
                                                      const Schema& schema) {
  if (absl::Status s = CheckSchema(header, schema); !s.ok()) return s;
  SegmentDecoder d;
  d.header_ = header;
  d.table_.schema = schema;
  d.table_.num_rows = header.row_count;
  d.table_.columns.resize(header.columns.size());
  d.next_value_chunk_.assign(header.columns.size(), 0);
  d.next_dict_chunk_.assign(header.columns.size(), 0);
  for (size_t c = 0; c < header.columns.size(); ++c) {
    const SegmentColumnInfo& info = header.columns[c];
    Column& column = d.table_.columns[c];
    column.type = info.type;
    switch (info.type) {
      case v1::COLUMN_TYPE_DOUBLE:
        column.doubles.reserve(header.row_count);
        break;
      case v1::COLUMN_TYPE_STRING:
        column.codes.reserve(header.row_count);
        // The dictionary size comes from disk: reserve only what it can hold.
        column.dict.reserve(std::min<size_t>(info.dict_size, header.row_count + 1));
        break;
      default:
        column.ints.reserve(header.row_count);
    }
    if (info.has_validity) {
      column.validity.reserve(header.row_count);
    }
  }
  return d;
}

absl::Status SegmentDecoder::Add(SegmentPart part, uint32_t column_index, uint32_t chunk,
                                 absl::string_view value) {
  if (column_index >= header_.columns.size()) {
    return Corrupt("unknown column");
  }
  const SegmentColumnInfo& info = header_.columns[column_index];
  Column& column = table_.columns[column_index];

  if (part == SegmentPart::kDictionary) {
    if (info.type != v1::COLUMN_TYPE_STRING || chunk != next_dict_chunk_[column_index] ||
        chunk >= info.dict_chunks) {
      return Corrupt("dictionary chunk out of order");
    }
    ++next_dict_chunk_[column_index];
    if (absl::Status s = ParseDictionaryChunk(
            value, [&column](absl::string_view entry) { column.dict.emplace_back(entry); });
        !s.ok()) {
      return s;
    }
    if (column.dict.size() > info.dict_size) {
      return Corrupt("dictionary size");
    }
    return absl::OkStatus();
  }

  if (chunk != next_value_chunk_[column_index] || chunk >= header_.value_chunks()) {
    return Corrupt("value chunk out of order");
  }
  ++next_value_chunk_[column_index];
  absl::StatusOr<ValueChunk> parsed = ParseValueChunk(header_, info, chunk, value);
  if (!parsed.ok()) return parsed.status();
  const uint32_t n = parsed->n;
  const char* p = parsed->values;
  switch (info.type) {
    case v1::COLUMN_TYPE_DOUBLE: {
      const size_t at = column.doubles.size();
      column.doubles.resize(at + n);
      std::memcpy(column.doubles.data() + at, p, size_t{n} * 8);
      break;
    }
    case v1::COLUMN_TYPE_STRING: {
      const size_t at = column.codes.size();
      column.codes.resize(at + n);
      std::memcpy(column.codes.data() + at, p, size_t{n} * 4);
      break;
    }
    case v1::COLUMN_TYPE_BOOL:
      for (uint32_t i = 0; i < n; ++i) {
        column.ints.push_back(p[i] != 0 ? 1 : 0);
      }
      break;
    default: {
      const size_t at = column.ints.size();
      column.ints.resize(at + n);
      std::memcpy(column.ints.data() + at, p, size_t{n} * 8);
    }
  }
  if (info.has_validity) {
    const char* bits = parsed->bits;
    for (uint32_t i = 0; i < n; ++i) {
      column.validity.push_back((static_cast<uint8_t>(bits[i / 8]) >> (i % 8)) & 1);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Table> SegmentDecoder::Finish() && {
  for (size_t c = 0; c < header_.columns.size(); ++c) {
    const SegmentColumnInfo& info = header_.columns[c];
    Column& column = table_.columns[c];
    if (next_value_chunk_[c] != header_.value_chunks() || next_dict_chunk_[c] != info.dict_chunks ||
        column.dict.size() != info.dict_size) {
      return Corrupt(absl::StrCat("missing chunk of column ",
                                  table_.schema.columns(static_cast<int>(c)).name()));
    }
    if (info.type == v1::COLUMN_TYPE_STRING) {
      const size_t dict_size = column.dict.size();
      for (size_t r = 0; r < column.codes.size(); ++r) {
        if (column.codes[r] >= dict_size) {
          if (!column.IsNull(r)) {
            return Corrupt("string code out of range");
          }
        }
      }
    }
  }
  return std::move(table_);
}

size_t TableBytes(const Table& table) {
  size_t bytes = sizeof(Table);
  for (const Column& c : table.columns) {
    bytes += sizeof(Column) + c.ints.capacity() * 8 + c.doubles.capacity() * 8 +
             c.codes.capacity() * 4 + c.validity.capacity();
    for (const std::string& s : c.dict) {
      bytes += sizeof(std::string) + s.capacity();
    }
  }
  return bytes;
}

}  // namespace fednode::storage

namespace fednode::storage {

absl::Status CheckRowList(const std::vector<uint32_t>& rows, uint64_t row_count) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= row_count || (i > 0 && rows[i] <= rows[i - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("rows to read must be sorted, unique and below ", row_count));
    }
  }
  return absl::OkStatus();
}

size_t EstimateTableBytes(const SegmentHeader& header) {
  size_t bytes = sizeof(Table);
  for (const SegmentColumnInfo& info : header.columns) {
    // Decoded as TableBytes counts: 8 bytes per int-like (bool too) or
    // double value, 4 per string code, 1 per validity flag.
    const size_t width = info.type == v1::COLUMN_TYPE_STRING ? 4 : 8;
    bytes += sizeof(Column) + header.row_count * width +
             (info.has_validity ? header.row_count : 0) +
             size_t{info.dict_size} * sizeof(std::string);
  }
  return bytes;
}

absl::StatusOr<Table> DecodeSegmentRows(const SegmentHeader& header, const Schema& schema,
                                        const std::vector<uint32_t>& rows,
                                        SegmentChunkFetcher fetch) {
  if (absl::Status s = CheckSchema(header, schema); !s.ok()) return s;
  if (absl::Status s = CheckRowList(rows, header.row_count); !s.ok()) return s;
  if (header.chunk_rows == 0 && !rows.empty()) {
    return Corrupt("chunk size 0");
  }
  auto get = [&](SegmentPart part, uint32_t column,
                 uint32_t chunk) -> absl::StatusOr<absl::string_view> {
    absl::StatusOr<absl::string_view> bytes = fetch(part, column, chunk);
    if (absl::IsNotFound(bytes.status())) {
      return Corrupt(absl::StrCat("missing chunk of column ",
                                  schema.columns(static_cast<int>(column)).name()));
    }
    return bytes;
  };
  Table out;
  out.schema = schema;
  out.num_rows = rows.size();
  out.columns.resize(header.columns.size());
  for (size_t c = 0; c < header.columns.size(); ++c) {
    const SegmentColumnInfo& info = header.columns[c];
    const auto col_index = static_cast<uint32_t>(c);
    Column& col = out.columns[c];
    col.type = info.type;
    // The value chunks that hold the rows, each read once.
    for (size_t i = 0; i < rows.size();) {
      const uint32_t chunk = rows[i] / header.chunk_rows;
      absl::StatusOr<absl::string_view> bytes = get(SegmentPart::kValues, col_index, chunk);
      if (!bytes.ok()) return bytes.status();
      absl::StatusOr<ValueChunk> v = ParseValueChunk(header, info, chunk, *bytes);
      if (!v.ok()) return v.status();
      for (; i < rows.size() && rows[i] / header.chunk_rows == chunk; ++i) {
        const uint32_t k = rows[i] - chunk * header.chunk_rows;
        switch (info.type) {
          case v1::COLUMN_TYPE_DOUBLE: {
            double d = 0;
            std::memcpy(&d, v->values + size_t{k} * 8, 8);
            col.doubles.push_back(d);
            break;
          }
          case v1::COLUMN_TYPE_STRING: {
            uint32_t code = 0;
            std::memcpy(&code, v->values + size_t{k} * 4, 4);
            col.codes.push_back(code);
            break;
          }
          case v1::COLUMN_TYPE_BOOL:
            col.ints.push_back(v->values[k] != 0 ? 1 : 0);
            break;
          default: {
            int64_t x = 0;
            std::memcpy(&x, v->values + size_t{k} * 8, 8);
            col.ints.push_back(x);
          }
        }
        if (v->bits != nullptr) {
          col.validity.push_back((static_cast<uint8_t>(v->bits[k / 8]) >> (k % 8)) & 1);
        }
      }
    }
    if (info.type != v1::COLUMN_TYPE_STRING) continue;
    // The dictionary entries the rows use, read chunk by chunk up to the
    // last of them. A NULL row's code is ignored (and becomes 0).
    std::vector<uint32_t> used;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (col.IsNull(r)) continue;
      if (col.codes[r] >= info.dict_size) {
        return Corrupt("string code out of range");
      }
      used.push_back(col.codes[r]);
    }
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    uint32_t first = 0;  // code of the chunk's first entry
    auto want = used.begin();
    for (uint32_t chunk = 0; chunk < info.dict_chunks && want != used.end(); ++chunk) {
      absl::StatusOr<absl::string_view> bytes = get(SegmentPart::kDictionary, col_index, chunk);
      if (!bytes.ok()) return bytes.status();
      uint32_t code = first;
      absl::Status parsed = ParseDictionaryChunk(*bytes, [&](absl::string_view entry) {
        if (want != used.end() && *want == code) {
          col.dict.emplace_back(entry);
          ++want;
        }
        ++code;
      });
      if (!parsed.ok()) return parsed;
      first = code;
    }
    if (want != used.end()) {
      return Corrupt(absl::StrCat("missing dictionary entries of column ",
                                  schema.columns(static_cast<int>(c)).name()));
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      col.codes[r] =
          col.IsNull(r)
              ? 0
              : static_cast<uint32_t>(std::lower_bound(used.begin(), used.end(), col.codes[r]) -
                                      used.begin());
    }
  }
  return out;
}

}  // namespace fednode::storage
