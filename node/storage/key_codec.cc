#include "node/storage/key_codec.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace fednode::storage {
namespace {

constexpr char kDataTag = 'd';
constexpr char kCurrentTag = 'c';
constexpr char kManifestTag = 'm';
constexpr char kSegmentTag = 's';
constexpr char kPrimaryKeyTag = 'k';

uint64_t OrderedDoubleBits(double v) {
  if (v == 0) {
    v = 0;  // -0.0 -> +0.0
  }
  if (std::isnan(v)) {
    v = std::numeric_limits<double>::quiet_NaN();
  }
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  constexpr uint64_t kSign = uint64_t{1} << 63;
  return (bits & kSign) != 0 ? ~bits : bits | kSign;
}

}  // namespace

void AppendBigEndian64(uint64_t v, std::string* out) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, sizeof buf);
}

void AppendBigEndian32(uint32_t v, std::string* out) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, sizeof buf);
}

bool ConsumeBigEndian64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) {
    return false;
  }
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) {
    r = (r << 8) | static_cast<uint8_t>((*in)[i]);
  }
  in->remove_prefix(8);
  *v = r;
  return true;
}

bool ConsumeBigEndian32(absl::string_view* in, uint32_t* v) {
  if (in->size() < 4) {
    return false;
  }
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    r = (r << 8) | static_cast<uint8_t>((*in)[i]);
  }
  in->remove_prefix(4);
  *v = r;
  return true;
}

void AppendEscaped(absl::string_view s, std::string* out) {
  for (char c : s) {
    if (c == '\0') {
      out->push_back('\0');
      out->push_back('\xff');
    } else {
      out->push_back(c);
    }
  }
  out->push_back('\0');
  out->push_back('\x01');
}

bool ConsumeEscaped(absl::string_view* in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in->size(); ++i) {
    char c = (*in)[i];
    if (c != '\0') {
      out->push_back(c);
      continue;
    }
    if (i + 1 >= in->size()) {
      return false;
    }
    char next = (*in)[i + 1];
    if (next == '\x01') {
      in->remove_prefix(i + 2);
      return true;
    }
    if (next != '\xff') {
      return false;
    }
    out->push_back('\0');
    ++i;
  }
  return false;
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto last = static_cast<uint8_t>(s.back());
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      return s;
    }
    s.pop_back();
  }
  return s;  // unreachable for our prefixes, which all start with a tag byte
}

std::string DatasetPrefix(absl::string_view dataset_id) {
  std::string k(1, kDataTag);
  AppendEscaped(dataset_id, &k);
  return k;
}

std::string CurrentVersionKey(absl::string_view dataset_id) {
  std::string k = DatasetPrefix(dataset_id);
  k.push_back(kCurrentTag);
  return k;
}

std::string ManifestKey(absl::string_view dataset_id, uint64_t version) {
  std::string k = DatasetPrefix(dataset_id);
  k.push_back(kManifestTag);
  AppendBigEndian64(version, &k);
  return k;
}

std::string SegmentPrefix(absl::string_view dataset_id, uint64_t segment_id) {
  std::string k = DatasetPrefix(dataset_id);
  k.push_back(kSegmentTag);
  AppendBigEndian64(segment_id, &k);
  return k;
}

std::string SegmentHeaderKey(absl::string_view dataset_id, uint64_t segment_id) {
  std::string k = SegmentPrefix(dataset_id, segment_id);
  k.push_back(static_cast<char>(SegmentPart::kHeader));
  return k;
}

std::string SegmentChunkKey(absl::string_view dataset_id, uint64_t segment_id, SegmentPart part,
                            uint32_t column, uint32_t chunk) {
  std::string k = SegmentPrefix(dataset_id, segment_id);
  k.push_back(static_cast<char>(part));
  AppendBigEndian32(column, &k);
  AppendBigEndian32(chunk, &k);
  return k;
}

bool ParseSegmentChunkSuffix(absl::string_view suffix, SegmentPart* part, uint32_t* column,
                             uint32_t* chunk) {
  if (suffix.size() != 9) {
    return false;
  }
  char tag = suffix[0];
  if (tag != static_cast<char>(SegmentPart::kValues) &&
      tag != static_cast<char>(SegmentPart::kDictionary)) {
    return false;
  }
  *part = static_cast<SegmentPart>(tag);
  suffix.remove_prefix(1);
  return ConsumeBigEndian32(&suffix, column) && ConsumeBigEndian32(&suffix, chunk);
}

std::string PrimaryKeyIndexPrefix(absl::string_view dataset_id) {
  std::string k = DatasetPrefix(dataset_id);
  k.push_back(kPrimaryKeyTag);
  return k;
}

std::string EncodeRowLocation(uint64_t segment_id, uint32_t row) {
  std::string v;
  v.reserve(12);
  AppendBigEndian64(segment_id, &v);
  AppendBigEndian32(row, &v);
  return v;
}

bool DecodeRowLocation(absl::string_view value, uint64_t* segment_id, uint32_t* row) {
  return value.size() == 12 && ConsumeBigEndian64(&value, segment_id) &&
         ConsumeBigEndian32(&value, row);
}

std::string CatalogEntryKey(absl::string_view dataset_id) {
  std::string k(kCatalogEntryPrefix);
  AppendEscaped(dataset_id, &k);
  return k;
}

std::string CatalogChangeKey(uint64_t seq) {
  std::string k(kCatalogChangePrefix);
  AppendBigEndian64(seq, &k);
  return k;
}

std::string CatalogPriorKey(uint64_t seq) {
  std::string k(1, 'x');
  AppendBigEndian64(seq, &k);
  return k;
}

std::string HarvestedPrefix(absl::string_view peer_ags, uint64_t generation) {
  std::string k(1, 'r');
  AppendEscaped(peer_ags, &k);
  AppendBigEndian64(generation, &k);
  return k;
}

std::string HarvestedKey(absl::string_view peer_ags, uint64_t generation,
                         absl::string_view dataset_id) {
  std::string k = HarvestedPrefix(peer_ags, generation);
  AppendEscaped(dataset_id, &k);
  return k;
}

std::string HarvestStateKey(absl::string_view peer_ags) {
  std::string k(1, 'p');
  AppendEscaped(peer_ags, &k);
  return k;
}

std::string OperatorMetaKey(absl::string_view name) { return absl::StrCat("u/", name); }

std::string AuditKey(uint64_t seq) {
  std::string k(kAuditEntryPrefix);
  AppendBigEndian64(seq, &k);
  return k;
}

std::string AuditHeadKey(uint64_t seq) {
  std::string k(kAuditHeadPrefix);
  AppendBigEndian64(seq, &k);
  return k;
}

bool ParseAuditKey(absl::string_view key, absl::string_view prefix, uint64_t* seq) {
  if (!absl::ConsumePrefix(&key, prefix)) {
    return false;
  }
  return ConsumeBigEndian64(&key, seq) && key.empty();
}

namespace {

// One primary-key value of `type` from its parts: `i` for the int-like
// types (INT64, DATE, TIMESTAMP, BOOL), `d` for DOUBLE, `s` for STRING.
void AppendKeyParts(v1::ColumnType type, int64_t i, double d, absl::string_view s,
                    std::string* out) {
  switch (type) {
    case v1::COLUMN_TYPE_DOUBLE:
      AppendBigEndian64(OrderedDoubleBits(d), out);
      break;
    case v1::COLUMN_TYPE_STRING:
      AppendEscaped(s, out);
      break;
    case v1::COLUMN_TYPE_BOOL:
      out->push_back(i != 0 ? '\x01' : '\x00');
      break;
    default:  // INT64, DATE, TIMESTAMP
      AppendBigEndian64(static_cast<uint64_t>(i) ^ (uint64_t{1} << 63), out);
      break;
  }
}

}  // namespace

void AppendPrimaryKeyValue(const Column& column, size_t row, std::string* out) {
  switch (column.type) {
    case v1::COLUMN_TYPE_DOUBLE:
      AppendKeyParts(column.type, 0, column.doubles[row], {}, out);
      break;
    case v1::COLUMN_TYPE_STRING:
      AppendKeyParts(column.type, 0, 0, column.StringAt(row), out);
      break;
    default:  // the int-like types
      AppendKeyParts(column.type, column.ints[row], 0, {}, out);
      break;
  }
}

void AppendPrimaryKeyValue(const KeyValue& value, std::string* out) {
  AppendKeyParts(value.type, value.int_value, value.double_value, value.string_value, out);
}

absl::StatusOr<std::vector<int>> PrimaryKeyColumns(const Schema& schema) {
  std::vector<int> out;
  absl::flat_hash_set<int> seen;
  for (const std::string& name : schema.primary_key()) {
    int index = -1;
    for (int i = 0; i < schema.columns_size(); ++i) {
      if (schema.columns(i).name() == name) {
        index = i;
      }
    }
    if (index < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("primary-key column ", name, " is not in the schema"));
    }
    if (!seen.insert(index).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("primary-key column ", name, " is listed twice"));
    }
    out.push_back(index);
  }
  return out;
}

absl::StatusOr<std::string> EncodePrimaryKey(const Table& table, const std::vector<int>& pk_columns,
                                             size_t row) {
  std::string key;
  for (int c : pk_columns) {
    const Column& column = table.columns[static_cast<size_t>(c)];
    if (column.IsNull(row)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "primary-key column ", table.schema.columns(c).name(), " is NULL in row ", row + 1));
    }
    AppendPrimaryKeyValue(column, row, &key);
  }
  return key;
}

std::string FormatPrimaryKey(const Table& table, const std::vector<int>& pk_columns, size_t row) {
  std::string out;
  for (int c : pk_columns) {
    const Column& column = table.columns[static_cast<size_t>(c)];
    if (!out.empty()) {
      out.append(", ");
    }
    absl::StrAppend(&out, table.schema.columns(c).name(), "=");
    if (column.IsNull(row)) {
      out.append("NULL");
      continue;
    }
    switch (column.type) {
      case v1::COLUMN_TYPE_DOUBLE:
        absl::StrAppend(&out, column.doubles[row]);
        break;
      case v1::COLUMN_TYPE_STRING:
        absl::StrAppend(&out, "\"", column.StringAt(row), "\"");
        break;
      case v1::COLUMN_TYPE_BOOL:
        out.append(column.ints[row] != 0 ? "true" : "false");
        break;
      case v1::COLUMN_TYPE_DATE:
        out.append(FormatDate(column.ints[row]));
        break;
      case v1::COLUMN_TYPE_TIMESTAMP:
        out.append(FormatTimestamp(column.ints[row]));
        break;
      default:
        absl::StrAppend(&out, column.ints[row]);
    }
  }
  return out;
}

}  // namespace fednode::storage
