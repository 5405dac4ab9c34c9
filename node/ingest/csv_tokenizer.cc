#include "node/ingest/csv_tokenizer.h"

#include <csv.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace fednode::ingest {
namespace {

// libcsv's parser state for "inside a field" (libcsv.c: FIELD_BEGUN).
constexpr int kLibcsvFieldBegun = 2;

struct TokenizerState {
  explicit TokenizerState(absl::FunctionRef<bool(const CsvRecord&)> s) : sink(s) {}

  absl::FunctionRef<bool(const CsvRecord&)> sink;
  std::string arena;         // field bytes of the current record
  std::vector<size_t> ends;  // end offset of each field in `arena`
  CsvRecord record;
  int64_t line = 1;             // physical line of the next unread byte
  bool pending_cr = false;      // a record ended with CR; LF may follow
  bool count_newlines = false;  // the text holds quotes, fields may span lines
  bool stopped = false;
};

void OnField(void* data, size_t len, void* ctx) {
  auto* st = static_cast<TokenizerState*>(ctx);
  if (st->stopped) return;
  if (st->pending_cr) {  // the CR was a line end of its own (old Mac style)
    ++st->line;
    st->pending_cr = false;
  }
  if (st->ends.empty()) st->record.line = st->line;
  const char* p = static_cast<const char*>(data);
  st->arena.append(p, len);
  st->ends.push_back(st->arena.size());
  if (st->count_newlines && len > 0) {
    st->line += std::count(p, p + len, '\n');
  }
}

void OnRecordEnd(int c, void* ctx) {
  auto* st = static_cast<TokenizerState*>(ctx);
  if (st->stopped) return;
  if (!st->ends.empty()) {
    st->record.fields.clear();
    size_t begin = 0;
    for (size_t end : st->ends) {
      st->record.fields.emplace_back(st->arena.data() + begin, end - begin);
      begin = end;
    }
    if (!st->sink(st->record)) st->stopped = true;
    st->arena.clear();
    st->ends.clear();
  }
  if (c == '\n') {
    ++st->line;
    st->pending_cr = false;
  } else if (c == '\r') {
    if (st->pending_cr) ++st->line;
    st->pending_cr = true;
  }
}

}  // namespace

absl::Status TokenizeCsv(absl::string_view text, char delimiter,
                         absl::FunctionRef<bool(const CsvRecord&)> sink, size_t chunk_bytes) {
  csv_parser parser;
  if (csv_init(&parser, CSV_REPALL_NL) != 0) {
    return absl::ResourceExhaustedError("csv parser: out of memory");
  }
  csv_set_delim(&parser, static_cast<unsigned char>(delimiter));
  TokenizerState st(sink);
  st.count_newlines = std::memchr(text.data(), '"', text.size()) != nullptr;
  st.arena.reserve(4096);
  size_t offset = 0;
  absl::Status status;
  while (offset < text.size() && !st.stopped) {
    size_t n = std::min(chunk_bytes, text.size() - offset);
    if (csv_parse(&parser, text.data() + offset, n, OnField, OnRecordEnd, &st) != n) {
      status = absl::ResourceExhaustedError(
          absl::StrCat("csv parser: ", csv_strerror(csv_error(&parser))));
      break;
    }
    offset += n;
  }
  if (status.ok() && !st.stopped) {
    if (parser.quoted != 0 && parser.pstate == kLibcsvFieldBegun) {
      status = absl::InvalidArgumentError(
          absl::StrCat("line ", st.ends.empty() ? st.line : st.record.line,
                       ": quoted field is not closed before the end of the file"));
      // Still let libcsv finish so that its buffer is released below.
      st.stopped = true;
    }
    csv_fini(&parser, OnField, OnRecordEnd, &st);
  }
  csv_free(&parser);
  return status;
}

}  // namespace fednode::ingest
