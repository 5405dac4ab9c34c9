#include "node/query/batch.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/stubs/common.h"

namespace fednode::query {
namespace {

using storage::v1::ColumnType;

enum class Slot { kInt, kDouble, kString };

Slot SlotOf(ColumnType type) {
  switch (type) {
    case storage::v1::COLUMN_TYPE_DOUBLE:
      return Slot::kDouble;
    case storage::v1::COLUMN_TYPE_STRING:
      return Slot::kString;
    default:
      return Slot::kInt;  // INT64, BOOL, DATE, TIMESTAMP
  }
}

// The string values of a STRING batch column are well formed: each end
// within string_data and not before the one before it, the last at its end,
// the bytes UTF-8 and no value cut inside a character.
absl::Status ValidateStrings(const v1::ColumnValues& values) {
  const std::string& data = values.string_data();
  uint32_t previous = 0;
  for (int i = 0; i < values.string_ends_size(); ++i) {
    const uint32_t end = values.string_ends(i);
    if (end < previous || end > data.size()) {
      return absl::InvalidArgumentError(absl::StrCat("string ", i, " ends at ", end, ", after ",
                                                     previous, ", in ", data.size(),
                                                     " bytes of string data"));
    }
    // A value may not end inside a character: the next byte is no UTF-8
    // continuation byte (10xxxxxx).
    if (end < data.size() && (static_cast<unsigned char>(data[end]) & 0xC0) == 0x80) {
      return absl::InvalidArgumentError(
          absl::StrCat("string ", i, " ends inside a UTF-8 character"));
    }
    previous = end;
  }
  if (previous != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the strings end at ", previous, " of ",
                                                   data.size(), " bytes of string data"));
  }
  // The check protobuf applies to every `string` field when it parses one
  // (the values were `string` fields before this layout).
  if (!google::protobuf::internal::IsStructurallyValidUTF8(data.data(),
                                                           static_cast<int>(data.size()))) {
    return absl::InvalidArgumentError("the string data is not UTF-8");
  }
  return absl::OkStatus();
}

bool IsNull(const std::string& nulls, size_t i) {
  return !nulls.empty() && (static_cast<unsigned char>(nulls[i / 8]) >> (i % 8) & 1) != 0;
}

void SetValue(ColumnType type, const v1::ColumnValues& values, size_t i, v1::Value* v) {
  if (IsNull(values.nulls(), i)) {
    v->set_null_value(true);
    return;
  }
  switch (type) {
    case storage::v1::COLUMN_TYPE_DOUBLE:
      v->set_double_value(values.doubles(static_cast<int>(i)));
      break;
    case storage::v1::COLUMN_TYPE_STRING: {
      const absl::string_view s = BatchString(values, i);
      v->set_string_value(s.data(), s.size());
      break;
    }
    case storage::v1::COLUMN_TYPE_BOOL:
      v->set_bool_value(values.int64s(static_cast<int>(i)) != 0);
      break;
    case storage::v1::COLUMN_TYPE_DATE:
      v->set_date_days(values.int64s(static_cast<int>(i)));
      break;
    case storage::v1::COLUMN_TYPE_TIMESTAMP:
      v->set_timestamp_micros(values.int64s(static_cast<int>(i)));
      break;
    default:
      v->set_int64_value(values.int64s(static_cast<int>(i)));
      break;
  }
}

// `n` new slots at the end of `field`, uninitialized: one reservation
// instead of a capacity check (and growth) per value.
template <typename T>
T* AddSlots(google::protobuf::RepeatedField<T>* field, size_t n) {
  field->Reserve(field->size() + static_cast<int>(n));
  return field->AddNAlreadyReserved(static_cast<int>(n));
}

// Copies `src` at `rows` to `out`: one memcpy for consecutive rows.
template <typename T>
void CopyRows(const std::vector<T>& src, const TableRows& rows, T* out) {
  if (rows.list == nullptr) {
    std::memcpy(out, src.data() + rows.begin, rows.n * sizeof(T));
    return;
  }
  for (size_t k = 0; k < rows.n; ++k) out[k] = src[rows.list[k]];
}

// Marks the NULL rows of `column` among `rows` in the bitmap of `values`
// (as batch rows first, first + 1, ...) and zeroes their slots in `slots`.
template <typename T>
void MarkNulls(const Column& column, const TableRows& rows, size_t first, T* slots,
               v1::ColumnValues* values) {
  if (!column.has_nulls()) return;
  const uint8_t* valid = column.validity.data();
  for (size_t k = 0; k < rows.n; ++k) {
    if (valid[rows[k]] == 0) {
      MarkNull(first + k, values);
      slots[k] = T{};
    }
  }
}

// Appends `src` (the values of `column`) at `rows` to `field` of `values`.
template <typename T>
void AppendNumbers(const Column& column, const std::vector<T>& src, const TableRows& rows,
                   google::protobuf::RepeatedField<T>* field, v1::ColumnValues* values) {
  const size_t first = static_cast<size_t>(field->size());
  T* out = AddSlots(field, rows.n);
  CopyRows(src, rows, out);
  MarkNulls(column, rows, first, out, values);
}

}  // namespace

absl::string_view BatchString(const v1::ColumnValues& values, size_t i) {
  const int k = static_cast<int>(i);
  const uint32_t begin = k == 0 ? 0 : values.string_ends(k - 1);
  return absl::string_view(values.string_data()).substr(begin, values.string_ends(k) - begin);
}

void AppendColumnToBatch(const Column& column, const TableRows& rows, v1::ColumnValues* values) {
  if (rows.n == 0) return;
  switch (SlotOf(column.type)) {
    case Slot::kDouble:
      AppendNumbers(column, column.doubles, rows, values->mutable_doubles(), values);
      break;
    case Slot::kInt:
      AppendNumbers(column, column.ints, rows, values->mutable_int64s(), values);
      break;
    case Slot::kString: {
      const size_t first = static_cast<size_t>(values->string_ends_size());
      std::string* data = values->mutable_string_data();
      uint32_t* ends = AddSlots(values->mutable_string_ends(), rows.n);
      // The ends first, so that the blob grows once; then the bytes.
      const size_t start = data->size();
      size_t end = start;
      for (size_t k = 0; k < rows.n; ++k) {
        const size_t i = rows[k];
        if (column.IsNull(i)) {
          MarkNull(first + k, values);
        } else {
          end += column.StringAt(i).size();
        }
        ends[k] = static_cast<uint32_t>(end);
      }
      data->resize(end);
      char* out = data->data() + start;
      for (size_t k = 0; k < rows.n; ++k) {
        const size_t i = rows[k];
        if (column.IsNull(i)) continue;
        const std::string& s = column.StringAt(i);
        std::memcpy(out, s.data(), s.size());
        out += s.size();
      }
      break;
    }
  }
}

void AppendColumnToBatch(const Column& column, const TableRows& rows,
                         absl::FunctionRef<int64_t(int64_t)> f, v1::ColumnValues* values) {
  if (rows.n == 0) return;
  const size_t first = static_cast<size_t>(values->int64s_size());
  int64_t* out = AddSlots(values->mutable_int64s(), rows.n);
  for (size_t k = 0; k < rows.n; ++k) {
    const size_t i = rows[k];
    out[k] = column.IsNull(i) ? 0 : f(column.ints[i]);
  }
  MarkNulls(column, rows, first, out, values);
}

absl::Status ValidateBatch(const ResultColumns& columns, const v1::ColumnBatch& batch) {
  if (batch.columns_size() != columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat("column batch has ", batch.columns_size(),
                                                   " columns, the result ", columns.size()));
  }
  const size_t n = batch.row_count();
  for (int c = 0; c < columns.size(); ++c) {
    const v1::ColumnValues& values = batch.columns(c);
    const std::string& name = columns[c].name();
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("column batch, column ", name, ": ", what));
    };
    if (!values.nulls().empty()) {
      if (values.nulls().size() != (n + 7) / 8) {
        return bad(
            absl::StrCat("nulls bitmap of ", values.nulls().size(), " bytes for ", n, " rows"));
      }
      if (n % 8 != 0 && (static_cast<unsigned char>(values.nulls().back()) >> (n % 8)) != 0) {
        return bad("nulls bitmap has bits past the last row");
      }
    }
    const Slot slot = SlotOf(columns[c].type());
    const size_t ints = static_cast<size_t>(values.int64s_size());
    const size_t doubles = static_cast<size_t>(values.doubles_size());
    const size_t strings = static_cast<size_t>(values.string_ends_size());
    const size_t expected[] = {slot == Slot::kInt ? n : 0, slot == Slot::kDouble ? n : 0,
                               slot == Slot::kString ? n : 0};
    if (ints != expected[0] || doubles != expected[1] || strings != expected[2]) {
      return bad(absl::StrCat("expected ", n, " values of its type, got ", ints, " int64s, ",
                              doubles, " doubles, ", strings, " strings"));
    }
    if (slot != Slot::kString && !values.string_data().empty()) {
      return bad(absl::StrCat(values.string_data().size(), " bytes of string data"));
    }
    if (slot == Slot::kString) {
      if (absl::Status ok = ValidateStrings(values); !ok.ok())
        return bad(std::string(ok.message()));
    }
    if (columns[c].type() == storage::v1::COLUMN_TYPE_BOOL) {
      for (int64_t v : values.int64s()) {
        if (v != 0 && v != 1) return bad(absl::StrCat("BOOL value ", v));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status AppendBatchRows(const ResultColumns& columns, const v1::ColumnBatch& batch,
                             Rows* rows) {
  if (absl::Status valid = ValidateBatch(columns, batch); !valid.ok()) return valid;
  rows->Reserve(rows->size() + static_cast<int>(batch.row_count()));
  for (size_t i = 0; i < batch.row_count(); ++i) {
    v1::Row* row = rows->Add();
    row->mutable_values()->Reserve(columns.size());
    for (int c = 0; c < columns.size(); ++c) {
      SetValue(columns[c].type(), batch.columns(c), i, row->add_values());
    }
  }
  return absl::OkStatus();
}

void MarkNull(size_t row, v1::ColumnValues* values) {
  std::string* nulls = values->mutable_nulls();
  if (nulls->size() <= row / 8) nulls->resize(row / 8 + 1, '\0');
  (*nulls)[row / 8] = static_cast<char>((*nulls)[row / 8] | (1 << (row % 8)));
}

void SealBatch(uint32_t rows, v1::ColumnBatch* batch) {
  batch->set_row_count(rows);
  for (v1::ColumnValues& values : *batch->mutable_columns()) {
    if (!values.nulls().empty()) values.mutable_nulls()->resize((rows + 7) / 8, '\0');
  }
}

void AppendRowsToBatch(const ResultColumns& columns, const Rows& rows, int begin, int end,
                       v1::ColumnBatch* batch) {
  while (batch->columns_size() < columns.size()) batch->add_columns();
  const size_t first = batch->row_count();
  for (int c = 0; c < columns.size(); ++c) {
    v1::ColumnValues* values = batch->mutable_columns(c);
    const Slot slot = SlotOf(columns[c].type());
    for (int r = begin; r < end; ++r) {
      const v1::Value& v = rows[r].values(c);
      if (v.kind_case() == v1::Value::kNullValue) {
        MarkNull(first + static_cast<size_t>(r - begin), values);
      }
      switch (slot) {
        case Slot::kDouble:
          values->add_doubles(v.double_value());
          break;
        case Slot::kString:
          values->mutable_string_data()->append(v.string_value());
          values->add_string_ends(static_cast<uint32_t>(values->string_data().size()));
          break;
        case Slot::kInt:
          switch (v.kind_case()) {
            case v1::Value::kBoolValue:
              values->add_int64s(v.bool_value() ? 1 : 0);
              break;
            case v1::Value::kDateDays:
              values->add_int64s(v.date_days());
              break;
            case v1::Value::kTimestampMicros:
              values->add_int64s(v.timestamp_micros());
              break;
            default:
              values->add_int64s(v.int64_value());
              break;
          }
          break;
      }
    }
  }
  SealBatch(static_cast<uint32_t>(first + static_cast<size_t>(end - begin)), batch);
}

size_t BatchBytes(const v1::ColumnBatch& batch) {
  size_t bytes = 0;
  for (const v1::ColumnValues& values : batch.columns()) {
    bytes += values.nulls().size() + 8 * static_cast<size_t>(values.int64s_size()) +
             8 * static_cast<size_t>(values.doubles_size());
    bytes += values.string_data().size() + 8 * static_cast<size_t>(values.string_ends_size());
  }
  return bytes;
}

}  // namespace fednode::query
