// Character-set handling for node/ingest: decoding source bytes to UTF-8 NFC,
// NFC normalisation of single strings and ASCII identifiers from German text.
// All conversion is done by ICU.
//
// Layer: node/ingest (internal); called by the CSV and JSON importers.
// Thread-safety: the functions are pure and safe for concurrent use.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fednode::ingest {

// Source text after decoding: either the caller's bytes (already UTF-8 NFC:
// no copy) or a converted copy in `storage`.
struct DecodedText {
  // The decoded text (valid while this object and the input bytes live).
  absl::string_view text() const { return owned ? absl::string_view(storage) : borrowed; }

  std::string storage;         // used when `owned`
  absl::string_view borrowed;  // used when !`owned`: points into the input
  bool owned = false;
  // The encoding that was used: "utf-8", "iso-8859-1" or "windows-1252".
  std::string encoding;
  // True when a UTF-8 byte order mark was removed.
  bool had_bom = false;
};

// Decodes `bytes` (untrusted) to UTF-8 in Unicode NFC. `encoding` is "auto" or
// empty (valid UTF-8, with or without BOM, else Windows-1252), "utf-8",
// "iso-8859-1" or "windows-1252" (case-insensitive; "latin1"/"cp1252" too).
// Line structure is preserved (the decoders map '\n' and '\r' to themselves).
// `source_name` (the file name) prefixes the error messages.
// Errors: InvalidArgument for an unknown encoding; for bytes that are not
// valid UTF-8 when "utf-8" was requested ("wahl.csv:3: bytes are not valid
// UTF-8 (byte 0xDF at column 5)", the column counted in characters); and, for
// "auto", for a file that holds both valid UTF-8 multibyte sequences and
// bytes that are not UTF-8 (mixed encodings: no single decoding is right).
// REQUIRES: `bytes` outlives the result (its `text` may point into it).
absl::StatusOr<DecodedText> DecodeToUtf8Nfc(absl::string_view bytes, absl::string_view encoding,
                                            absl::string_view source_name);

// True when every byte is < 0x80.
bool IsAscii(absl::string_view s);

// True when `s` (UTF-8) is valid UTF-8.
bool IsValidUtf8(absl::string_view s);

// Byte offset (0-based) of the first byte that starts no valid UTF-8
// sequence (RFC 3629: no overlong forms, surrogates or code points above
// U+10FFFF), or absl::string_view::npos when all of `s` is valid.
size_t FirstInvalidUtf8(absl::string_view s);

// OK when `text`, the bytes of a file that must be UTF-8 (a textproto:
// node config, import recipe, catalog metadata), is valid UTF-8. Else
// InvalidArgument "<source_name>:<line>: bytes are not valid UTF-8 (byte 0xDF
// at column 12); save the file as UTF-8" (line and column 1-based, the column
// counted in characters). Protobuf's text parser takes such bytes into string
// fields, which no message holding them can be read back from.
absl::Status RequireUtf8(absl::string_view text, absl::string_view source_name);

// `s` (valid UTF-8) in NFC; returns it unchanged when it already is.
std::string NormalizeNfc(absl::string_view s);

// A column name in lower snake case ASCII from a header text: ä->ae, ö->oe,
// ü->ue, ß->ss, other letters transliterated to ASCII by ICU (é->e), any run
// of other characters -> "_", trimmed; prefixed with "c_" when it starts with
// a digit; empty when nothing is left. Shape: [a-z_][a-z0-9_]* or "".
std::string NormalizeColumnName(absl::string_view header_text);

}  // namespace fednode::ingest
