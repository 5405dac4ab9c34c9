// Synthetic edge cases of the CSV import (dialect, charset, typing, errors).
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/ingest/importer.h"

namespace fednode::ingest {
namespace {

using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;

// A spec with `columns` given as "name:type" pairs (type as in ColumnTypeName).
v1::ImportSpec Spec(std::initializer_list<std::pair<const char*, const char*>> columns,
                    const char* delimiter = ",") {
  v1::ImportSpec spec;
  spec.set_dataset_id("t");
  spec.mutable_csv()->set_delimiter(delimiter);
  spec.mutable_csv()->set_header_line(1);
  for (const auto& [name, type] : columns) {
    v1::ColumnSpec* c = spec.add_columns();
    c->mutable_column()->set_name(name);
    c->mutable_column()->set_type(*ParseColumnTypeName(type));
    c->mutable_column()->set_nullable(true);
  }
  return spec;
}

Table ParseOk(absl::string_view csv, const v1::ImportSpec& spec) {
  absl::StatusOr<std::vector<ParsedDataset>> out = Parse(csv, SourceFormat::kCsv, spec, "t.csv");
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return Table();
  return std::move((*out)[0].table);
}

absl::Status ParseError(absl::string_view csv, const v1::ImportSpec& spec) {
  return Parse(csv, SourceFormat::kCsv, spec, "t.csv").status();
}

TEST(CsvImportTest, BomAndCrlfAreHandled) {
  Table t = ParseOk("\xEF\xBB\xBFid,name\r\n1,Lich\r\n2,Gießen\r\n",
                    Spec({{"id", "int64"}, {"name", "string"}}));
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[0].ints[1], 2);
  EXPECT_EQ(t.columns[1].StringAt(1), "Gießen");
}

TEST(CsvImportTest, QuotedNewlineKeepsLaterLineNumbersRight) {
  // Line 2 holds a field spanning lines 2-4; the bad cell is on line 5.
  const char* csv = "id,text\n1,\"a\nb\nc\"\n2,\"say \"\"hi\"\"\"\nx,z\n";
  v1::ImportSpec spec = Spec({{"id", "int64"}, {"text", "string"}});
  EXPECT_THAT(ParseError(csv, spec), StatusIs(absl::StatusCode::kInvalidArgument,
                                              "t.csv:6: column id: \"x\" is not an int64"));
  Table t = ParseOk("id,text\n1,\"a\nb\nc\"\n2,\"say \"\"hi\"\"\"\n", spec);
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[1].StringAt(0), "a\nb\nc");
  EXPECT_EQ(t.columns[1].StringAt(1), "say \"hi\"");
}

TEST(CsvImportTest, QuotedCrlfNewlinesCountOnce) {
  const char* csv = "id,text\r\n1,\"a\r\nb\"\r\n\r\nbad,z\r\n";
  EXPECT_THAT(ParseError(csv, Spec({{"id", "int64"}, {"text", "string"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.csv:5: column id")));
}

TEST(CsvImportTest, BadCellNamesFileLineColumnAndValue) {
  EXPECT_THAT(
      ParseError("a;d\n1;2\n3;1.2x\n", Spec({{"a", "int64"}, {"d", "int64"}}, ";")),
      StatusIs(absl::StatusCode::kInvalidArgument, "t.csv:3: column d: \"1.2x\" is not an int64"));
}

TEST(CsvImportTest, AHeaderReadAsOneFieldHintsAtTheDelimiter) {
  EXPECT_THAT(ParseError("id;name\n1;Lich\n", Spec({{"id", "int64"}, {"name", "string"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:1: column id: source field \"id\" is not in the header; the header "
                       "is one field holding ';': is that the delimiter? (csv.delimiter in the "
                       "recipe, or fedctl import --delimiter)"));
  // A header of several fields that lacks the column gets no such hint.
  EXPECT_THAT(ParseError("nr,name\n1,Lich\n", Spec({{"id", "int64"}, {"name", "string"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:1: column id: source field \"id\" is not in the header"));
}

TEST(CsvImportTest, DuplicatePrimaryKeyNamesBothLines) {
  v1::ImportSpec spec = Spec({{"id", "int64"}, {"v", "string"}});
  spec.add_primary_key("id");
  EXPECT_THAT(ParseError("id,v\n1,a\n2,b\n\n1,c\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate primary key (id=1) on lines 2 and 5")));
}

TEST(CsvImportTest, NullPlaceholdersAndNonNullableColumns) {
  v1::ImportSpec spec = Spec({{"k", "string"}, {"n", "int64"}});
  for (const char* p : {"-", ".", "x", "..."}) spec.mutable_columns(1)->add_null_values(p);
  Table t = ParseOk("k,n\na,-\nb,.\nc,x\nd,...\ne,\nf,7\n", spec);
  ASSERT_EQ(t.num_rows, 6u);
  for (int r = 0; r < 5; ++r) EXPECT_TRUE(t.columns[1].IsNull(r)) << r;
  EXPECT_EQ(t.columns[1].ints[5], 7);
  spec.mutable_columns(1)->mutable_column()->set_nullable(false);
  EXPECT_THAT(ParseError("k,n\na,1\nb,-\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:3: column n: NULL in non-nullable column"));
}

TEST(CsvImportTest, Windows1252AndLatin1BecomeUtf8) {
  v1::ImportSpec spec = Spec({{"name", "string"}, {"price", "string"}}, ";");
  spec.mutable_csv()->set_encoding("windows-1252");
  Table t = ParseOk(
      "name;price\nM\xFCller Stra\xDF"
      "e;5 \x80\n",
      spec);
  EXPECT_EQ(t.columns[0].StringAt(0), "Müller Straße");
  EXPECT_EQ(t.columns[1].StringAt(0), "5 €");
  spec.mutable_csv()->set_encoding("iso-8859-1");
  t = ParseOk("name;price\nG\xF6\xDF\x65;1\n", spec);
  EXPECT_EQ(t.columns[0].StringAt(0), "Göße");
  // auto: not valid UTF-8, so read as Windows-1252.
  spec.mutable_csv()->set_encoding("");
  t = ParseOk("name;price\n\xC4rger;\x80\n", spec);
  EXPECT_EQ(t.columns[0].StringAt(0), "Ärger");
  EXPECT_EQ(t.columns[1].StringAt(0), "€");
}

TEST(CsvImportTest, DecomposedUtf8IsNormalisedToNfc) {
  // "Gießen" with u + U+0308 combining diaeresis in "Müller".
  Table t = ParseOk("name\nMu\xCC\x88ller\n", Spec({{"name", "string"}}));
  EXPECT_EQ(t.columns[0].StringAt(0), "M\xC3\xBCller");
}

TEST(CsvImportTest, ThousandsSeparatorsAndDecimalComma) {
  v1::ImportSpec spec =
      Spec({{"a", "int64"}, {"b", "int64"}, {"c", "double"}, {"d", "double"}}, ";");
  spec.mutable_columns(0)->add_thousands_separators(".");
  spec.mutable_columns(1)->add_thousands_separators(" ");
  spec.mutable_columns(1)->add_thousands_separators("\xC2\xA0");
  spec.mutable_columns(2)->set_decimal_separator(",");
  spec.mutable_columns(2)->add_thousands_separators(".");
  Table t = ParseOk(
      "a;b;c;d\n1.132; 90 164;1.234,5;72.55\n-2;1\xC2\xA0"
      "000\xC2\xA0"
      "000;0,25;-1e3\n",
      spec);
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[0].ints[0], 1132);
  EXPECT_EQ(t.columns[1].ints[0], 90164);
  EXPECT_DOUBLE_EQ(t.columns[2].doubles[0], 1234.5);
  EXPECT_DOUBLE_EQ(t.columns[3].doubles[0], 72.55);
  EXPECT_EQ(t.columns[0].ints[1], -2);
  EXPECT_EQ(t.columns[1].ints[1], 1000000);
  EXPECT_DOUBLE_EQ(t.columns[2].doubles[1], 0.25);
  EXPECT_DOUBLE_EQ(t.columns[3].doubles[1], -1000);
  // Bad grouping is an error, not a silently different number.
  EXPECT_THAT(ParseError("a;b;c;d\n12.34;1;1;1\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column a: \"12.34\"")));
}

TEST(CsvImportTest, Int64OverflowIsRejected) {
  v1::ImportSpec spec = Spec({{"n", "int64"}});
  Table t = ParseOk("n\n9223372036854775807\n-9223372036854775808\n", spec);
  EXPECT_EQ(t.columns[0].ints[0], INT64_MAX);
  EXPECT_EQ(t.columns[0].ints[1], INT64_MIN);
  EXPECT_THAT(ParseError("n\n9223372036854775808\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is out of range for int64")));
}

TEST(CsvImportTest, GermanAndIsoDatesAndTimestamps) {
  v1::ImportSpec spec = Spec({{"d", "date"}, {"t", "timestamp"}});
  Table t = ParseOk("d,t\n31.12.2023,2023-10-24T19:50:00\n2024-02-29,24.10.2023 19:50\n", spec);
  EXPECT_EQ(FormatDate(t.columns[0].ints[0]), "2023-12-31");
  EXPECT_EQ(FormatDate(t.columns[0].ints[1]), "2024-02-29");
  EXPECT_EQ(FormatTimestamp(t.columns[1].ints[0]), "2023-10-24T19:50:00");
  EXPECT_EQ(FormatTimestamp(t.columns[1].ints[1]), "2023-10-24T19:50:00");
  EXPECT_THAT(ParseError("d,t\n31.02.2023,2023-01-01T00:00:00\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:2: column d: \"31.02.2023\" is not a valid date"));
  EXPECT_THAT(ParseError("d,t\n01.01.2023,2023-01-01T24:00:00\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column t")));
}

TEST(CsvImportTest, UtcInstantReadsAsLocalDateWithTimeZone) {
  v1::ImportSpec spec = Spec({{"d", "date"}, {"t", "timestamp"}});
  Table t = ParseOk("d,t\n2015-04-26,2015-04-26T22:00:00.000Z\n", spec);
  EXPECT_EQ(FormatTimestamp(t.columns[1].ints[0]), "2015-04-26T22:00:00");  // UTC
  spec.mutable_columns(0)->set_time_zone("Europe/Berlin");
  spec.mutable_columns(1)->set_time_zone("Europe/Berlin");
  t = ParseOk("d,t\n2015-04-26T22:00:00.000Z,2015-04-26T22:00:00.000Z\n", spec);
  EXPECT_EQ(FormatDate(t.columns[0].ints[0]), "2015-04-27");
  EXPECT_EQ(FormatTimestamp(t.columns[1].ints[0]), "2015-04-27T00:00:00");
}

TEST(CsvImportTest, EmptyAndSeparatorOnlyLinesAreSkipped) {
  Table t =
      ParseOk(";;\na;b;c\n\n1;2;3\n;;\n   \n4;5;6", Spec({{"a", "int64"}, {"c", "int64"}}, ";"));
  // Header on line 1 is separator-only, so the first non-empty record is it.
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[1].ints[1], 6);  // last row without a final newline
}

TEST(CsvImportTest, HeaderTitleLinesFooterAndTotalRow) {
  v1::ImportSpec spec = Spec({{"nr", "int64"}, {"n", "int64"}}, ";");
  spec.mutable_csv()->set_header_line(3);
  spec.mutable_csv()->set_skip_after_header(1);
  spec.mutable_csv()->add_skip_rows_where_first_field("Gesamt");
  spec.mutable_csv()->set_footer_marker("__________");
  spec.mutable_columns(0)->set_source_name("Nr");
  spec.mutable_columns(1)->set_source_name("Anzahl");
  Table t = ParseOk(
      "Titel\nUntertitel;;\nNr;Anzahl;\n;Stück;\n1;10;\n2;20;\nGesamt;30;\n"
      "__________\nQuelle: x;y\n",
      spec);
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[1].ints[1], 20);
}

TEST(CsvImportTest, ShortLinesAreAnErrorUnlessAfterTheFooterMarker) {
  v1::ImportSpec spec = Spec({{"a", "int64"}, {"b", "int64"}}, ";");
  EXPECT_THAT(ParseError("a;b\n1;2\n3;4\n(c) Amt\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.csv:4: 1 field, expected 2 as in the header")));
  EXPECT_THAT(ParseError("a;b\n1;2\nhm\n3;4\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.csv:3: 1 field,")));
  spec.mutable_csv()->set_footer_marker("(c)");
  EXPECT_EQ(ParseOk("a;b\n1;2\n3;4\n(c) Amt\nStand: 2021\n", spec).num_rows, 2u);
  // Before the marker a short line is still an error.
  EXPECT_THAT(ParseError("a;b\n1;2\n3\n(c) Amt\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.csv:3: 1 field,")));
}

TEST(CsvImportTest, TruncatedLastRowIsAnError) {
  // An interrupted download: the last row stops in the middle.
  v1::ImportSpec spec =
      Spec({{"ags", "string"}, {"name", "string"}, {"n", "int64"}, {"betrag", "string"}}, ";");
  const char* head = "ags;name;n;betrag;datum\n06531005;A;1;1,5;31.12.2023\n";
  EXPECT_THAT(ParseError(absl::StrCat(head, "06531002;C;3;1,"), spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.csv:3: 4 fields, expected 5 as in the header")));
  // Several short rows at the end (the reviewer's second file).
  EXPECT_THAT(ParseError(absl::StrCat(head, "06531003;D;4\n06531004;E;5\n06531006;F\n"), spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.csv:3: 3 fields, expected 5 as in the header")));
  // Empty and separator-only lines are not rows.
  EXPECT_EQ(ParseOk(absl::StrCat(head, "\n;;;;\n;;\n  \n"), spec).num_rows, 1u);
  // Unnamed trailing header fields (a trailing delimiter) may be missing.
  EXPECT_EQ(ParseOk("a;b;\n1;2;\n3;4\n", Spec({{"a", "int64"}, {"b", "int64"}}, ";")).num_rows, 2u);
}

TEST(CsvImportTest, SourceIndexPastTheHeaderIsAnError) {
  v1::ImportSpec spec =
      Spec({{"a", "string"}, {"b", "string"}, {"c", "string"}, {"max_spaces", "int64"}}, ";");
  const char* csv = "a;b;c;d;e\n1;2;3;4;5\n6;7;8;9;10\n";
  for (int index : {99, 6}) {
    spec.mutable_columns(3)->set_source_index(index);
    EXPECT_THAT(ParseError(csv, spec),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("t.csv:1: columns[3] (max_spaces): source_index ", index,
                                      ", but the header has 5 fields")));
  }
  spec.mutable_columns(3)->set_source_index(5);
  Table t = ParseOk(csv, spec);
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[3].ints[1], 10);
  // A source_name that the header lacks is an error too.
  spec.mutable_columns(3)->set_source_index(0);
  spec.mutable_columns(3)->set_source_name("Stellplaetze");
  EXPECT_THAT(ParseError(csv, spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("column max_spaces: source field \"Stellplaetze\" is not in")));
}

TEST(CsvImportTest, InferProposesTheFooterMarkerButNotForACutOffRow) {
  const char* csv = "ags;n\n06531005;1\n06531001;2\n(c) Amt\nStand: 2021\n";
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, Infer(csv, SourceFormat::kCsv, "t", "t.csv"));
  EXPECT_EQ(spec.csv().footer_marker(), "(c) Amt");
  EXPECT_EQ(ParseOk(csv, spec).num_rows, 2u);
  // A data row cut after its first field is no footer: the import fails.
  const char* cut = "ags;n\n06531005;1\n06531001;2\n06531002\n";
  FEDNODE_ASSERT_OK_AND_ASSIGN(spec, Infer(cut, SourceFormat::kCsv, "t", "t.csv"));
  EXPECT_EQ(spec.csv().footer_marker(), "");
  EXPECT_THAT(ParseError(cut, spec), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("t.csv:4: 1 field, expected 2")));
}

TEST(CsvImportTest, MixedEncodingsAreRefusedWithAuto) {
  v1::ImportSpec spec = Spec({{"ags", "string"}, {"name", "string"}}, ";");
  const std::string csv =
      "ags;name\n06531005;Gie\xC3\x9F"
      "en\n06531001;Gie\xDF"
      "en\n";
  spec.mutable_csv()->set_encoding("auto");
  EXPECT_THAT(ParseError(csv, spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv: mixed encodings: line 2 is UTF-8 (\"Gießen\"), line 3 is not "
                       "valid UTF-8; convert the file or set csv.encoding"));
  EXPECT_THAT(Infer(csv, SourceFormat::kCsv, "t", "t.csv").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mixed encodings")));
  // A UTF-8 byte order mark before Windows-1252 bytes is mixed too.
  EXPECT_THAT(ParseError("\xEF\xBB\xBF"
                         "ags;name\n1;Gie\xDF"
                         "en\n",
                         spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.csv: mixed encodings: the file starts with a UTF-8 byte "
                                 "order mark, line 2 is not valid UTF-8")));
  // Only single high bytes: Windows-1252 as before.
  Table t = ParseOk(
      "ags;name\n06531005;Gie\xDF"
      "en\n06531001;L\xFC"
      "ch\n",
      spec);
  EXPECT_EQ(t.columns[1].StringAt(0), "Gießen");
  // Explicit UTF-8: the file, line and byte.
  spec.mutable_csv()->set_encoding("utf-8");
  EXPECT_THAT(ParseError(csv, spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:3: bytes are not valid UTF-8 (byte 0xDF at column 13)"));
  EXPECT_THAT(ParseError("ags;name\nÄ;Gie\xDF"
                         "en\n",
                         spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:2: bytes are not valid UTF-8 (byte 0xDF at column 6)"));
}

TEST(CsvImportTest, ByteOrderMarkInsideTheDataIsRefused) {
  v1::ImportSpec spec = Spec({{"ags", "string"}, {"name", "string"}}, ";");
  EXPECT_THAT(ParseError("\xEF\xBB\xBF"
                         "ags;name\n06531005;Giessen\n\xEF\xBB\xBF"
                         "06531001;X\n",
                         spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t.csv:3: column ags: U+FEFF (byte order mark) inside the data \u2014 was "
                       "the file concatenated from several exports?"));
  // A second export's header in the middle, in a field no column reads.
  EXPECT_THAT(ParseError("ags;name;x\n1;a;b\n2;b;\xEF\xBB\xBFx\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.csv:3: field 3 (\"x\"): U+FEFF (byte order mark)")));
  // At the very start it is removed.
  EXPECT_EQ(ParseOk("\xEF\xBB\xBF"
                    "ags;name\n1;a\n",
                    spec)
                .columns[0]
                .StringAt(0),
            "1");
}

TEST(CsvImportTest, NulBytesAreRefused) {
  v1::ImportSpec spec = Spec({{"ags", "string"}, {"name", "string"}}, ";");
  EXPECT_THAT(ParseError(std::string("ags;name\n06531005;X\0Y\n", 22), spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.csv:2: column name: NUL byte inside the value")));
  // In a quoted multi-line cell: the physical line of the byte.
  EXPECT_THAT(ParseError(std::string("ags;name\n1;\"a\nb\0\"\n", 18), spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.csv:3: column name: NUL")));
}

TEST(CsvImportTest, BadCellInAMultiLineRecordNamesItsPhysicalLine) {
  v1::ImportSpec spec = Spec({{"id", "int64"}, {"text", "string"}, {"n", "int64"}});
  // The record starts on line 2; the bad cell "x" is on line 4.
  EXPECT_THAT(
      ParseError("id,text,n\n1,\"a\nb\nc\",x\n", spec),
      StatusIs(absl::StatusCode::kInvalidArgument, "t.csv:4: column n: \"x\" is not an int64"));
  EXPECT_THAT(ParseError("id,text,n\ny,\"a\nb\",1\n", spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.csv:2: column id")));
}

TEST(CsvImportTest, QuoteAsDelimiterHasItsOwnMessage) {
  EXPECT_THAT(ParseError("a\n1\n", Spec({{"a", "int64"}}, "\"")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "csv.delimiter: the quote character \" cannot be the delimiter"));
}

TEST(CsvImportTest, InferShortensLongColumnNames) {
  const std::string long_a(80, 'a');
  const std::string csv = absl::StrCat(long_a, "x;", long_a, "y;", long_a, "z\n1;2;3\n4;5;6\n");
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, Infer(csv, SourceFormat::kCsv, "t", "t.csv"));
  ASSERT_EQ(spec.columns_size(), 3);
  EXPECT_EQ(spec.columns(0).column().name(), std::string(63, 'a'));
  EXPECT_EQ(spec.columns(1).column().name(), absl::StrCat(std::string(61, 'a'), "_2"));
  EXPECT_EQ(spec.columns(2).column().name(), absl::StrCat(std::string(61, 'a'), "_3"));
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec again, ParseSpecTextproto(SpecToTextproto(spec)));
  Table t = ParseOk(csv, again);
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[2].ints[1], 6);
}

TEST(CsvImportTest, MissingSourceColumnIsAnError) {
  EXPECT_THAT(ParseError("a,b\n1,2\n", Spec({{"c", "int64"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column c")));
}

TEST(CsvImportTest, AmbiguousDelimiterAsksForDelimiter) {
  v1::ImportSpec spec = Spec({{"a", "string"}}, "");
  EXPECT_THAT(
      ParseError("a;b,c\n1;2,3\n4;5,6\n", spec),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("ambiguous delimiter"), HasSubstr("--delimiter"))));
  EXPECT_THAT(Infer("a;b,c\n1;2,3\n", SourceFormat::kCsv, "t", "t.csv").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--delimiter")));
  // With the delimiter given it works.
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec inferred,
                               Infer("a;b,c\n1;2,3\n", SourceFormat::kCsv, "t", "t.csv", ";"));
  EXPECT_EQ(inferred.columns_size(), 2);
}

TEST(CsvImportTest, DelimitersAreDetectedWhenUnambiguous) {
  for (const char* d : {";", ",", "\t"}) {
    std::string csv = absl::StrCat("id", d, "name\n1", d, "Lich\n2", d, "Hungen, Stadt\n");
    if (std::string(d) == ",") csv = "id,name\n1,Lich\n2,\"Hungen, Stadt\"\n";
    v1::ImportSpec spec = Spec({{"id", "int64"}, {"name", "string"}}, "");
    Table t = ParseOk(csv, spec);
    ASSERT_EQ(t.num_rows, 2u) << d;
    EXPECT_EQ(t.columns[1].StringAt(1), "Hungen, Stadt") << d;
  }
}

TEST(CsvImportTest, UnclosedQuoteIsAnError) {
  EXPECT_THAT(ParseError("a,b\n1,\"open\n2,3\n", Spec({{"a", "int64"}, {"b", "string"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not closed")));
}

TEST(CsvImportTest, InferKeepsLeadingZeroIdentifiersAsStrings) {
  const char* csv =
      "AGS;Gemeinde;Einwohner;Fläche km²;PLZ;Stichtag;Anteil;B;B\n"
      "06531005;Gießen;89.802;72,55;35390;31.12.2019;-;1;2\n"
      "06531011;Lich;13.795;77,61;01067;31.12.2019;0,5;3;4\n";
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec,
                               Infer(csv, SourceFormat::kCsv, "gemeinden", "g.csv"));
  ASSERT_EQ(spec.columns_size(), 9);
  auto type = [&](int i) { return spec.columns(i).column().type(); };
  EXPECT_EQ(spec.columns(0).column().name(), "ags");
  EXPECT_EQ(type(0), storage::v1::COLUMN_TYPE_STRING);
  EXPECT_EQ(type(2), storage::v1::COLUMN_TYPE_INT64);
  EXPECT_THAT(spec.columns(2).thousands_separators(), ::testing::ElementsAre("."));
  EXPECT_EQ(spec.columns(3).column().name(), "flaeche_km");
  EXPECT_EQ(type(3), storage::v1::COLUMN_TYPE_DOUBLE);
  EXPECT_EQ(spec.columns(3).decimal_separator(), ",");
  EXPECT_EQ(type(4), storage::v1::COLUMN_TYPE_STRING);  // 01067
  EXPECT_EQ(type(5), storage::v1::COLUMN_TYPE_DATE);
  EXPECT_EQ(type(6), storage::v1::COLUMN_TYPE_DOUBLE);
  EXPECT_THAT(spec.columns(6).null_values(), ::testing::ElementsAre("-"));
  EXPECT_EQ(spec.columns(7).column().name(), "b");
  EXPECT_EQ(spec.columns(8).column().name(), "b_2");
  EXPECT_EQ(spec.columns(8).source_index(), 9);
  // The inferred spec round-trips through text and parses the file.
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec again, ParseSpecTextproto(SpecToTextproto(spec)));
  Table t = ParseOk(csv, again);
  ASSERT_EQ(t.num_rows, 2u);
  EXPECT_EQ(t.columns[0].StringAt(0), "06531005");
  EXPECT_EQ(t.columns[2].ints[0], 89802);
  EXPECT_EQ(t.columns[4].StringAt(1), "01067");
}

}  // namespace
}  // namespace fednode::ingest
