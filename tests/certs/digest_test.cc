// SHA-256 helpers: the FIPS 180-4 test vectors, and the parts form equal to
// hashing the concatenation.
#include "certs/digest.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fednode::certs {
namespace {

TEST(DigestTest, Sha256HexOfKnownInputs) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, PartsHashLikeTheirConcatenation) {
  EXPECT_EQ(Sha256HexOfParts({"ab", "c"}), Sha256Hex("abc"));
  EXPECT_EQ(Sha256HexOfParts({}), Sha256Hex(""));
  EXPECT_EQ(Sha256HexOfParts({"", "abc", ""}), Sha256Hex("abc"));
  // Longer than a 64-byte block, split inside a block.
  const std::string a(100, 'x');
  const std::string b(37, 'y');
  EXPECT_EQ(Sha256HexOfParts({a, b}), Sha256Hex(absl::StrCat(a, b)));
}

}  // namespace
}  // namespace fednode::certs
